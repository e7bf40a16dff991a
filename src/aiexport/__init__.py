"""aiexport: US export controls on AI chips, as versioned, cited data."""

from aiexport.classification import Classification, Reason, classify

__all__ = ["Classification", "Reason", "classify"]
__version__ = "0.1.0"

"""aiexport: US export controls on AI chips, as versioned, cited data."""

from aiexport.classification import Classification, Reason, classify
from aiexport.licensing import check

__all__ = ["Classification", "Reason", "check", "classify"]
__version__ = "0.1.0"

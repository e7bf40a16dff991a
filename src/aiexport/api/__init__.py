"""The REST service (issue #7): FastAPI app, API keys and roles, audit recording, batch jobs.

`create_app()` builds it; `aiexport serve` runs it with uvicorn. The web UI is `aiexport.web`."""

from aiexport.api.app import create_app

__all__ = ["create_app"]

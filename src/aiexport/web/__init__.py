"""The web UI (issue #7): server-rendered pages over the same engine and audit record as the API."""

"""Errors that reach the user as one line, never as a traceback."""

from __future__ import annotations


class AiexportError(Exception):
    """Base of every error aiexport reports to a user."""

    exit_code = 2


class InputError(AiexportError):
    """Bad input: the message names the file, the row and the field, and says how to fix it."""

    def __init__(self, message: str, field: str | None = None, row: int | None = None):
        super().__init__(message)
        self.field = field
        self.row = row


class RulebookError(AiexportError):
    """The rule files themselves are inconsistent (a bug in the data, not in the user's input)."""

    exit_code = 3


def read_input(path: object, what: str, *, field: str | None = None, binary: bool = False) -> bytes:
    """The bytes of an input file, or one line saying why not: not found, unreadable, empty, or
    binary data where text belongs (unless `binary`). `what` completes "give the path of …"."""
    import re
    from pathlib import Path

    p = Path(str(path))
    source = str(path)
    if not p.is_file():
        raise InputError(f"{source}: file not found; give the path of {what}", field=field)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise InputError(f"{source}: cannot be read ({exc.strerror}); check its permissions", field=field) from None
    if not re.search(rb"\S", raw):
        raise InputError(f"{source}: the file is empty; give {what} with at least one row")
    if not binary and b"\x00" in raw:
        raise InputError(f"{source}: binary data, not a text file; give {what}")
    return raw

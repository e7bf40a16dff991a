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

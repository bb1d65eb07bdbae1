"""segbench's error types.

Every error a user can cause is a :class:`SegbenchError` whose message is one line that says what was
expected, what was found, and what to do next. The CLI prints that line and exits with code 2
(bad input or usage); it never shows a traceback for these.
"""

from __future__ import annotations


class SegbenchError(Exception):
    """Base of all user-facing errors (exit code 2).

    Parameters
    ----------
    message : str
        One line: what was expected, what was found, the next action.
    path : str, optional
        The file the problem is in; prefixed to the message when given.
    """

    exit_code = 2

    def __init__(self, message: str, path: str | None = None):
        self.path = None if path is None else str(path)
        self.message = message
        super().__init__(f"{self.path}: {message}" if self.path else message)


class BadInputError(SegbenchError):
    """A file or value does not have the expected form (wrong shape, values, format...)."""


class UsageError(SegbenchError):
    """The command line or API call is wrong (unknown name, missing option...)."""


class NotFoundError(SegbenchError):
    """A dataset root, file or registry name does not exist."""


class GateFailed(SegbenchError):
    """A ``--fail-under`` or ``compare --max-drop`` gate was crossed (exit code 1)."""

    exit_code = 1

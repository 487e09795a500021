"""The one kind of error a user can fix: bad input, missing or damaged files, an experiment
in use. Every such error of the project derives from :class:`UserError`; the CLI prints
its message as one paragraph and exits with code 2, never a traceback."""
from __future__ import annotations


class UserError(Exception):
    """Input or state the user can fix; the message says what and how."""

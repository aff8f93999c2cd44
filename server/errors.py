"""Errors every front door knows how to show."""

from __future__ import annotations


class UserError(Exception):
    """Something the user can fix; the CLI prints it as one line and the web shows it as a message."""

    cadence_user_error = True

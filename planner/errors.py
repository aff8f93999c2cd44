"""Errors the planner raises on bad input. Every message is one line: `FILE: where: what`."""

from __future__ import annotations


class InputError(Exception):
    def __init__(self, file: str, where: str, what: str):
        self.file, self.where, self.what = file, where, what
        super().__init__(f"{file}: {where}: {what}" if where else f"{file}: {what}")

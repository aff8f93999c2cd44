"""Reading a JSON column back: Piccolo returns JSON columns as text on some engines and as values on others."""

from __future__ import annotations

import json


def json_value(value, empty):
    """The column's value decoded; `empty` when it is NULL or blank."""
    if isinstance(value, str):
        value = json.loads(value) if value.strip() else None
    return empty if value is None else value

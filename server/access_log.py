"""Uvicorn's access log without secrets: a calendar-feed URL is a credential, so its token is masked."""

from __future__ import annotations

import copy
import logging
import re

_FEED_TOKEN = re.compile(r"(/feed/)[^/?\s.]+")


def redact(path: str) -> str:
    return _FEED_TOKEN.sub(r"\1<redacted>", path)


class RedactFeedTokens(logging.Filter):
    """Rewrites the path argument of uvicorn.access records ((client, method, path, version, status))."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) >= 3 and isinstance(record.args[2], str):
            args = list(record.args)
            args[2] = redact(args[2])
            record.args = tuple(args)
        return True


def uvicorn_log_config() -> dict:
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_feed_tokens"] = {"()": "server.access_log.RedactFeedTokens"}
    config["handlers"]["access"].setdefault("filters", []).append("redact_feed_tokens")
    return config

"""Piccolo's configuration: the engine comes from CADENCE_DATABASE_URL (default: SQLite file cadence.db)."""

import os

from piccolo.conf.apps import AppRegistry

from models.engine import engine_from_url
from server.settings import DEFAULT_DATABASE_URL

DB = engine_from_url(os.environ.get("CADENCE_DATABASE_URL") or DEFAULT_DATABASE_URL)

APP_REGISTRY = AppRegistry(apps=["models.piccolo_app"])

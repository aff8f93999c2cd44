"""Piccolo's configuration: the engine comes from CADENCE_DATABASE_URL (default: SQLite file cadence.db)."""

from piccolo.conf.apps import AppRegistry

from models.engine import database_url, engine_from_url

DB = engine_from_url(database_url())

APP_REGISTRY = AppRegistry(apps=["models.piccolo_app"])

"""Piccolo tables and migrations for Cadence (a Piccolo app: tables.py, piccolo_app.py, piccolo_migrations/)."""

"""Cadence's Litestar application, CLI and the glue between the database and the planner."""

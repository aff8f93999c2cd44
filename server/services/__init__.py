"""Cadence's domain operations, one module per room, under every front door (pages, feeds, the CLI).

Plain async functions over Piccolo that know no Litestar, no form and no template. Each operation that writes
runs in one transaction; the clock (`now`) and the settings they need are arguments.
"""

"""Solving processes (`cadence plan`, `cadence worker`, the bench) ask glibc for few malloc arenas
(server/solver_memory.py); test_cli runs `cadence plan` with it. The C library agrees here (Debian, glibc)."""

from __future__ import annotations

import platform

import pytest

from server.solver_memory import few_malloc_arenas


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt(M_ARENA_MAX) is glibc's")
def test_glibc_agrees_to_few_malloc_arenas():
    assert few_malloc_arenas() is True

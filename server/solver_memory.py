"""Memory of processes that solve (`cadence plan`, `cadence worker`): few malloc arenas.

The planner searches independent components in threads, and CP-SAT runs worker threads of its own; glibc
gives each new thread its own malloc arena (up to 8 per core) and keeps what is freed there, so a process's
peak memory grew with the threads rather than with the models: gen-023 of the bench (42 cohorts) peaked at
1.76 GiB, and 1.10 GiB with two arenas, the same plan. Setting this at the start of the process (before the
threads, and before Huey forks its workers, which inherit it) is what MALLOC_ARENA_MAX=2 in the environment
would do. Elsewhere than glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_ARENA_MAX = -8  # glibc's mallopt parameter number
ARENAS = 2


def few_malloc_arenas() -> bool:
    """Ask glibc for at most ARENAS malloc arenas in this process; True when it agreed."""
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        return bool(libc.mallopt(M_ARENA_MAX, ARENAS))
    except (OSError, AttributeError):  # not glibc (no mallopt), or no C library to load
        return False

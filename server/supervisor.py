"""`cadence run`: start the web server and a worker as child processes and stop them together.

Small on purpose (a Procfile runner such as honcho would add a file and a dependency for two lines): each
child gets its own process group, so Ctrl+C reaches only this supervisor, which stops each child once —
the web gracefully (SIGINT), the worker at once (SIGTERM: a run it was solving goes back to the queue when
its heartbeat goes stale, and the next worker finishes it). When either child exits, the other is stopped.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

STOP_SIGNALS = {"web": signal.SIGINT, "worker": signal.SIGTERM}
GRACE_SECONDS = 20


def supervise(commands: dict[str, list[str]]) -> int:
    children = {name: subprocess.Popen(command, process_group=0) for name, command in commands.items()}
    stopping = False

    def stop_all(*_ignored) -> None:
        nonlocal stopping
        if stopping:
            return
        stopping = True
        for name, child in children.items():
            if child.poll() is None:
                child.send_signal(STOP_SIGNALS.get(name, signal.SIGTERM))

    previous = {sig: signal.signal(sig, stop_all) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        first_code = None
        while first_code is None:  # until one child exits (or a signal asks us to stop them all)
            for name, child in children.items():
                code = child.poll()
                if code is not None:
                    if not stopping:
                        sys.stderr.write(f"cadence run: {name} exited with {code}; stopping the rest\n")
                    first_code = code
                    break
            else:
                time.sleep(0.2)
        asked = stopping  # by Ctrl+C or SIGTERM, rather than a child exiting on its own
        stop_all()
        deadline = time.monotonic() + GRACE_SECONDS
        for child in children.values():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        return 0 if asked else first_code
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

"""Real `cadence worker` processes for tests (the Huey consumer, process workers), and waiting on a row's
state with a deadline (never a fixed sleep).

    with running_worker(tmp_path / "worker.log", CADENCE_QUEUE_NAME=name) as worker:
        ...
        wait_until(lambda: status(run_id) == "done", 30, "the run to finish", worker)
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

BIN = Path(sys.executable).parent


@dataclass
class Worker:
    process: subprocess.Popen
    log: Path

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:]) if self.log.exists() else ""

    def kill(self) -> None:
        """SIGKILL the consumer and its worker processes at once, like a machine that dies."""
        with_group(self.process, signal.SIGKILL)
        self.process.wait(timeout=15)

    def stop(self) -> None:
        if self.process.poll() is None:
            with_group(self.process, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with_group(self.process, signal.SIGKILL)
                self.process.wait(timeout=15)


def with_group(process: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        pass


@contextmanager
def running_worker(log: Path, *, workers: int = 1, **env: str) -> Iterator[Worker]:
    """`cadence worker` on the test database (CADENCE_DATABASE_URL of this run unless `env` names another),
    in its own process group so that stopping or killing it takes its worker processes too."""
    log.parent.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, "CADENCE_PLANNER_CPUS": "1", **{k: str(v) for k, v in env.items()}}
    with log.open("a") as output:
        process = subprocess.Popen([str(BIN / "cadence"), "worker", "--workers", str(workers)], env=full_env,
                                   cwd=log.parent, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    worker = Worker(process, log)
    try:
        yield worker
    finally:
        worker.stop()


def wait_until(condition: Callable[[], object], seconds: float, what: str, *workers: Worker):
    """Poll `condition` (a read of the database) until it is truthy; fail with the workers' logs at the
    deadline. Returns the condition's value."""
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {w.log}:\n{w.log_tail()}" for w in workers)
            raise AssertionError(f"waited {seconds} s for {what}\n{logs}")
        time.sleep(0.05)

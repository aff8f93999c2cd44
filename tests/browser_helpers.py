"""The real server and Debian's Chromium for browser tests.

`running_server(database_url, workdir)` runs `cadence db upgrade`, then `cadence serve` on a free port as a
subprocess, and waits (bounded) until /healthz answers; the server's output goes to a log file whose tail is
shown if it fails to come up. `run_python(server, code)` runs a snippet against the server's database (in its
own process: the test process's Piccolo engine is bound to the test database).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@dataclass
class RunningServer:
    url: str
    env: dict[str, str]
    process: subprocess.Popen
    log: Path

    def log_tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


@contextmanager
def running_server(database_url: str, workdir: Path, *, start_timeout: float = 60.0) -> Iterator[RunningServer]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "CADENCE_DATABASE_URL": database_url, "CADENCE_BASE_URL": url, "CADENCE_WORKERS": "1"}
    upgrade = subprocess.run(
        [str(BIN / "cadence"), "db", "upgrade"], env=env, cwd=workdir, capture_output=True, text=True, timeout=120
    )
    assert upgrade.returncode == 0, f"cadence db upgrade failed:\n{upgrade.stdout}\n{upgrade.stderr}"

    log = workdir / "server.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [str(BIN / "cadence"), "run", "--host", "127.0.0.1", "--port", str(port)],  # web + a worker
            env=env, cwd=workdir, stdout=output, stderr=subprocess.STDOUT,
        )
    server = RunningServer(url=url, env=env, process=process, log=log)
    try:
        deadline = time.monotonic() + start_timeout
        while not _healthy(url):
            if time.monotonic() > deadline:
                raise AssertionError(f"the server did not answer /healthz within {start_timeout:.0f} s:\n"
                                     f"{server.log_tail()}")
            try:  # wait a little for the process; returning means it died
                process.wait(timeout=0.2)
            except subprocess.TimeoutExpired:
                continue
            raise AssertionError(f"the server exited with {process.returncode}:\n{server.log_tail()}")
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def run_python(server: RunningServer, code: str, timeout: float = 120) -> str:
    """Run `code` (which may `await` inside `async def main()`) with the server's database; returns stdout."""
    script = f"import asyncio\n{code}\nasyncio.run(main())\n"
    done = subprocess.run(
        [sys.executable, "-c", script], env=server.env, cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"seeding snippet failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def set_passwords(server: RunningServer, emails: list[str], password: str) -> None:
    run_python(server, f"""
from models.tables import Person
from server.passwords import hash_password

async def main():
    emails = {emails!r}
    found = await Person.update({{Person.password_hash: hash_password({password!r})}}).where(
        Person.email.is_in(emails)).returning(Person.email)
    missing = set(emails) - {{row["email"] for row in found}}
    assert not missing, f"no such people: {{sorted(missing)}}"
""")


def create_designer(server: RunningServer, email: str, password: str, timezone: str = "Europe/London") -> None:
    run_python(server, f"""
from models.tables import Person
from server.passwords import hash_password

async def main():
    await Person(email={email!r}, name="Dana Designer", role="designer", timezone={timezone!r},
                 password_hash=hash_password({password!r})).save()
""")


def launch_chromium(playwright, executable: str):
    return playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)


def sign_in_page(page, base: str, email: str, password: str) -> None:
    """Sign in through the real form and wait until the browser has left the sign-in page."""
    page.goto(f"{base}/signin")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"^(?!.*/signin).*$"))

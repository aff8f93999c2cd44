"""A bounded load test: `cadence serve --workers 2` on 127.0.0.1 over the suite's database (SQLite here,
PostgreSQL in CI's second pass), many clients writing attendance and completions at once, then every record
read back from the database: 0 lost, 0 duplicated, 0 5xx, and no "database is locked" in the server's log.

Each client has a fixed amount of work and every wait has a deadline, so the test stops by itself.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from readiness_helpers import build_world
from web_helpers import PASSWORD, run

from models.tables import Attendance, Membership, ModuleCompletion, Person, Section
from server.passwords import hash_password

LEARNERS = 10  # each signs in once: the sign-in limit is 20 a minute per worker
FACILITATOR_CLIENTS = 4  # share Fay's session
ROUNDS = 3  # every learner marks each module done, undone, done... ending done
DEADLINE = 120  # seconds for the whole load


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(db, tmp_path):
    """Two workers on a free loopback port, on the suite's database; stopped (and waited for) afterwards."""
    port = _free_port()
    log = tmp_path / "server.log"
    env = {**os.environ, "CADENCE_HOST": "127.0.0.1"}
    cadence = Path(sys.executable).with_name("cadence")
    with log.open("wb") as out:
        process = subprocess.Popen([str(cadence), "serve", "--workers", "2", "--port", str(port)],
                                   env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, log.read_text()[-2000:]
            assert time.monotonic() < deadline, "the server did not start in 60 s"
            time.sleep(0.2)
        yield base, log
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


async def _crowd(password_hash: str):
    """The readiness world plus LEARNERS - 2 more learners in Alpha's section."""
    world = await build_world(password_hash=password_hash)
    section = await Section.select(Section.id).where(Section.cohort == world.alpha).first()
    learners = [world.lea, world.leo]
    for i in range(LEARNERS - 2):
        person = Person(email=f"load{i}@example.com", name=f"Load {i}", role="learner", timezone="UTC",
                        password_hash=password_hash)
        await person.save()
        await Membership(cohort=world.alpha, person=person.id, role="learner", section=section["id"],
                         manager=world.mia).save()
        learners.append(person.id)
    emails = {row["id"]: row["email"] for row in await Person.select(Person.id, Person.email)}
    return world, [(pid, emails[pid]) for pid in learners]


def _signed_in(base: str, email: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=30)
    client.get("/signin")
    response = client.post("/signin", data={"email": email, "password": PASSWORD,
                                            "_csrf_token": client.cookies["csrftoken"]})
    assert response.status_code == 303, (email, response.status_code, response.text[:200])
    return client


def _post(client: httpx.Client, path: str, data: dict | None = None) -> int:
    return client.post(path, data={**(data or {}), "_csrf_token": client.cookies["csrftoken"]}).status_code


def test_concurrent_writers_lose_nothing_and_duplicate_nothing(server):
    base, log = server
    world, learners = run(_crowd(hash_password(PASSWORD)))
    modules = [world.m_welcome, world.m_tour, world.m_later]
    sessions = [world.past, world.next]
    pairs = [(s, pid) for s in sessions for pid, _ in learners]
    final = {pair: ("present", "absent", "excused")[i % 3] for i, pair in enumerate(pairs)}

    fay = _signed_in(base, "fay@example.com")
    learner_clients = [(pid, _signed_in(base, email)) for pid, email in learners]

    def facilitator(n: int) -> list[int]:
        with httpx.Client(base_url=base, timeout=30, cookies=fay.cookies) as client:
            statuses = []
            mine = pairs[n::FACILITATOR_CLIENTS]
            for status in ("absent", "present"):  # every pair twice, then its final status
                for session_id, pid in mine:
                    statuses.append(_post(client, f"/facilitator/sessions/{session_id}/attendance/{pid}",
                                          {"status": status}))
            for session_id, pid in mine:
                statuses.append(_post(client, f"/facilitator/sessions/{session_id}/attendance/{pid}",
                                      {"status": final[(session_id, pid)]}))
            # and one pair every facilitator client fights over
            statuses.append(_post(client, f"/facilitator/sessions/{sessions[0]}/attendance/{learners[0][0]}",
                                  {"status": final[(sessions[0], learners[0][0])]}))
            return statuses

    def learner(client: httpx.Client) -> list[int]:
        statuses = []
        for _ in range(ROUNDS):
            for module_id in modules:
                statuses.append(_post(client, f"/learner/modules/{module_id}/done"))
                statuses.append(_post(client, f"/learner/modules/{module_id}/undo"))
        for module_id in modules:
            statuses.append(_post(client, f"/learner/modules/{module_id}/done"))
            statuses.append(_post(client, f"/learner/modules/{module_id}/done"))  # twice: still one row
        return statuses

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=FACILITATOR_CLIENTS + LEARNERS) as pool:
        jobs = [pool.submit(facilitator, n) for n in range(FACILITATOR_CLIENTS)]
        jobs += [pool.submit(learner, client) for _, client in learner_clients]
        statuses = [status for job in jobs for status in job.result(timeout=DEADLINE)]
    elapsed = time.monotonic() - started
    for _, client in learner_clients:
        client.close()
    fay.close()

    assert statuses and all(s == 303 for s in statuses), sorted(set(statuses))
    attendance = run(Attendance.select(Attendance.session, Attendance.person, Attendance.status))
    assert len(attendance) == len(pairs), "lost or duplicated attendance"
    assert {(r["session"], r["person"]): r["status"] for r in attendance} == final
    completions = run(ModuleCompletion.select(ModuleCompletion.module, ModuleCompletion.person))
    expected = {(m, pid) for m in modules for pid, _ in learners}
    assert len(completions) == len(expected), "lost or duplicated completions"
    assert {(r["module"], r["person"]) for r in completions} == expected
    text = log.read_text()
    assert "database is locked" not in text and "Traceback" not in text, text[-3000:]
    assert elapsed < DEADLINE


def _server_sockets(port: int) -> dict[str, str]:
    """inode -> state ("0A" listening, "01" established) of the TCP sockets whose local port is `port`."""
    found = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port:
                found[fields[9]] = fields[3]
    return found


def _owners(inodes: set[str]) -> dict[str, int]:
    """inode -> the pid of the process holding it (every process this user can read)."""
    owners = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    owners[target[8:-1]] = int(pid)
        except OSError:  # gone, or not ours
            continue
    return owners


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SO_REUSEPORT balances connections on Linux")
def test_kept_alive_connections_spread_over_both_workers(server):
    """Each worker listens on a socket of its own (server/listening.py), so a burst of kept-alive connections is
    spread by the kernel: with one shared socket, the first worker to wake accepted them all."""
    base, _ = server
    port = int(base.rsplit(":", 1)[1])
    clients = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(32)]
    try:
        for client in clients:  # one request each, the connection kept
            client.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        for client in clients:
            assert client.recv(4096).startswith(b"HTTP/1.1 200")
        sockets = _server_sockets(port)
        listening = {inode for inode, state in sockets.items() if state == "0A"}
        established = {inode for inode, state in sockets.items() if state == "01"}
        owners = _owners(listening | established)
        assert len({owners[inode] for inode in listening}) == 2, "each worker listens on its own socket"
        served = [owners[inode] for inode in established if inode in owners]
        assert len(served) == 32 and len(set(served)) == 2, sorted(served)
    finally:
        for client in clients:
            client.close()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SO_REUSEPORT balances connections on Linux")
def test_several_workers_on_a_port_in_use_stop_with_one_line(db):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cadence = Path(sys.executable).with_name("cadence")
        done = subprocess.run([str(cadence), "serve", "--workers", "2", "--port", str(port)], capture_output=True,
                              text=True, timeout=60, env={**os.environ, "CADENCE_HOST": "127.0.0.1"})
    assert done.returncode == 1
    assert f"cadence serve: cannot listen on 127.0.0.1:{port}: Address already in use" in done.stderr
    assert "Traceback" not in done.stderr

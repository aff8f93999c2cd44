"""Serving benchmark (issue #11): every signed-in page of the demo, a feed and its 304, against `/healthz` in
the same run, with real `cadence serve` processes on a throw-away database.

For each URL: the peak rate (`wrk -t1 -c16`, kept-alive connections), its ratio to `/healthz`, and the p50/p99
latency at half of that peak (an open-loop client that sends on a fixed schedule and measures from the
scheduled instant, so a stall is not hidden by the client waiting). Then `/healthz` on one kept-alive
connection with 1, 2 and 4 server workers, the throughput of a page with each, a 200-learner roster and a
manager of 100 reports against the demo's pages, and a page's latency while a planner run solves in
`cadence worker`.

    python -m bench.serving                     # SQLite (a temporary file)
    python -m bench.serving --database URL      # PostgreSQL: an EMPTY database (its tables are dropped)

`run()` returns the rows for `python -m bench`. Needs Debian's `wrk` (apt-get install wrk).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.open_loop import open_loop

ROOT = Path(__file__).resolve().parent.parent
CADENCE = [sys.executable, "-m", "server.cli"]
PASSWORD = "cadence-demo"
PEAK_SECONDS = 3
LATENCY_SECONDS = 3
BIG_LEARNERS = 200
BIG_REPORTS = 100


@dataclass
class Measure:
    label: str
    url: str
    rate: float = 0.0
    p50: float = 0.0
    p99: float = 0.0
    errors: int = 0
    half_rate: float = 0.0  # the rate the open-loop client held while measuring p50/p99 (half the peak)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env(database_url: str, tmp: Path) -> dict[str, str]:
    return {**os.environ, "CADENCE_DATABASE_URL": database_url, "CADENCE_SECRET_KEY": "bench-" + "k" * 40,
            "CADENCE_QUEUE_URL": os.environ.get("CADENCE_BENCH_QUEUE_URL", f"sqlite:///{tmp / 'queue.db'}"),
            "PYTHONUNBUFFERED": "1"}


def _cadence(env: dict, *args: str, timeout: float = 300) -> str:
    done = subprocess.run([*CADENCE, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise SystemExit(f"bench.serving: cadence {' '.join(args)} failed: {done.stderr.strip()[-500:]}")
    return done.stdout


@contextlib.contextmanager
def _serve(env: dict, workers: int):
    port = _free_port()
    log = tempfile.TemporaryFile()  # never a pipe: an unread pipe fills and stalls the server
    server = subprocess.Popen([*CADENCE, "serve", "--port", str(port), "--workers", str(workers)], cwd=ROOT,
                              env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                raise SystemExit(f"bench.serving: the server did not start: {log.read().decode()[-500:]}")
            time.sleep(0.2)
        time.sleep(0.5 * workers)  # every worker process up, not only the first
        yield base
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def _sign_in(base: str, email: str) -> str:
    """The Cookie header of a signed-in session (CSRF cookie included)."""
    with httpx.Client(base_url=base, follow_redirects=False) as client:
        page = client.get("/signin")
        token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text).group(1)
        answer = client.post("/signin", data={"email": email, "password": PASSWORD, "_csrf_token": token})
        if answer.status_code != 303:
            raise SystemExit(f"bench.serving: sign-in as {email} answered {answer.status_code}")
        return "; ".join(f"{name}={value}" for name, value in client.cookies.items())


def _wrk(url: str, headers: dict[str, str], connections: int, seconds: float) -> tuple[float, int]:
    """Requests per second and non-2xx/3xx answers, from wrk."""
    args = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rate, int(bad.group(1)) if bad else 0


def _measure(label: str, url: str, headers: dict[str, str]) -> Measure:
    rate, bad = _wrk(url, headers, 16, PEAK_SECONDS)
    half = asyncio.run(open_loop(url, headers, max(1.0, rate / 2), LATENCY_SECONDS))
    return Measure(label, url, rate, half.p50, half.p99, bad + half.errors, half.rate)


def _feed_url(env: dict, email: str) -> str:
    return _cadence(env, "feed", "rotate", email).strip().splitlines()[-1].strip().split()[-1]


def _seed_big(env: dict) -> dict:
    """A published cohort of 200 learners, 100 of them reporting to one manager; returns ids and emails."""
    done = subprocess.run([sys.executable, "-m", "bench.serving_seed"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"bench.serving: seeding the large cohort failed: {done.stderr.strip()[-800:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _ids(env: dict) -> dict:
    done = subprocess.run([sys.executable, "-m", "bench.serving_seed", "--ids"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise SystemExit(f"bench.serving: reading the demo's ids failed: {done.stderr.strip()[-800:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _pages(base: str, ids: dict, big: dict) -> list[tuple[str, str, str]]:
    """(label, sign-in email or '', path)."""
    d, f, lrn, m = (ids["emails"][role] for role in ("designer", "facilitator", "learner", "manager"))
    return [
        ("designer: dashboard /", d, "/"),
        ("designer: programs", d, "/programs"),
        ("designer: a program", d, f"/programs/{ids['program']}"),
        ("designer: cohorts", d, "/cohorts"),
        ("designer: the demo cohort", d, f"/cohorts/{ids['cohort']}"),
        ("designer: people", d, "/people"),
        ("designer: a planner run", d, f"/plans/{ids['run']}"),
        ("facilitator: sessions", f, "/facilitator"),
        ("facilitator: a demo roster", f, f"/facilitator/sessions/{ids['session']}"),
        ("learner: schedule", lrn, "/learner"),
        ("learner: profile", lrn, "/profile"),
        ("manager: readiness", m, "/manager"),
        (f"facilitator: a {BIG_LEARNERS}-learner roster", big["facilitator"], f"/facilitator/sessions/{big['session']}"),
        (f"manager: {BIG_REPORTS} reports", big["manager"], "/manager"),
        (f"designer: a {BIG_LEARNERS}-learner cohort", d, f"/cohorts/{big['cohort']}"),
    ]


def run(database_url: str | None = None, *, workers_list: tuple[int, ...] = (1, 2, 4)) -> list[tuple[str, str]]:
    if not shutil.which("wrk"):
        return [("serving", "not measured: wrk is not installed (apt-get install wrk)")]
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="cadence-bench-serving-") as tmp_name:
        tmp = Path(tmp_name)
        env = _env(database_url or f"sqlite:///{tmp / 'bench.db'}", tmp)
        if database_url:
            subprocess.run([sys.executable, "-m", "bench.serving_seed", "--wipe"], cwd=ROOT, env=env, check=True)
        _cadence(env, "db", "upgrade")
        _cadence(env, "demo")
        big = _seed_big(env)
        ids = _ids(env)
        feed = _feed_url(env, ids["emails"]["learner"])
        kind = "PostgreSQL" if database_url else "SQLite"
        page_workers = 2 if database_url else 1
        rows += _page_table(env, ids, big, feed, page_workers, kind)
        rows += _workers_table(env, ids, workers_list, kind)
        rows += _during_solve(env, ids, page_workers, kind)
    return rows


def _page_table(env, ids, big, feed, workers, kind) -> list[tuple[str, str]]:
    with _serve(env, workers) as base:
        cookies = {email: _sign_in(base, email) for email in {*ids["emails"].values(), big["facilitator"],
                                                              big["manager"]}}
        measures = [_measure("/healthz", base + "/healthz", {})]
        for label, email, path in _pages(base, ids, big):
            check = httpx.get(base + path, headers={"Cookie": cookies[email]})
            if check.status_code != 200:
                raise SystemExit(f"bench.serving: {path} answered {check.status_code} for {email}")
            measures.append(_measure(label, base + path, {"Cookie": cookies[email]}))
        feed_url = base + "/feed/" + feed.rsplit("/feed/", 1)[1]
        etag = httpx.get(feed_url).headers["etag"]
        measures.append(_measure("feed: 200 (built)", feed_url, {}))
        measures.append(_measure("feed: 304 (stored ETag)", feed_url, {"If-None-Match": etag}))
    health = measures[0].rate
    rows = [(f"{kind}, {workers} worker(s): {m.label}",
             f"{m.rate:,.0f} req/s = {m.rate / health:.2f}x /healthz; p50 {m.p50 * 1000:.1f} ms, "
             f"p99 {m.p99 * 1000:.1f} ms at {m.half_rate:,.0f} req/s"
             + (f"; {m.errors} errors" if m.errors else "")) for m in measures]
    demo = {m.label: m.rate for m in measures}
    for big_label, demo_label in ((f"facilitator: a {BIG_LEARNERS}-learner roster", "facilitator: a demo roster"),
                                  (f"manager: {BIG_REPORTS} reports", "manager: readiness"),
                                  (f"designer: a {BIG_LEARNERS}-learner cohort", "designer: the demo cohort")):
        rows.append((f"{kind}: {big_label} vs the demo's",
                     f"{demo[demo_label] / demo[big_label]:.2f}x the demo page's time per request"))
    return rows


def _workers_table(env, ids, workers_list, kind) -> list[tuple[str, str]]:
    rows, one = [], None
    learner = ids["emails"]["learner"]
    for workers in workers_list:
        with _serve(env, workers) as base:
            cookie = {"Cookie": _sign_in(base, learner)}
            keep_alive, _ = _wrk(base + "/healthz", {}, 1, PEAK_SECONDS)
            health, _ = _wrk(base + "/healthz", {}, 16, PEAK_SECONDS)
            page, _ = _wrk(base + "/learner", cookie, 16, PEAK_SECONDS)
        one = one or keep_alive
        rows.append((f"{kind}, {workers} worker(s): /healthz on one kept-alive connection (-c1)",
                     f"{keep_alive:,.0f} req/s = {keep_alive / one:.2f}x one worker"))
        rows.append((f"{kind}, {workers} worker(s): throughput -c16",
                     f"/healthz {health:,.0f} req/s, /learner {page:,.0f} req/s"))
    return rows


def _during_solve(env, ids, workers, kind) -> list[tuple[str, str]]:
    designer, learner = ids["emails"]["designer"], ids["emails"]["learner"]
    with _serve(env, workers) as base:
        cookie = {"Cookie": _sign_in(base, learner)}
        rate = max(1.0, _wrk(base + "/learner", cookie, 16, PEAK_SECONDS)[0] / 2)
        before = asyncio.run(open_loop(base + "/learner", cookie, rate, LATENCY_SECONDS))
        worker = subprocess.Popen([*CADENCE, "worker", "--no-periodic"], cwd=ROOT, env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(3)  # the consumer is up
            with httpx.Client(base_url=base, headers={"Cookie": _sign_in(base, designer)}) as client:
                token = re.search(r'name="_csrf_token" value="([^"]+)"', client.get("/programs").text).group(1)
                answer = client.post("/plans/", data={"_csrf_token": token, "time_limit": "20",
                                                      "cohort": [str(c) for c in ids["all_cohorts"]]})
                run_url = answer.headers.get("location", "")
                if answer.status_code != 303 or not run_url:
                    return [(f"{kind}: pages while a planner run solves", f"not measured: POST /plans "
                             f"answered {answer.status_code}")]
                deadline = time.monotonic() + 30
                while "the solver has up to" not in client.get(run_url + "/status").text:
                    if time.monotonic() > deadline:
                        return [(f"{kind}: pages while a planner run solves", "not measured: the run never started")]
                    time.sleep(0.2)
                during = asyncio.run(open_loop(base + "/learner", cookie, rate, LATENCY_SECONDS))
                still = "the solver has up to" in client.get(run_url + "/status").text
        finally:
            worker.terminate()
            worker.wait(20)
    return [(f"{kind}, {workers} worker(s): /learner at {rate:.0f} req/s while a planner run solves",
             f"p50 {during.p50 * 1000:.1f} ms (before {before.p50 * 1000:.1f} ms) = {during.p50 / before.p50:.2f}x; "
             f"p99 {during.p99 * 1000:.1f} ms (before {before.p99 * 1000:.1f} ms)"
             + ("" if still else "; the run ended during the measurement"))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.serving", description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", help="an empty PostgreSQL database URL (default: a temporary SQLite file)")
    parser.add_argument("--workers", default="1,2,4", help="server worker counts to compare (default 1,2,4)")
    args = parser.parse_args(argv)
    for label, value in run(args.database, workers_list=tuple(int(w) for w in args.workers.split(","))):
        print(f"{label}: {value}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

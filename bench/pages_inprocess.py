"""Every page of the serving benchmark timed in-process: raw ASGI calls to the app (no uvicorn, no client, no
socket), the queries each page runs, and optionally a cProfile of one page. For iterating on a page's own work
on a shared machine, where wrk's figures move with the load; `bench/serving.py` measures the real thing.

    python -m bench.pages_inprocess --seed DIR          # once: a SQLite file with the demo and the big cohort
    python -m bench.pages_inprocess DIR                 # per page: queries, median ms per request
    python -m bench.pages_inprocess DIR --profile people --top 30

With CADENCE_DATABASE_URL set to PostgreSQL, `--seed` fills that (empty) database instead and DIR only keeps
the ids. The app is imported after the database is chosen (Piccolo binds the engine at import).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _database(folder: Path) -> str:
    url = os.environ.get("CADENCE_DATABASE_URL", "")
    return url if url.startswith(("postgres://", "postgresql://")) else f"sqlite:///{folder / 'bench.db'}"


def seed(folder: Path) -> None:
    from bench.serving import _cadence, _env, _ids, _seed_big

    folder.mkdir(parents=True, exist_ok=True)
    env = _env(_database(folder), folder)
    if _database(folder).startswith("postgres"):
        import subprocess

        subprocess.run([sys.executable, "-m", "bench.serving_seed", "--wipe"], cwd=ROOT, env=env, check=True)
    _cadence(env, "db", "upgrade")
    _cadence(env, "demo")
    big = _seed_big(env)
    (folder / "ids.json").write_text(json.dumps({"ids": _ids(env), "big": big}))


async def _call(app, path: str, cookie: str) -> tuple[int, bytes]:
    """One GET through the whole ASGI app; returns the status and the body."""
    status, body = 0, []
    headers = [(b"host", b"127.0.0.1"), (b"cookie", cookie.encode())] if cookie else [(b"host", b"127.0.0.1")]
    path_only, _, query = path.partition("?")
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path_only, "raw_path": path_only.encode(), "query_string": query.encode(), "root_path": "",
             "headers": headers, "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "state": {}}

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            body.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(body)


async def _sign_in(app, email: str) -> str:
    import httpx

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as client:
        page = await client.get("/signin")
        token = client.cookies["csrftoken"]
        answer = await client.post("/signin", data={"email": email, "password": "cadence-demo",
                                                     "_csrf_token": token})
        assert answer.status_code == 303, (email, answer.status_code, page.status_code)
        return "; ".join(f"{name}={value}" for name, value in client.cookies.items())


def _pages(folder: Path) -> list[tuple[str, str, str]]:
    from bench.serving import _pages as serving_pages

    data = json.loads((folder / "ids.json").read_text())
    pages = [("healthz", "", "/healthz")]
    for label, email, path in serving_pages("", data["ids"], data["big"]):
        pages.append((label, email, path))
    return pages


async def measure(folder: Path, only: str | None, repeat: int, profile: str | None, top: int,
                  dump: Path | None = None) -> None:
    os.environ["CADENCE_DATABASE_URL"] = _database(folder)
    os.environ.setdefault("CADENCE_SECRET_KEY", "bench-" + "k" * 40)
    from models.tables import Person
    from server.app import create_app

    app = create_app()
    engine = Person._meta.db
    kind = type(engine)
    original = kind.run_querystring
    queries = {"n": 0}

    async def counted(self, *args, **kwargs):
        queries["n"] += 1
        return await original(self, *args, **kwargs)

    kind.run_querystring = counted
    async with app.lifespan():
        cookies: dict[str, str] = {"": ""}
        for label, email, path in _pages(folder):
            if only and only not in label:
                continue
            if email not in cookies:
                cookies[email] = await _sign_in(app, email)
            status, body = await _call(app, path, cookies[email])
            assert status == 200, (label, path, status)
            if dump is not None:  # the page with its CSRF token blanked, to compare two versions of the code
                dump.mkdir(parents=True, exist_ok=True)
                token = cookies[email].partition("csrftoken=")[2].partition(";")[0]
                text = body.decode().replace(token, "TOKEN") if token else body.decode()
                (dump / (re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-") + ".html")).write_text(text)
            queries["n"] = 0
            await _call(app, path, cookies[email])
            count = queries["n"]
            if profile and profile in label:
                import cProfile
                import pstats

                profiler = cProfile.Profile()
                profiler.enable()
                for _ in range(repeat):
                    await _call(app, path, cookies[email])
                profiler.disable()
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(top)
                pstats.Stats(profiler).sort_stats("tottime").print_stats(top)
                continue
            times = []
            for _ in range(repeat):
                start = time.perf_counter()
                await _call(app, path, cookies[email])
                times.append(time.perf_counter() - start)
            print(f"{label:45s} {count:3d} queries  {statistics.median(times) * 1000:7.3f} ms  "
                  f"(min {min(times) * 1000:.3f})  {len(body) / 1024:6.1f} KiB", flush=True)
    kind.run_querystring = original


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pages_inprocess", description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--seed", action="store_true", help="create the database in FOLDER first")
    parser.add_argument("--only", help="pages whose label contains this")
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--profile", help="cProfile the page whose label contains this")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--dump", type=Path, help="write each page (CSRF token blanked) into this folder")
    args = parser.parse_args(argv)
    if args.seed:
        seed(args.folder)
        return 0
    asyncio.run(measure(args.folder, args.only, args.repeat, args.profile, args.top, args.dump))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Configuration from environment variables, with safe defaults for the demo.

CADENCE_DATABASE_URL  sqlite:///cadence.db (default, in the working directory) or postgresql://user:pw@host:port/db
CADENCE_HOST          127.0.0.1
CADENCE_PORT          8000
CADENCE_WORKERS       1 (more needs PostgreSQL, or SQLite on one host)
CADENCE_SECRET_KEY    signs CSRF tokens; generated into .cadence-secret for the demo when unset
CADENCE_ENV           "development" (default) or "production" (then CADENCE_SECRET_KEY is required)
CADENCE_BASE_URL      public URL used in calendar feeds and links; default http://HOST:PORT

The job queue (`cadence worker`, docs/architecture.md):
CADENCE_QUEUE_URL     where queued tasks wait: sqlite:///PATH (default: beside an SQLite database, "NAME-queue.db",
                      never the database file itself) or postgresql://... (default when the database is PostgreSQL:
                      the same database, in Huey's own tables)
CADENCE_QUEUE_NAME    the queue's name inside that store (default "cadence"); deployments sharing a store differ here
CADENCE_WORKER_CONCURRENCY  worker processes per `cadence worker` (default 1)
CADENCE_PLANNER_CPUS  CP-SAT workers one planner run may use (default: this machine's CPUs / concurrency)
CADENCE_JOB_STALE_AFTER     seconds without a heartbeat before a running job counts as abandoned (default 30)
CADENCE_JOB_ATTEMPTS  claims a planner run may have before it is failed (default 3)
CADENCE_WORKER_NICE   how much lower than the web server the job worker's CPU priority is (default 10, 0-19): on a
                      machine they share, a solve then takes only the CPU the pages leave
CADENCE_TEMPLATE_RELOAD  "1" re-reads edited templates without a restart (development only; server/templating.py)

Email (server/mailer.py, docs/email.md):
CADENCE_SMTP_URL      smtp://[USER:PASSWORD@]HOST[:PORT] (STARTTLS when the server offers it; ?starttls=required
                      insists), smtps://... (TLS from the start, port 465); unset: messages stay in the outbox
CADENCE_MAIL_FROM     the From address (default "Cadence <cadence@localhost>")
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from models.engine import DEFAULT_DATABASE_URL, database_url

__all__ = ["DEFAULT_DATABASE_URL", "ConfigError", "Settings"]

SECRET_FILE = ".cadence-secret"


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    database_url: str
    host: str
    port: int
    workers: int
    secret_key: str
    production: bool
    base_url: str
    queue_url: str = ""
    queue_name: str = "cadence"
    worker_concurrency: int = 1
    planner_cpus: int = 1
    job_stale_after: int = 30
    job_attempts: int = 3
    worker_nice: int = 10
    smtp_url: str = ""
    mail_from: str = "Cadence <cadence@localhost>"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        mode = env.get("CADENCE_ENV", "development").strip().lower()
        if mode not in ("development", "production"):
            raise ConfigError(f"CADENCE_ENV: expected 'development' or 'production', got {mode!r}")
        production = mode == "production"
        host = env.get("CADENCE_HOST", "127.0.0.1")
        port = _int(env, "CADENCE_PORT", 8000, 1, 65535)
        workers = _int(env, "CADENCE_WORKERS", 1, 1, 64)
        url = database_url(env)
        if not url.startswith(("sqlite://", "postgres://", "postgresql://")):
            raise ConfigError("CADENCE_DATABASE_URL: expected sqlite:///PATH or postgresql://USER:PW@HOST:PORT/DB")
        secret = env.get("CADENCE_SECRET_KEY", "")
        if not secret:
            if production:
                raise ConfigError("CADENCE_SECRET_KEY: required when CADENCE_ENV=production")
            secret = _local_secret(Path(SECRET_FILE))
        elif len(secret) < 32:
            raise ConfigError("CADENCE_SECRET_KEY: must be at least 32 characters")
        base_url = env.get("CADENCE_BASE_URL") or f"http://{host}:{port}"
        concurrency = _int(env, "CADENCE_WORKER_CONCURRENCY", 1, 1, 64)
        return cls(url, host, port, workers, secret, production, base_url.rstrip("/"),
                   queue_url=queue_url(env, url),
                   queue_name=env.get("CADENCE_QUEUE_NAME") or "cadence",
                   worker_concurrency=concurrency,
                   planner_cpus=_int(env, "CADENCE_PLANNER_CPUS", max(1, (os.cpu_count() or 1) // concurrency), 1, 256),
                   job_stale_after=_int(env, "CADENCE_JOB_STALE_AFTER", 30, 2, 3600),
                   job_attempts=_int(env, "CADENCE_JOB_ATTEMPTS", 3, 1, 20),
                   worker_nice=_int(env, "CADENCE_WORKER_NICE", 10, 0, 19),
                   smtp_url=smtp_url(env),
                   mail_from=env.get("CADENCE_MAIL_FROM") or "Cadence <cadence@localhost>")


def smtp_url(env: dict[str, str]) -> str:
    url = env.get("CADENCE_SMTP_URL", "").strip()
    if url and not url.startswith(("smtp://", "smtps://")):
        raise ConfigError("CADENCE_SMTP_URL: expected smtp://[USER:PW@]HOST[:PORT] or smtps://...")
    return url


def queue_url(env: dict[str, str], database: str) -> str:
    """CADENCE_QUEUE_URL, or the default for this database: an SQLite file beside an SQLite database (its own
    file, so the queue's writes never wait on the app's), the same PostgreSQL database otherwise."""
    url = env.get("CADENCE_QUEUE_URL", "")
    if not url:
        if database.startswith("sqlite:///"):
            path = Path(database.removeprefix("sqlite:///") or "cadence.db")
            return f"sqlite:///{path.with_name(path.stem + '-queue.db')}"
        return database
    if url.startswith("sqlite:///"):
        if database.startswith("sqlite:///") and (
                Path(url.removeprefix("sqlite:///")).resolve() == Path(database.removeprefix("sqlite:///")).resolve()):
            raise ConfigError("CADENCE_QUEUE_URL: must not be the database file itself (they would lock each other)")
        return url
    if url.startswith(("postgres://", "postgresql://")):
        return url
    raise ConfigError("CADENCE_QUEUE_URL: expected sqlite:///PATH or postgresql://USER:PW@HOST:PORT/DB")


def _int(env: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}: expected a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}: must be between {low} and {high}, got {value}")
    return value


def _local_secret(path: Path) -> str:
    """A per-checkout demo secret, created once with owner-only permissions; never committed (.gitignore)."""
    if path.exists():
        return path.read_text().strip()
    secret = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret + "\n")
    return secret

"""Feed URLs are credentials: the server's access log must not record their tokens."""

import logging
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from server.access_log import RedactFeedTokens, redact

ROOT = Path(__file__).resolve().parent.parent


def test_redact_masks_only_the_token():
    assert redact("/feed/AbC-123_xyz.ics") == "/feed/<redacted>.ics"
    assert redact("/feed/AbC-123_xyz.ics?x=1") == "/feed/<redacted>.ics?x=1"
    assert redact("/learner") == "/learner"


def test_filter_rewrites_uvicorn_access_records():
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5000", "GET", "/feed/secret-token.ics", "1.1", 404), None)
    assert RedactFeedTokens().filter(record)
    assert "secret-token" not in record.getMessage()
    assert "/feed/<redacted>.ics" in record.getMessage()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_running_server_logs_feed_requests_without_the_token(tmp_path):
    port = _free_port()
    env = {**os.environ, "CADENCE_DATABASE_URL": f"sqlite:///{tmp_path / 'log.db'}"}
    cadence = [sys.executable, "-m", "server.cli"]
    subprocess.run([*cadence, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True, timeout=120)
    server = subprocess.Popen([*cadence, "serve", "--port", str(port)], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline, "server did not start"
                assert server.poll() is None, server.stdout.read()
                time.sleep(0.1)
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/feed/very-secret-token-123.ics", timeout=5)
        except urllib.error.HTTPError as error:
            assert error.code == 404
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert "/feed/<redacted>.ics" in output
    assert "very-secret-token-123" not in output

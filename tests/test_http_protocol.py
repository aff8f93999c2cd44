"""`cadence serve --workers N`: every accepted connection gets TCP_NODELAY, even on the protocol-0 socket
uvicorn binds for several workers (asyncio leaves Nagle on there: ~40 ms per kept-alive request)."""

from __future__ import annotations

import socket

from server.http_protocol import NoDelayHTTPProtocol, set_nodelay


class _Transport:
    def __init__(self, sock):
        self.sock = sock

    def get_extra_info(self, name):
        return self.sock if name == "socket" else None


def test_a_connection_accepted_like_uvicorns_workers_gets_nodelay():
    with socket.socket(family=socket.AF_INET) as listener:  # as uvicorn's Config.bind_socket makes it
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        with socket.create_connection(listener.getsockname()) as client:
            accepted, _ = listener.accept()
            with accepted:
                assert accepted.proto == 0  # the case asyncio's own nodelay check skips
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
                set_nodelay(_Transport(accepted))
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
            client.close()


def test_serve_uses_the_protocol(monkeypatch):
    import uvicorn

    from server import app

    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: seen.update(kwargs))
    app.serve(port=1, workers=2)
    assert seen["http"] is NoDelayHTTPProtocol and seen["workers"] == 2

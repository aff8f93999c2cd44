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


def test_serve_uses_the_protocol_with_one_worker_and_with_several(monkeypatch):
    """One worker: uvicorn.run with our protocol. Several (on Linux): uvicorn's own supervisor, each worker on a
    socket of its own (server/listening.py), with the same protocol."""
    import uvicorn
    import uvicorn.supervisors

    from server import app
    from server.listening import OwnSocketEach, balanced_listening

    seen, supervised = {}, {}
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: seen.update(kwargs))

    class Supervisor:
        def __init__(self, config, sockets):
            supervised.update(config=config, sockets=sockets)

        def run(self):
            supervised["ran"] = True

    monkeypatch.setattr(uvicorn.supervisors, "Multiprocess", Supervisor)
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app.serve(host="127.0.0.1", port=port, workers=1)
    assert seen["http"] is NoDelayHTTPProtocol and seen["workers"] == 1
    seen.clear()
    app.serve(host="127.0.0.1", port=port, workers=2)
    if balanced_listening():
        assert seen == {} and supervised["ran"]
        assert supervised["config"].http is NoDelayHTTPProtocol and supervised["config"].workers == 2
        assert isinstance(supervised["sockets"], OwnSocketEach) and supervised["sockets"] == []
        assert supervised["sockets"].address == ("127.0.0.1", port, supervised["config"].backlog)
    else:
        assert seen["http"] is NoDelayHTTPProtocol and seen["workers"] == 2


def test_each_worker_unpickles_a_socket_of_its_own_on_the_shared_port():
    """What uvicorn's supervisor hands a worker it starts: unpickled there, a listening socket of the worker's
    own, in the port's SO_REUSEPORT group (two of them bind the same port at once)."""
    import pickle

    import pytest

    from server.listening import OwnSocketEach, balanced_listening

    if not balanced_listening():
        pytest.skip("SO_REUSEPORT balances connections on Linux")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    handed = pickle.dumps(OwnSocketEach("127.0.0.1", port, 16))
    first, second = pickle.loads(handed), pickle.loads(handed)
    try:
        assert len(first) == len(second) == 1 and first[0] is not second[0]
        for sock in (*first, *second):
            assert sock.getsockname() == ("127.0.0.1", port)
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 1
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
    finally:
        for sock in (*first, *second):
            sock.close()

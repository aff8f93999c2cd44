"""Uvicorn's HTTP protocol with TCP_NODELAY on every connection, whatever socket uvicorn accepted it on.

With `--workers N` uvicorn binds the listening socket itself (`socket.socket(family=...)`, protocol number 0)
and asyncio only turns Nagle's algorithm off for sockets whose protocol is IPPROTO_TCP; so every response
written in two sends (headers, then body) waited for the client's delayed ACK: ~40 ms per request on a
kept-alive connection, /healthz included. One worker was spared because asyncio binds that socket itself.
"""

from __future__ import annotations

import socket

from uvicorn.protocols.http.auto import AutoHTTPProtocol


def set_nodelay(transport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:  # the peer already went away: nothing to speed up
            pass


class NoDelayHTTPProtocol(AutoHTTPProtocol):
    def connection_made(self, transport) -> None:  # type: ignore[override]
        set_nodelay(transport)
        super().connection_made(transport)

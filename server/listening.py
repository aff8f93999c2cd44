"""How several web workers listen: each on a socket of its own, the kernel spreading connections between them.

Uvicorn's `--workers N` binds one socket in the parent and every worker accepts from it. A worker woken for a
new connection accepts every connection waiting (asyncio accepts up to the backlog at once), so a burst of
connections lands on one worker: measured here, 16 kept-alive connections all on one of two workers in three
runs out of four. Browsers and calendar clients keep their connections, so one worker did all the work while
the other idled, for as long as the connections lived.

On Linux each worker instead binds its own socket with SO_REUSEPORT; the kernel hands each new connection to
one of the workers' sockets by a hash of its addresses, so connections spread evenly whatever their timing.
Uvicorn's own supervisor still starts, watches and restarts the workers: it passes the list of sockets to each
worker it starts (a new process, which receives the list pickled), and `OwnSocketEach` is a list that, unpickled
in the worker, binds that worker's socket.
"""

from __future__ import annotations

import socket
import sys


def balanced_listening() -> bool:
    """Whether the kernel balances connections between sockets sharing a port (Linux's SO_REUSEPORT)."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def bind_own_socket(host: str, port: int, backlog: int) -> list[socket.socket]:
    """A listening socket on host:port joined to the port's SO_REUSEPORT group, as a list (uvicorn's sockets)."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                         flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    return [sock]


class OwnSocketEach(list):
    """The `sockets` uvicorn's supervisor hands each worker it starts: empty here, and in the worker the
    worker's own socket (unpickling calls `bind_own_socket` there)."""

    def __init__(self, host: str, port: int, backlog: int) -> None:
        super().__init__()
        self.address = (host, port, backlog)

    def __reduce__(self):
        return bind_own_socket, self.address

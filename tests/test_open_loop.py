"""The serving benchmark's open-loop client (bench/open_loop.py) against a small server on loopback: it holds
the asked rate, counts error answers, reads chunked and sized bodies, and a stall shows in the percentiles
(measured from each request's scheduled instant, not from when a connection was free)."""

from __future__ import annotations

import asyncio

from bench.open_loop import open_loop


async def _serve(stall_after: int | None, stall: float, status_of=lambda n: 200):
    served = {"n": 0}
    running = asyncio.Event()
    running.set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                served["n"] += 1
                n = served["n"]
                if stall_after is not None and n == stall_after:  # the whole server stops (a GC pause, say)
                    running.clear()
                    await asyncio.sleep(stall)
                    running.set()
                await running.wait()
                status = status_of(n)
                if n % 2:
                    writer.write(f"HTTP/1.1 {status} X\r\nContent-Length: 5\r\n\r\nhello".encode())
                else:
                    writer.write(f"HTTP/1.1 {status} X\r\nTransfer-Encoding: chunked\r\n\r\n"
                                 "3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n".encode())
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, served


def test_the_client_holds_its_rate_and_a_stall_reaches_the_p99():
    async def scenario():
        server, served = await _serve(stall_after=50, stall=0.3)
        port = server.sockets[0].getsockname()[1]
        async with server:
            result = await open_loop(f"http://127.0.0.1:{port}/x?y=1", {"Cookie": "a=b"}, rate=200, seconds=1)
        return result, served["n"]

    result, served = asyncio.run(scenario())
    assert result.sent == served == 200 and result.errors == 0
    assert 150 < result.rate <= 210
    assert result.p50 < 0.05
    # the server stopped for 0.3 s: every request scheduled meanwhile (about 60) is late by up to 0.3 s, counted
    # from its own instant - a closed-loop client would have sent none of them and seen one slow answer
    assert result.p99 >= 0.25


def test_error_answers_are_counted():
    async def scenario():
        server, _ = await _serve(stall_after=None, stall=0, status_of=lambda n: 500 if n % 10 == 0 else 200)
        port = server.sockets[0].getsockname()[1]
        async with server:
            return await open_loop(f"http://127.0.0.1:{port}/", {}, rate=100, seconds=0.5)

    result = asyncio.run(scenario())
    assert result.sent == 50 and result.errors == 5

"""An open-loop HTTP/1.1 load generator for the serving benchmark: requests go out on a fixed schedule (`rate`
per second) whatever the server does, and each latency is measured from the request's scheduled instant, so a
stall shows in the percentiles instead of slowing the client down (wrk, a closed loop, would wait with it).

Written on raw asyncio streams over kept-alive connections, with the request bytes built once: about 60 us of
client CPU a request, so it can hold the half-peak rates of the pages (up to a few thousand a second) on the
same two cores as the server. httpx, which the bench used before, cost ten times that and capped the rate at 200.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Latencies:
    p50: float  # seconds
    p99: float
    errors: int  # answers >= 400 and broken connections
    sent: int
    seconds: float  # from the first scheduled request to the last answer

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0


class _Connections:
    """Kept-alive connections to one server: a free one is reused, else a new one is opened (up to `limit`;
    past that a request waits for one, and the wait counts in its latency, as a browser's would)."""

    def __init__(self, host: str, port: int, limit: int) -> None:
        self.host, self.port, self.limit = host, port, limit
        self.free: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.opened = 0
        self.returned = asyncio.Condition()

    async def take(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        while True:
            if self.free:
                return self.free.pop()
            if self.opened < self.limit:
                self.opened += 1
                try:
                    return await asyncio.open_connection(self.host, self.port)
                except OSError:
                    self.opened -= 1
                    raise
            async with self.returned:
                await self.returned.wait()

    async def give(self, connection, reusable: bool) -> None:
        if reusable:
            self.free.append(connection)
        else:
            connection[1].close()
            self.opened -= 1
        async with self.returned:
            self.returned.notify()

    def close(self) -> None:
        for _, writer in self.free:
            writer.close()


async def _exchange(connection, request: bytes) -> tuple[int, bool]:
    """Send one request and read its whole answer; returns the status and whether the connection stays open."""
    reader, writer = connection
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    fields = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip().lower()
    if "content-length" in fields:
        await reader.readexactly(int(fields["content-length"]))
    elif fields.get("transfer-encoding") == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status, fields.get("connection") != "close"


async def open_loop(url: str, headers: dict[str, str], rate: float, seconds: float,
                    connections: int = 64) -> Latencies:
    """Send GET `url` at `rate` per second for `seconds` (at least 20 requests); p50/p99 from the schedule."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    request = (f"GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\n"
               + "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n").encode("latin-1")
    pool = _Connections(host, port, connections)
    count = max(20, int(rate * seconds))
    latencies: list[float] = []
    errors = 0

    async def one(scheduled: float) -> None:
        nonlocal errors
        try:
            connection = await pool.take()
        except OSError:
            errors += 1
            return
        try:
            status, reusable = await _exchange(connection, request)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            errors += 1
            await pool.give(connection, False)
            return
        latencies.append(time.perf_counter() - scheduled)
        errors += status >= 400
        await pool.give(connection, reusable)

    tasks = []
    start = time.perf_counter()
    for i in range(count):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0.0005:  # the loop's timers are coarse: requests already due go out together, late ones
            await asyncio.sleep(delay)  # are measured from their own instant
        tasks.append(asyncio.create_task(one(scheduled)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    pool.close()
    latencies.sort()
    if not latencies:
        return Latencies(0.0, 0.0, errors, count, elapsed)
    return Latencies(latencies[len(latencies) // 2], latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
                     errors, count, elapsed)

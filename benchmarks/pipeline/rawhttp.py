"""A minimal keep-alive HTTP/1.1 client for the latency phase.

Kept apart because it is the sender's CPU budget that matters here: it costs about a tenth of what
httpx does per request, so that at fixed rates the client does not starve the services it measures.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from majorops.shared.testing import INGEST_TOKEN

IN_FLIGHT = 128


class RawHttp:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams, for the latency phase.

    The sender shares the machine's cores with the system it measures: httpx costs ~1.3 ms of CPU
    per request here, this about a tenth of that, so that at 500 requests/s the client does not eat
    the CPU the services need. One connection per request in flight, reused.
    """

    def __init__(self, host: str, port: int, size: int) -> None:
        self.host, self.port = host, port
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []
        self.all: list[asyncio.StreamWriter] = []
        self.slots = asyncio.Semaphore(size)

    async def __aenter__(self) -> RawHttp:
        return self

    async def __aexit__(self, *exc: object) -> None:
        for writer in self.all:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def post(self, path: str, body: bytes) -> int:
        """POST a JSON body; the status code (the response body is read and dropped).

        uvicorn closes a keep-alive connection after 5 s idle: idle connections older than 2 s are
        dropped, and a request whose reused connection turns out closed is sent once more on a new one.
        """
        async with self.slots:
            while self.idle:
                reader, writer, since = self.idle.pop()
                if time.monotonic() - since < 2.0 and not reader.at_eof():
                    try:
                        return await self._exchange(reader, writer, path, body)
                    except (ConnectionError, asyncio.IncompleteReadError, IndexError):
                        continue  # closed by the server meanwhile: nothing was processed
                writer.close()
            reader, writer = await asyncio.open_connection(self.host, self.port)
            self.all.append(writer)
            return await self._exchange(reader, writer, path, body)

    async def _exchange(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str, body: bytes
    ) -> int:
        try:
            writer.write(
                f"POST {path} HTTP/1.1\r\nhost: {self.host}:{self.port}\r\n"
                f"authorization: Bearer {INGEST_TOKEN}\r\n"
                f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n".encode()
                + body
            )
            status = int((await reader.readline()).split()[1])
            length, keep = 0, True
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"connection" and value.strip().lower() == b"close":
                    keep = False
            await reader.readexactly(length)
        except BaseException:
            writer.close()
            raise
        if keep:
            self.idle.append((reader, writer, time.monotonic()))
        else:
            writer.close()
        return status

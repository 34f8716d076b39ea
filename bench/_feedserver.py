"""A small, fast HTTP/1.1 feed server for benchmarks (asyncio, keep-alive).

Run as a separate process so the server's CPU is not counted as ours:
``python bench/_feedserver.py PORT DIR HOSTS [DELAY_MS]`` serves every file in DIR at
``/<name>`` with a strong ETag and answers ``If-None-Match`` with 304. It listens on
HOSTS loopback addresses (127.0.0.1 ... 127.0.0.HOSTS), so a benchmark has many
distinct hosts — as real feeds do — without lifting the per-host concurrency limit.
DELAY_MS waits that long before each answer (a remote server's latency, without CPU).

It counts requests per path: ``/__stats__`` answers JSON with the total, the first and
last request times and every path asked for more than once; ``/__reset__`` clears them.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
import time
from collections import Counter
from pathlib import Path


def load(directory: Path) -> dict[bytes, tuple[bytes, bytes]]:
    files = {}
    for path in directory.iterdir():
        body = path.read_bytes()
        etag = b'"' + hashlib.sha1(body).hexdigest().encode() + b'"'
        files[b"/" + path.name.encode()] = (body, etag)
    return files


async def serve(port: int, directory: Path, hosts: int, delay: float = 0.0) -> None:
    files = load(directory)
    counts: Counter[bytes] = Counter()
    times = [0.0, 0.0]  # first and last request

    def stats() -> bytes:
        repeated = {p.decode(): n for p, n in counts.items() if n > 1}
        body = {"requests": counts.total(), "first": times[0], "last": times[1]}
        return json.dumps({**body, "repeated": repeated}).encode()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.split(b"\r\n")
                parts = lines[0].split(b" ")
                path = parts[1] if len(parts) > 1 else b"/"
                inm = b""
                for line in lines[1:]:
                    if line[:14].lower() == b"if-none-match:":
                        inm = line[14:].strip()
                if path == b"/__reload__":
                    files.clear()
                    files.update(load(directory))
                    writer.write(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
                elif path == b"/__reset__":
                    counts.clear()
                    times[:] = [0.0, 0.0]
                    writer.write(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
                elif path == b"/__stats__":
                    body = stats()
                    length = str(len(body)).encode()
                    writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: " + length + b"\r\n\r\n")
                    writer.write(body)
                elif path not in files:
                    counts[path] += 1
                    writer.write(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
                else:
                    counts[path] += 1
                    now = time.time()
                    times[0] = times[0] or now
                    times[1] = now
                    if delay:
                        await asyncio.sleep(delay)
                    body, etag = files[path]
                    if inm == etag:
                        writer.write(
                            b"HTTP/1.1 304 Not Modified\r\netag: "
                            + etag
                            + b"\r\ncontent-length: 0\r\n\r\n"
                        )
                    else:
                        writer.write(
                            b"HTTP/1.1 200 OK\r\ncontent-type: application/rss+xml\r\netag: "
                            + etag
                            + b"\r\ncontent-length: "
                            + str(len(body)).encode()
                            + b"\r\n\r\n"
                            + body
                        )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    addresses = [f"127.0.0.{i}" for i in range(1, hosts + 1)]
    server = await asyncio.start_server(handle, addresses, port, backlog=1024)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    delay_ms = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
    asyncio.run(serve(int(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), delay_ms / 1000))

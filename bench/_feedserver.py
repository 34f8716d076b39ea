"""A small, fast HTTP/1.1 feed server for benchmarks (asyncio, keep-alive).

Run as a separate process so the server's CPU is not counted as ours:
``python bench/_feedserver.py PORT DIR HOSTS`` serves every file in DIR at ``/<name>``
with a strong ETag and answers ``If-None-Match`` with 304. It listens on HOSTS loopback
addresses (127.0.0.1 ... 127.0.0.HOSTS), so a benchmark has many distinct hosts — as
real feeds do — without lifting the per-host concurrency limit.
"""

from __future__ import annotations

import asyncio
import hashlib
import sys
from pathlib import Path


def load(directory: Path) -> dict[bytes, tuple[bytes, bytes]]:
    files = {}
    for path in directory.iterdir():
        body = path.read_bytes()
        etag = b'"' + hashlib.sha1(body).hexdigest().encode() + b'"'
        files[b"/" + path.name.encode()] = (body, etag)
    return files


async def serve(port: int, directory: Path, hosts: int) -> None:
    files = load(directory)

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
                elif path not in files:
                    writer.write(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
                else:
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
    asyncio.run(serve(int(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])))

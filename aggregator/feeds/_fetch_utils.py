"""Helpers of the fetch stage that need no httpx: header parsing, body decoding,
error reasons, telling a local path from a URL, and reading a local feed file.
Which addresses may be fetched is ``addresses``' to say.

Each piece is tested on its own (``tests/test_fetch_utils.py``); ``fetch`` wires them
to the HTTP client.
"""

from __future__ import annotations

import errno
import os
import socket
import ssl
import stat
import time
import zlib
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

from aggregator.exceptions import BlockedURL, BodyTooLarge, FetchError
from aggregator.settings import FetchSettings
from aggregator.types import FetchResult, Validators

# Decompressed output is produced in pieces of at most this size, so a gzip bomb never
# inflates more than one piece past the size limit (zlib alone would hand back a 1,000:1
# expansion of whatever it is given: 64 KiB in, 64 MiB out).
DECODE_CHUNK = 64 * 1024

# wbits for zlib.decompressobj: 32 + 15 accepts a gzip or a zlib header (servers that say
# "gzip" and send zlib exist); 15 is a zlib stream; -15 a raw deflate stream.
_GZIP_OR_ZLIB = 32 + zlib.MAX_WBITS
_ZLIB = zlib.MAX_WBITS
_RAW_DEFLATE = -zlib.MAX_WBITS


# --- headers -----------------------------------------------------------------------


def parse_retry_after(value: str | None, now: datetime) -> datetime | None:
    """The absolute time a ``Retry-After`` header asks us to wait until.

    RFC 9110 §10.2.3 allows a number of seconds or an HTTP date; anything else (a
    negative number, garbage) is ignored rather than trusted.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isascii() and text.isdigit():
        try:
            return now + timedelta(seconds=int(text))
        except OverflowError:
            return None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000" or no zone: HTTP dates are always GMT
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


def parse_max_age(value: str | None) -> int | None:
    """``max-age`` from a ``Cache-Control`` header, in seconds (RFC 9111 §5.2.2.1).

    >>> parse_max_age("public, max-age=3600"), parse_max_age("no-cache")
    (3600, None)
    """
    if not value:
        return None
    for directive in value.split(","):
        name, _, argument = directive.partition("=")
        if name.strip().lower() != "max-age":
            continue
        argument = argument.strip().strip('"')
        if argument.isascii() and argument.isdigit():
            return int(argument)
        return None  # a malformed max-age makes the directive useless, not the next one
    return None


def http_date(when: datetime) -> str:
    """An IMF-fixdate (``Sun, 06 Nov 1994 08:49:37 GMT``), as Last-Modified carries."""
    return format_datetime(when.astimezone(UTC), usegmt=True)


def format_size(n: int) -> str:
    """A byte count for messages.

    >>> format_size(512), format_size(65536), format_size(1536 * 1024)
    ('512 bytes', '64 KiB', '1.5 MiB')
    """
    if n < 1024:
        return f"{n} bytes"
    value = float(n)
    for unit in ("KiB", "MiB", "GiB"):
        value /= 1024
        if value < 1024 or unit == "GiB":
            break
    return f"{value:.1f}".removesuffix(".0") + f" {unit}"


# --- body decoding -----------------------------------------------------------------


class UnsupportedEncoding(ValueError):
    """A Content-Encoding we did not ask for and cannot decode (br, zstd, compress)."""


class DecodingError(ValueError):
    """The body is not valid data for its Content-Encoding."""


class _Inflater:
    """gzip or deflate, decoded in bounded pieces.

    HTTP "deflate" is meant to be a zlib stream (RFC 9110 §8.4.1.2) but some servers
    send raw deflate; like browsers we tell them apart by the two-byte zlib header.
    """

    def __init__(self, encoding: str) -> None:
        self._gzip = encoding == "gzip"
        self._obj = zlib.decompressobj(_GZIP_OR_ZLIB) if self._gzip else None
        self._pending = b""  # deflate: bytes held until the header can be judged

    def decode(self, data: bytes) -> Iterator[bytes]:
        if self._obj is None:
            self._pending += data
            if len(self._pending) < 2:
                return
            data, self._pending = self._pending, b""
            self._obj = zlib.decompressobj(_ZLIB if _has_zlib_header(data) else _RAW_DEFLATE)
        yield from self._inflate(self._obj, data)

    def finish(self) -> Iterator[bytes]:
        if self._obj is None and self._pending:
            self._obj = zlib.decompressobj(_RAW_DEFLATE)
            yield from self._inflate(self._obj, self._pending)
        # A stream that stops before its end marker is let through, as browsers and
        # httpx do: whatever was decoded is handed to the parser, which judges it.

    def _inflate(self, obj: zlib._Decompress, data: bytes) -> Iterator[bytes]:
        while True:
            if obj.eof:
                # Bytes after the end of a gzip member: another member (concatenated
                # gzip files are valid gzip), else trailing junk that we ignore.
                if not (self._gzip and data[:1] == b"\x1f"):
                    return
                obj = self._obj = zlib.decompressobj(_GZIP_OR_ZLIB)
            try:
                out = obj.decompress(data, DECODE_CHUNK)
            except zlib.error as e:
                raise DecodingError(f"not valid {'gzip' if self._gzip else 'deflate'} data") from e
            if out:
                yield out
            data = obj.unused_data if obj.eof else obj.unconsumed_tail
            # A full piece may leave output inside zlib even with no input left.
            if not data and len(out) < DECODE_CHUNK:
                return


def _has_zlib_header(data: bytes) -> bool:
    """RFC 1950: method 8 (deflate) in the low nibble, and the header a multiple of 31."""
    cmf, flg = data[0], data[1]
    return cmf & 0x0F == 8 and (cmf << 8 | flg) % 31 == 0


class _Identity:
    def decode(self, data: bytes) -> Iterator[bytes]:
        if data:
            yield data

    def finish(self) -> Iterator[bytes]:
        return iter(())


class ContentDecoder:
    """Undoes a ``Content-Encoding`` (gzip, deflate, or a list of them) in bounded pieces.

    Every piece yielded is at most ``DECODE_CHUNK`` bytes and is produced only when the
    caller asks for it, so the caller can stop at its size limit with at most one piece
    past it in memory.
    """

    def __init__(self, content_encoding: str | None) -> None:
        names = [n.strip().lower() for n in (content_encoding or "").split(",")]
        self._decoders: list[_Inflater | _Identity] = []
        # Codings are listed in the order they were applied; undo the last one first.
        for name in reversed(names):
            if name in ("", "identity"):
                continue
            if name in ("gzip", "x-gzip"):
                self._decoders.append(_Inflater("gzip"))
            elif name == "deflate":
                self._decoders.append(_Inflater("deflate"))
            else:
                raise UnsupportedEncoding(name)
        if not self._decoders:
            self._decoders.append(_Identity())

    def decode(self, data: bytes) -> Iterator[bytes]:
        return _through(self._decoders, data)

    def finish(self) -> Iterator[bytes]:
        for i, decoder in enumerate(self._decoders):
            for piece in decoder.finish():
                yield from _through(self._decoders[i + 1 :], piece)


def _through(decoders: Sequence[_Inflater | _Identity], data: bytes) -> Iterator[bytes]:
    if not decoders:
        if data:
            yield data
        return
    for piece in decoders[0].decode(data):
        yield from _through(decoders[1:], piece)


# --- local files and OS errors -----------------------------------------------------


def fetch_file(
    url: str, path: Path, validators: Validators, s: FetchSettings, started: float
) -> FetchResult:
    """A local feed, read under the same size limit, with validators from its stat."""
    try:
        # stat before open: opening a FIFO or a device could block or never end.
        if not stat.S_ISREG(path.stat().st_mode):
            raise FetchError(url, f"not a regular file: {path}")
        with path.open("rb") as f:
            st = os.fstat(f.fileno())
            # The ETag (nanosecond mtime and size) catches a rewrite within the same
            # second, which Last-Modified (whole seconds) cannot.
            fresh = Validators(
                etag=f'"{st.st_mtime_ns:x}-{st.st_size:x}"',
                last_modified=http_date(datetime.fromtimestamp(st.st_mtime, UTC)),
            )
            unchanged = (
                validators.etag == fresh.etag
                if validators.etag
                else validators.last_modified is not None
                and validators.last_modified == fresh.last_modified
            )
            content = None if unchanged else f.read(s.max_body_bytes + 1)
    except FileNotFoundError as e:
        raise FetchError(url, f"no such file: {path}") from e
    except PermissionError as e:
        raise FetchError(url, f"permission denied reading {path}") from e
    except OSError as e:
        raise FetchError(url, f"cannot read {path}: {e.strerror or e}") from e
    if content is not None and len(content) > s.max_body_bytes:
        raise BodyTooLarge(url, f"file is over the {format_size(s.max_body_bytes)} limit")
    headers = {"etag": fresh.etag or "", "last-modified": fresh.last_modified or ""}
    if content is not None:
        headers["content-length"] = str(len(content))
    return FetchResult(
        url=url,
        final_url=path.resolve().as_uri(),
        status=304 if content is None else 200,
        content=content,
        headers=headers,
        validators=fresh,
        elapsed_seconds=time.monotonic() - started,
    )


def os_reason(e: BaseException) -> str | None:
    """A short reason from the OS error behind an httpx error (httpcore chains it)."""
    seen: BaseException | None = e
    while seen is not None:
        if isinstance(seen, socket.gaierror):
            return "could not resolve the host name"
        if isinstance(seen, ssl.SSLError):
            return f"TLS error ({seen.reason or seen})"
        if isinstance(seen, OSError):
            known = {
                errno.ECONNRESET: "connection reset by peer",
                errno.ECONNREFUSED: "connection refused",
                errno.EPIPE: "connection closed by peer",
                errno.EHOSTUNREACH: "host unreachable",
                errno.ENETUNREACH: "network unreachable",
                errno.ETIMEDOUT: "connection timed out",
            }
            return known.get(seen.errno or 0) or (seen.strerror or str(seen)).lower()
        seen = seen.__cause__ or seen.__context__
    return None


def local_feed_path(url: str, *, allow_file: bool) -> Path | None:
    """The path for a local feed, None for http(s); raises for any other scheme."""
    try:
        parts = urlsplit(url)
    except ValueError as e:  # "http://[::1/feed": an unclosed IPv6 bracket
        raise FetchError(url, f"not a valid URL: {e}") from e
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        return None
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise BlockedURL(url, f"file URL names another host ({parts.netloc})")
        path = Path(unquote(parts.path))
    elif scheme == "" or (len(scheme) == 1 and os.name == "nt"):  # C:\feeds\x.xml
        path = Path(url)
    else:
        raise BlockedURL(url, f"cannot fetch {scheme}: URLs, only http, https and files")
    if not allow_file:
        raise BlockedURL(url, "local files may not be fetched here, only http(s) URLs")
    return path


def first_line(text: str) -> str:
    """The first line of an error's text: our messages are one line."""
    return text.strip().splitlines()[0] if text.strip() else ""


def int_or_none(value: str | None) -> int | None:
    """A header's whole number (Content-Length), or None when absent or malformed."""
    if value is None or not value.strip().isdigit():
        return None
    return int(value)

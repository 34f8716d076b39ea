from __future__ import annotations

import errno
import gzip
import itertools
import socket
import zlib
from datetime import UTC, datetime, timedelta, timezone

import pytest

from aggregator.feeds._fetch_utils import (
    DECODE_CHUNK,
    ContentDecoder,
    DecodingError,
    UnsupportedEncoding,
    format_size,
    http_date,
    os_reason,
    parse_max_age,
    parse_retry_after,
)
from tests.hostile_server import gzip_bomb

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


# --- Retry-After -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", NOW + timedelta(minutes=2)),
        ("  0 ", NOW),
        # RFC 9110's own example date.
        ("Fri, 31 Dec 1999 23:59:59 GMT", datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC)),
        ("Sun, 01 Mar 2026 12:05:00 GMT", datetime(2026, 3, 1, 12, 5, tzinfo=UTC)),
        # A numeric zone other than GMT is converted, not dropped: 14:00 at +02:00.
        ("Sun, 01 Mar 2026 14:00:00 +0200", datetime(2026, 3, 1, 12, 0, tzinfo=UTC)),
        # "-0000" means "zone unknown"; HTTP dates are GMT.
        ("Sun, 01 Mar 2026 12:00:30 -0000", datetime(2026, 3, 1, 12, 0, 30, tzinfo=UTC)),
        ("-5", None),
        ("1.5", None),
        ("soon", None),
        ("", None),
        (None, None),
        ("9" * 40, None),  # too far away to be a date at all
    ],
)
def test_parse_retry_after(value: str | None, expected: datetime | None) -> None:
    got = parse_retry_after(value, NOW)
    assert got == expected
    if got is not None:
        assert got.utcoffset() == timedelta(0)


# --- Cache-Control -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("max-age=300", 300),
        ("public, max-age=3600, must-revalidate", 3600),
        ("MAX-AGE=60", 60),
        ('max-age="120"', 120),
        ("s-maxage=10, max-age=20", 20),
        ("max-age = 45", 45),
        ("max-age=0", 0),
        ("no-cache", None),
        ("max-age=soon, max-age=30", None),  # first one wins, and it is broken
        ("max-age=-1", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_max_age(value: str | None, expected: int | None) -> None:
    assert parse_max_age(value) == expected


def test_http_date_is_imf_fixdate_in_gmt() -> None:
    # The example in RFC 9110 §5.6.7.
    assert http_date(datetime(1994, 11, 6, 8, 49, 37, tzinfo=UTC)) == (
        "Sun, 06 Nov 1994 08:49:37 GMT"
    )
    plus_two = timezone(timedelta(hours=2))
    assert http_date(datetime(1994, 11, 6, 10, 49, 37, tzinfo=plus_two)) == (
        "Sun, 06 Nov 1994 08:49:37 GMT"
    )


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0 bytes"),
        (1023, "1023 bytes"),
        (1024, "1 KiB"),
        (1536, "1.5 KiB"),
        (50 * 1024 * 1024, "50 MiB"),
        (3 * 1024**3, "3 GiB"),
        (5000 * 1024**3, "5000 GiB"),
    ],
)
def test_format_size(n: int, text: str) -> None:
    assert format_size(n) == text


# --- OS error reasons --------------------------------------------------------------


def _chained(cause: BaseException) -> Exception:
    """An error whose cause is ``cause`` two levels down, as httpx chains httpcore's."""
    try:
        try:
            raise cause
        except BaseException as inner:
            raise RuntimeError("httpcore error") from inner
    except RuntimeError as middle:
        try:
            raise LookupError("httpx error") from middle
        except LookupError as outer:
            return outer


@pytest.mark.parametrize(
    ("cause", "reason"),
    [
        (ConnectionResetError(errno.ECONNRESET, "reset"), "connection reset by peer"),
        (ConnectionRefusedError(errno.ECONNREFUSED, "refused"), "connection refused"),
        (socket.gaierror(socket.EAI_NONAME, "unknown"), "could not resolve the host name"),
        (OSError(errno.EACCES, "Permission Denied"), "permission denied"),
    ],
)
def test_os_reason_walks_the_cause_chain(cause: OSError, reason: str) -> None:
    assert os_reason(_chained(cause)) == reason


def test_os_reason_is_none_without_an_os_error() -> None:
    assert os_reason(_chained(ValueError("x"))) is None


# --- body decoding -----------------------------------------------------------------

FEED = b"<?xml version='1.0'?><rss><channel><title>T</title></channel></rss>\n" * 500


def _decode_all(decoder: ContentDecoder, body: bytes, step: int) -> bytes:
    out = bytearray()
    for i in range(0, len(body), step):
        for piece in decoder.decode(body[i : i + step]):
            out += piece
    for piece in decoder.finish():
        out += piece
    return bytes(out)


def _raw_deflate(data: bytes) -> bytes:
    c = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return c.compress(data) + c.flush()


@pytest.mark.parametrize("step", [1, 7, 4096, 1 << 20])
@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        (None, lambda d: d),
        ("identity", lambda d: d),
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("GZIP", gzip.compress),
        ("gzip", zlib.compress),  # mislabelled zlib data, seen in the wild
        ("deflate", zlib.compress),  # the RFC's "deflate": a zlib stream
        ("deflate", _raw_deflate),  # what some servers send instead
        ("gzip", lambda d: gzip.compress(d[:1000]) + gzip.compress(d[1000:])),  # 2 members
        ("gzip, deflate", lambda d: zlib.compress(gzip.compress(d))),  # applied in order
    ],
)
def test_decoder_round_trips(encoding: str | None, encode: object, step: int) -> None:
    assert callable(encode)
    body = encode(FEED)
    assert _decode_all(ContentDecoder(encoding), body, step) == FEED


def test_decoder_ignores_junk_after_the_gzip_stream() -> None:
    body = gzip.compress(FEED) + b"\r\n\r\n"
    assert _decode_all(ContentDecoder("gzip"), body, 100) == FEED


def test_decoder_passes_a_truncated_stream_through() -> None:
    items = b"".join(b"<item><guid>%d</guid></item>" % (i * 7919) for i in range(20000))
    whole = gzip.compress(items)
    got = _decode_all(ContentDecoder("gzip"), whole[: len(whole) // 2], 1000)
    assert 0 < len(got) < len(items)
    assert items.startswith(got)


def test_decoder_rejects_corrupt_data() -> None:
    with pytest.raises(DecodingError, match="not valid gzip data"):
        _decode_all(ContentDecoder("gzip"), b"this is not gzip at all", 100)
    with pytest.raises(DecodingError, match="not valid deflate data"):
        _decode_all(ContentDecoder("deflate"), b"\xff\xff\xff\xff", 100)


@pytest.mark.parametrize("encoding", ["br", "zstd", "compress", "gzip, br"])
def test_decoder_refuses_codings_we_never_asked_for(encoding: str) -> None:
    with pytest.raises(UnsupportedEncoding):
        ContentDecoder(encoding)


def test_decoder_pieces_are_bounded_and_lazy() -> None:
    # 1 GiB of zeros in ~1 MiB: one call may not hand it all back. Taking the first
    # few pieces must be quick and each piece at most DECODE_CHUNK, however much
    # input was given at once.
    bomb = gzip_bomb(1024)
    pieces = list(itertools.islice(ContentDecoder("gzip").decode(bomb), 50))
    assert len(pieces) == 50
    assert all(0 < len(p) <= DECODE_CHUNK for p in pieces)
    assert not any(any(p) for p in pieces)  # zeros, as built


def test_gzip_bomb_helper_is_valid_gzip_of_the_stated_size() -> None:
    # The helper's trailer is built by hand; a full inflate checks CRC and length.
    assert _decode_all(ContentDecoder("gzip"), gzip_bomb(3), 1 << 20) == bytes(3 << 20)
    assert gzip.decompress(gzip_bomb(2)) == bytes(2 << 20)

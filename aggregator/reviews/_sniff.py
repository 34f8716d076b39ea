"""What a review's bytes are: binary or text, HTML or Markdown or plain text, and in
which character encoding.

Reviews come from files, stdin and web servers that may say nothing true about
them, so the kind is taken from the media type, else the file name, else the
content; the encoding from a byte-order mark, else the declared charset, else
UTF-8, else a detector's guess. Nothing here raises on bad bytes except
:func:`refuse_binary`, which is meant to.
"""

from __future__ import annotations

import codecs
import enum
import re
from pathlib import PurePath

import charset_normalizer

from aggregator.exceptions import ReviewError

# How much of the input the binary and charset sniffers look at.
_SNIFF_BYTES = 64 * 1024
# Share of C0 control characters (other than tab, newlines, form feed) above which
# input is binary. Text never has them; random bytes have ~11%.
_MAX_CONTROL_SHARE = 0.05
# Up to this many invalid sequences, text with valid UTF-8 in it is taken as UTF-8.
_FEW_BROKEN = 8
# Share of bytes above 127 from which 8-bit text is not Western (cp1252) text:
# German or French prose has 1-5%, Russian in cp1251 over 50%.
_MOSTLY_NON_ASCII = 0.2

# Magic numbers of the binary files people paste or upload by mistake.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "PDF document"),
    (b"\x89PNG\r\n\x1a\n", "PNG image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"GIF87a", "GIF image"),
    (b"GIF89a", "GIF image"),
    (b"PK\x03\x04", "ZIP archive"),
    (b"PK\x05\x06", "ZIP archive"),
    (b"\x1f\x8b", "GZIP archive"),
    (b"RIFF", "RIFF media (WAV, AVI or WebP)"),
    (b"\xfd7zXZ\x00", "XZ archive"),
    (b"7z\xbc\xaf\x27\x1c", "7-Zip archive"),
    (b"\x7fELF", "ELF executable"),
    (b"ID3", "MP3 audio"),
    (b"OggS", "Ogg audio"),
    (b"fLaC", "FLAC audio"),
)

_BOMS: tuple[tuple[bytes, str], ...] = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.I)
_HTML_START = re.compile(r"(<\?xml[^>]*>\s*)?<(!doctype\s+html|html)\b", re.I)
_HTML_TAG = re.compile(
    r"</?(html|head|body|p|div|span|a|br|h[1-6]|ul|ol|li|article|section|main|nav|header|"
    r"footer|table|tr|td|img|em|strong|blockquote|meta|title|script|style)\b[^<>]*>",
    re.I,
)
_HTML_MIN_TAGS = 5
_MARKDOWN_LINK = re.compile(r"\[[^\]\n]+\]\((https?://|/)[^)\s]+\)")
_MARKDOWN_HEADING = re.compile(r"\s*#{1,6} \S")


class Kind(enum.Enum):
    HTML = "html"
    MARKDOWN = "markdown"
    TEXT = "text"


_CONTENT_TYPES = {
    "text/html": Kind.HTML,
    "application/xhtml+xml": Kind.HTML,
    "text/markdown": Kind.MARKDOWN,
    "text/x-markdown": Kind.MARKDOWN,
    "text/plain": Kind.TEXT,
}
_SUFFIXES = {
    ".html": Kind.HTML,
    ".htm": Kind.HTML,
    ".xhtml": Kind.HTML,
    ".md": Kind.MARKDOWN,
    ".markdown": Kind.MARKDOWN,
    ".txt": Kind.TEXT,
    ".text": Kind.TEXT,
}


def refuse_binary(data: bytes) -> None:
    """Raise ``ReviewError`` when ``data`` is a known binary format or not text."""
    for magic, name in _MAGIC:
        if data.startswith(magic):
            raise ReviewError(f"review looks like binary data ({name})")
    head = data[:_SNIFF_BYTES]
    if any(head.startswith(bom) for bom, name in _BOMS if name != "utf-8"):
        return  # UTF-16/32 text is full of NUL bytes (its controls go when decoded)
    if b"\x00" in head:
        raise ReviewError("review looks like binary data (it contains NUL bytes)")
    controls = sum(head.count(bytes([c])) for c in (*range(1, 9), 11, *range(14, 32), 127))
    if head and controls / len(head) > _MAX_CONTROL_SHARE:
        raise ReviewError("review looks like binary data (many control characters)")


# --- kind and decoding ---------------------------------------------------------------


def detect_kind(data: bytes, filename: str | None, content_type: str | None) -> Kind:
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type in _CONTENT_TYPES:
        return _CONTENT_TYPES[media_type]
    suffix = PurePath(filename).suffix.lower() if filename else ""
    if suffix in _SUFFIXES:
        return _SUFFIXES[suffix]
    head = _head(data).lstrip()
    while head.startswith("<!--") and "-->" in head:  # comments before the doctype
        head = head[head.index("-->") + 3 :].lstrip()
    if _HTML_START.match(head) or len(_HTML_TAG.findall(head)) >= _HTML_MIN_TAGS:
        return Kind.HTML
    if _MARKDOWN_LINK.search(head) or _MARKDOWN_HEADING.match(head):
        return Kind.MARKDOWN
    return Kind.TEXT


def decode(data: bytes, content_type: str | None, kind: Kind) -> str:
    """Decode by BOM, declared charset, UTF-8, a detector's guess, then cp1252."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(encoding, "replace")
    declared = [_codec(_charset_param(content_type))]
    if kind is Kind.HTML:
        match = _META_CHARSET.search(data[:4096])
        meta = _codec(match.group(1).decode("ascii")) if match else None
        # A <meta> that could be read as ASCII cannot be right about UTF-16/32.
        declared.append(None if meta and meta.startswith(("utf-16", "utf-32")) else meta)
    for encoding in filter(None, declared):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    # UTF-8 with a few broken bytes (a truncated or patched file): keep UTF-8 rather
    # than let a guess reinterpret every accented letter.
    lenient = data.decode("utf-8", "replace")
    broken = lenient.count("\ufffd")
    valid = sum(1 for c in lenient if ord(c) > 127 and c != "\ufffd")
    if valid and (broken <= _FEW_BROKEN or valid >= broken):
        return lenient
    # Legacy 8-bit text. Western text (our reviews) is mostly ASCII and cp1252 reads
    # it right; the detector, unreliable on a few accented letters, is asked only
    # when most of the text is non-ASCII (Cyrillic, Greek, CJK legacy encodings).
    high = sum(1 for byte in data[:_SNIFF_BYTES] if byte > 127)
    if high > _MOSTLY_NON_ASCII * min(len(data), _SNIFF_BYTES):
        guess = charset_normalizer.from_bytes(data[:_SNIFF_BYTES]).best()
        guessed = _codec(guess.encoding) if guess is not None else None
        return data.decode(guessed or "cp1252", "replace")
    return data.decode("cp1252", "replace")


def _head(data: bytes) -> str:
    """The first bytes as text, for sniffing (BOM-aware, never failing)."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data[len(bom) : _SNIFF_BYTES].decode(encoding, "replace")
    return data[:_SNIFF_BYTES].decode("utf-8", "replace")


def _charset_param(content_type: str | None) -> str | None:
    match = re.search(r"charset\s*=\s*[\"']?([^\s;\"']+)", content_type or "", re.I)
    return match.group(1) if match else None


def _codec(label: str | None) -> str | None:
    """Python's codec for a charset label; Latin-1 means cp1252 as browsers read it."""
    try:
        name = codecs.lookup(label or "").name
        b"x".decode(name, "replace")  # "base64", "rot13" are codecs but not charsets
    except LookupError:
        return None
    return "cp1252" if name in {"latin-1", "iso8859-1", "ascii"} else name

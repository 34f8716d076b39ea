"""HTML from feeds, made safe to show (nh3) and turned into plain text.

Show notes are publisher-written HTML that we later render in web pages and
re-publish in combined feeds, so they go through an allow-list sanitizer (nh3,
the Python binding of Rust's ammonia) once, at parse time. Relative links and
image sources are made absolute against the feed (or item) URL on the way,
because the HTML is shown far away from the document it came from.
"""

from __future__ import annotations

import re
import unicodedata
from html.parser import HTMLParser
from urllib.parse import urljoin

import nh3

__all__ = ["html_to_text", "safe_url_scheme", "sanitize_html", "storable_text"]

# Attributes holding a URL that a reader's browser would follow or load: every one
# HTML has, not only the few nh3 lets through today (href, src, cite), so that a
# longer allow-list some day cannot let one past unchecked.
_URL_ATTRIBUTES = frozenset(
    {
        "href", "src", "cite", "action", "formaction", "background", "poster",
        "longdesc", "usemap", "manifest", "codebase", "data", "icon", "profile",
        "classid", "dynsrc", "lowsrc", "xlink:href",
    }
)  # fmt: skip
# Attributes holding several URLs: dropped rather than parsed.
_URL_LIST_ATTRIBUTES = frozenset({"srcset", "ping", "archive"})

# URL schemes a link or an image may keep (nh3's own list keeps these too); any other
# scheme, javascript: and data: first, goes with its attribute.
_SAFE_SCHEMES = frozenset({"http", "https", "mailto", "tel", "ftp", "ftps", "sms", "news"})
_SCHEME = re.compile(r"([a-zA-Z][a-zA-Z0-9+.\-]*):")

# Elements after which text continues on a new line when flattened.
_BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt",
        "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header",
        "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "tr", "ul",
    }
)  # fmt: skip

# Elements whose content is never text a reader sees.
_HIDDEN_TAGS = frozenset({"script", "style", "template", "head", "title", "noscript"})

# Characters no store or document of ours can carry: C0 controls but tab and line
# breaks (PostgreSQL's text refuses NUL, XML 1.0 every one of them), lone surrogates
# (not encodable as UTF-8: a numeric character reference like &#xD800; makes one) and
# the non-characters U+FFFE and U+FFFF.
_UNSTORABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

_SPACES = re.compile(r"[^\S\n]+")
_NEWLINES = re.compile(r"\n\s*")


def sanitize_html(html: str, base_url: str | None = None) -> str:
    """Return ``html`` with only harmless markup left, links made absolute.

    Scripts, styles, event handlers and ``javascript:`` URLs go; ordinary
    formatting, links and images stay.

    >>> sanitize_html('<p onclick="x()">Hi <script>alert(1)</script><b>there</b></p>')
    '<p>Hi <b>there</b></p>'
    >>> sanitize_html('<a href="/ep/1">notes</a>', "https://example.com/feed.xml")
    '<a href="https://example.com/ep/1" rel="noopener noreferrer">notes</a>'
    >>> sanitize_html('<a href="javascript:alert(1)">x</a>')
    '<a rel="noopener noreferrer">x</a>'
    >>> sanitize_html('<a href="&nbsp;javascript:alert(1)">x</a>')
    '<a rel="noopener noreferrer">x</a>'
    >>> sanitize_html("   ")
    ''
    """
    if not html.strip():
        return ""

    def absolute(tag: str, attribute: str, value: str) -> str | None:
        if attribute in _URL_LIST_ATTRIBUTES:
            return None
        if attribute not in _URL_ATTRIBUTES:
            return value
        # A space of any kind, a control or an invisible format character before
        # "javascript:" hides the scheme from nh3's check ("&nbsp;javascript:...",
        # U+3000, U+2028, U+0085, U+200A); no link needs them at its ends.
        value = _trim_url(value)
        if base_url:
            try:
                value = urljoin(base_url, value)
            except ValueError:  # e.g. an invalid IPv6 host in the link
                return None
        # nh3 checks the value it hands us, not the one we hand back: what we return
        # (trimmed, joined to the base) is checked again, as a browser would read it.
        return value if safe_url_scheme(value) else None

    return nh3.clean(html, attribute_filter=absolute).strip()


def safe_url_scheme(url: str) -> bool:
    """Whether ``url`` is relative or has a scheme on the allow-list, once every
    Unicode space, control and format character is taken out of it.

    Browsers drop tabs and line breaks anywhere in a URL and other controls and
    spaces at its ends; taking every such character out, anywhere, finds at least
    the scheme a browser finds (a scheme is ASCII letters, digits and ``+-.``), and
    sometimes one a browser would not see: that link is dropped, which costs little.

    >>> safe_url_scheme("https://example.com/"), safe_url_scheme("/ep/1")
    (True, True)
    >>> safe_url_scheme("java\tscript:alert(1)"), safe_url_scheme("java\u200bscript:x")
    (False, False)
    >>> safe_url_scheme("\u3000JAVASCRIPT:alert(1)"), safe_url_scheme("file:///etc/passwd")
    (False, False)
    """
    probe = "".join(ch for ch in url if unicodedata.category(ch)[0] not in "ZC")
    scheme = _SCHEME.match(probe)
    return scheme is None or scheme.group(1).lower() in _SAFE_SCHEMES


def _trim_url(value: str) -> str:
    """``value`` without the spaces, controls and format characters at its ends."""
    start, end = 0, len(value)
    while start < end and unicodedata.category(value[start])[0] in "ZC":
        start += 1
    while end > start and unicodedata.category(value[end - 1])[0] in "ZC":
        end -= 1
    return value[start:end]


def storable_text(text: str) -> str:
    """``text`` without the characters no database or XML document can carry.

    >>> storable_text("Bad\\x00 byte\\x0b here\\ud800, tab\\tand line\\nkept")
    'Bad byte here, tab\\tand line\\nkept'
    """
    if _UNSTORABLE.search(text) is None:
        return text  # nearly always: no copy
    return _UNSTORABLE.sub("", text)


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN_TAGS:
            self._hidden_depth += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN_TAGS:
            self._hidden_depth = max(0, self._hidden_depth - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden_depth:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Return the text a reader would see in ``html``: block elements become line
    breaks (one, however many blocks meet), runs of spaces (including no-break
    spaces) collapse to one, entities are decoded.

    >>> html_to_text("<h1>This is a <em>test</em></h1><p>Caf&eacute;&nbsp;&amp; more</p>")
    'This is a test\\nCafé & more'
    >>> html_to_text("one<br>two<script>var x;</script>")
    'one\\ntwo'
    >>> html_to_text("plain   text\\n\\n\\n\\nnext")
    'plain text\\nnext'
    """
    collector = _TextCollector()
    collector.feed(html)
    collector.close()
    text = "".join(collector.parts)
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    text = "\n".join(lines)
    return _NEWLINES.sub("\n", text).strip()

"""sanitize_html / html_to_text, and the doctests of the small pure helpers."""

from __future__ import annotations

import doctest
import re
import unicodedata
from collections.abc import Callable
from html.parser import HTMLParser

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from aggregator import sanitize
from aggregator.feeds import _itemcap, _itemsplit, durations
from aggregator.sanitize import html_to_text, sanitize_html


@pytest.mark.parametrize("module", [sanitize, durations, _itemsplit, _itemcap])
def test_doctests(module: object) -> None:
    failed, attempted = doctest.testmod(module, optionflags=doctest.ELLIPSIS)  # type: ignore[arg-type]
    assert attempted > 0
    assert failed == 0


@pytest.mark.parametrize(
    ("dirty", "clean"),
    [
        ("<img src=x onerror=alert(1)>", '<img src="x">'),
        ('<a href="javascript:alert(1)">x</a>', '<a rel="noopener noreferrer">x</a>'),
        ("<iframe src='https://evil.example'></iframe>after", "after"),
        ("<style>p{color:red}</style><p>text</p>", "<p>text</p>"),
        ("<p style='position:fixed'>x</p>", "<p>x</p>"),
        ("<svg><script>alert(1)</script></svg>ok", "ok"),
        ("<!-- a comment --><b>bold</b>", "<b>bold</b>"),
        ("unclosed <b>bold", "unclosed <b>bold</b>"),
        ("AT&T < 5", "AT&amp;T &lt; 5"),
    ],
)
def test_sanitize_removes_what_could_run(dirty: str, clean: str) -> None:
    assert sanitize_html(dirty) == clean


def test_relative_urls_become_absolute_against_the_base() -> None:
    html = '<a href="../ep/2">two</a> <img src="/img/a.png"> <a href="https://x.example/">x</a>'
    assert sanitize_html(html, "https://pod.example/feeds/main.xml") == (
        '<a href="https://pod.example/ep/2" rel="noopener noreferrer">two</a> '
        '<img src="https://pod.example/img/a.png"> '
        '<a href="https://x.example/" rel="noopener noreferrer">x</a>'
    )


def test_without_a_base_relative_urls_stay() -> None:
    assert sanitize_html('<img src="a.png">') == '<img src="a.png">'


def test_a_broken_url_does_not_break_sanitizing() -> None:
    out = sanitize_html('<a href="http://[::1">x</a>', "https://pod.example/")
    assert out == '<a rel="noopener noreferrer">x</a>'


def test_html_to_text_keeps_what_a_reader_sees() -> None:
    html = (
        "<p>First&nbsp;paragraph with <a href='x'>a link</a>.</p>"
        "<ul><li>one</li><li>two</li></ul><style>.x{}</style>tail &amp; end"
    )
    assert html_to_text(html) == "First paragraph with a link.\none\ntwo\ntail & end"


def test_html_to_text_of_plain_text_is_the_text() -> None:
    assert html_to_text("  just   words \n here ") == "just words\nhere"
    assert html_to_text("") == ""


@pytest.mark.parametrize(
    "space", ["&nbsp;", "\u3000", "\u2028", "\u0085", "\u200a", "\u200b", "\t"]
)
@pytest.mark.parametrize("attribute", ["a href", "img src", "blockquote cite"])
def test_no_space_hides_a_javascript_url(space: str, attribute: str) -> None:
    tag, name = attribute.split()
    html = f'<{tag} {name}="{space}javascript:alert(1)">x</{tag}>'
    for base in (None, "https://example.com/feed.xml"):
        cleaned = sanitize_html(html, base)
        assert "javascript" not in cleaned.lower(), (repr(space), cleaned)
        assert f"{name}=" not in cleaned


# --- URL attributes, after every normalization a browser might do -------------------------

# The schemes that run code or read local files, in the spellings a browser accepts.
_DANGEROUS = ("javascript", "vbscript", "data", "file", "JaVaScRiPt")
# Spaces, line and paragraph separators, controls and format (invisible) characters:
# what a browser drops from a URL (tabs and line breaks anywhere, C0 controls and spaces
# at its ends) and the rest, which hides a scheme from a scheme check that drops less.
_NOISE = st.characters(categories=["Zs", "Zl", "Zp", "Cc", "Cf"])


class _UrlAttributes(HTMLParser):
    """The values of every href, src and cite in a document, entities decoded."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.values: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.values += [v or "" for k, v in attrs if k in ("href", "src", "cite")]


def _scheme_after(url: str, drop: Callable[[int, str], bool]) -> str | None:
    kept = "".join(ch for i, ch in enumerate(url) if not drop(i, url))
    match = re.match(r"([a-zA-Z][a-zA-Z0-9+.\-]*):", kept)
    return match.group(1).lower() if match else None


def _whatwg_scheme(url: str) -> str | None:
    """The scheme the WHATWG URL parser (browsers) reads: C0 controls and spaces
    trimmed from both ends, tabs and line breaks removed anywhere."""
    return _scheme_after(url.strip("".join(map(chr, range(0x21)))), lambda i, u: u[i] in "\t\n\r")


def _strict_scheme(url: str) -> str | None:
    """The scheme once every space, control and format character is removed."""
    return _scheme_after(url, lambda i, u: unicodedata.category(u[i])[0] in "ZC")


@st.composite
def _disguised_url(draw: st.DrawFn) -> str:
    """``javascript:alert(1)`` and its kin with noise anywhere, each character written
    as itself or as a numeric character reference."""
    url = list(f"{draw(st.sampled_from(_DANGEROUS))}:alert(1)")
    for _ in range(draw(st.integers(1, 4))):
        url.insert(draw(st.integers(0, len(url))), draw(_NOISE))
    as_reference = draw(st.lists(st.booleans(), min_size=len(url), max_size=len(url)))
    return "".join(
        f"&#x{ord(ch):x};" if ref or ch in '"&<>' else ch
        for ch, ref in zip(url, as_reference, strict=True)
    )


@settings(max_examples=400, deadline=None)
@given(
    url=_disguised_url(),
    element=st.sampled_from(["a href", "img src", "blockquote cite", "q cite"]),
    base=st.sampled_from([None, "https://pod.example/feed.xml", "file:///srv/feeds/x.xml"]),
)
@example(url="java\u200bscript:alert(1)", element="a href", base=None)
@example(url="&#x3000;javascript:alert(1)", element="img src", base=None)
@example(url="java&#9;script:alert(1)", element="a href", base="https://pod.example/feed.xml")
def test_no_space_or_control_anywhere_lets_a_dangerous_scheme_through(
    url: str, element: str, base: str | None
) -> None:
    tag, name = element.split()
    cleaned = sanitize_html(f'<{tag} {name}="{url}">x</{tag}>', base)
    reader = _UrlAttributes()
    reader.feed(cleaned)
    for value in reader.values:
        assert _whatwg_scheme(value) in (None, "http", "https"), (url, cleaned)
        assert _strict_scheme(value) in (None, "http", "https"), (url, cleaned)


def test_a_relative_link_is_joined_and_checked_again() -> None:
    # An empty href joins to the base itself: a local feed's path is no link to publish.
    assert sanitize_html('<a href="">x</a>', "file:///home/me/feeds/pod.xml") == (
        '<a rel="noopener noreferrer">x</a>'
    )
    assert sanitize_html('<a href="">x</a>', "https://pod.example/feed.xml") == (
        '<a href="https://pod.example/feed.xml" rel="noopener noreferrer">x</a>'
    )

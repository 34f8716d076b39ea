"""sanitize_html / html_to_text, and the doctests of the small pure helpers."""

from __future__ import annotations

import doctest

import pytest

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

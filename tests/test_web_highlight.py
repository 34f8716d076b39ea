"""highlight / excerpt: the text survives exactly, every span is marked, marks nest."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

from hypothesis import given
from hypothesis import strategies as st

from aggregator.web.highlight import Span, excerpt, highlight

_TAG = re.compile(r"<[^>]*>")


def strip(markup: str) -> str:
    return html.unescape(_TAG.sub("", markup))


class _Labels(HTMLParser):
    """Per character of the text: the labels of the marks around it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chars: list[tuple[str, frozenset[str]]] = []
        self.stack: list[str] = []
        self.other_tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "mark" or [name for name, _ in attrs] != ["title"]:
            self.other_tags.append(tag)
            return
        self.stack.append(dict(attrs)["title"] or "")

    def handle_endtag(self, tag: str) -> None:
        assert tag == "mark" and self.stack, "a close tag without its open tag"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        labels = frozenset(label for title in self.stack for label in title.split("; "))
        self.chars.extend((c, labels) for c in data)


@st.composite
def texts_and_spans(draw: st.DrawFn) -> tuple[str, list[Span]]:
    # Text with markup characters, entities, quotes and newlines mixed in.
    # ("…" is left out: excerpts use it to say the text goes on.)
    chars = st.sampled_from("ab <>&\"';\n\r\t#x") | st.characters(exclude_characters="…")
    text = draw(st.text(alphabet=chars, max_size=60))
    n = len(text)
    # Mostly spans inside the text (so they nest, cross and repeat), some off it.
    inside = st.tuples(st.integers(0, n), st.integers(0, n)).map(sorted)
    anywhere = st.tuples(st.integers(-3, n + 3), st.integers(-3, n + 3))
    bounds = draw(st.lists(inside | inside | anywhere, max_size=8))
    label_chars = st.sampled_from("\"'<>&= x") | st.characters(exclude_characters=";")
    labels = st.text(alphabet=label_chars, min_size=1, max_size=8)
    return text, [Span(start, end, draw(labels)) for start, end in bounds]


@given(texts_and_spans())
def test_tags_removed_and_entities_unescaped_give_back_the_text(
    case: tuple[str, list[Span]],
) -> None:
    text, spans = case
    assert strip(highlight(text, spans)) == text


@given(texts_and_spans())
def test_every_span_is_marked_and_nothing_else(case: tuple[str, list[Span]]) -> None:
    text, spans = case
    parser = _Labels()
    parser.feed(str(highlight(text, spans)))
    parser.close()
    assert parser.other_tags == []
    assert parser.stack == [], "every mark is closed"
    assert "".join(c for c, _ in parser.chars) == text
    valid = [s for s in spans if 0 <= s.start < s.end <= len(text)]
    for i, (_, labels) in enumerate(parser.chars):
        expected = {s.label.strip() for s in valid if s.start <= i < s.end}
        assert {label.strip() for label in labels} == expected


@given(texts_and_spans())
def test_an_excerpt_is_a_piece_of_the_text(case: tuple[str, list[Span]]) -> None:
    text, spans = case
    shown = strip(excerpt(text, spans, before=5, after=7))
    piece = shown.removeprefix("… ").removesuffix(" …")
    assert piece in text
    if not shown.startswith("… "):
        assert text.startswith(piece)
    if not shown.endswith(" …"):
        assert text.endswith(piece)


def test_excerpt_centres_on_the_first_span_given() -> None:
    text = "word " * 200 + "Challimachi said so. " + "more " * 200
    start = text.index("Challimachi")
    shown = excerpt(text, [Span(start, start + 11, "host")])
    assert '<mark title="host">Challimachi</mark>' in shown
    assert shown.startswith("… word") and shown.endswith("more …")
    assert len(strip(shown)) < 450


def test_highlight_of_nested_and_identical_spans() -> None:
    text = "the New York Times"
    shown = highlight(text, [Span(13, 18, "b"), Span(0, 18, "a"), Span(13, 18, "c")])
    assert shown == '<mark title="a">the New York <mark title="b; c">Times</mark></mark>'

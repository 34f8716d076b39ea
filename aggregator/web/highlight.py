"""Review text with its evidence marked: plain text in, safe HTML out.

Pure code, no I/O. Every character of the text is escaped; the only markup added is
``<mark title="...">`` around each span, so the page shows the words the linker read
and, on hover or long press, what they matched.

Spans may overlap ("the New York Times" holds "Times") or cross. Marks are always
properly nested: where two spans cross, the inner mark is closed at the end of the
outer one and opened again after it, so one span may become two adjacent marks, and
the text with the tags removed is the text given.
"""

from __future__ import annotations

import html
import itertools
from collections.abc import Iterable
from dataclasses import dataclass

from markupsafe import Markup

__all__ = ["EXCERPT_AFTER", "EXCERPT_BEFORE", "Span", "excerpt", "highlight"]


@dataclass(frozen=True, slots=True)
class Span:
    """Characters ``start`` to ``end`` (exclusive) of the text, and what they matched."""

    start: int
    end: int
    label: str


def _marks(text_length: int, spans: Iterable[Span]) -> list[Span]:
    """One mark (a span) per distinct (start, end), labels joined; spans off the text
    dropped.

    Sorted outermost first: by start, then the longest first.
    """
    labels: dict[tuple[int, int], list[str]] = {}
    for span in spans:
        if 0 <= span.start < span.end <= text_length:
            found = labels.setdefault((span.start, span.end), [])
            if span.label not in found:
                found.append(span.label)
    marks = [Span(start, end, "; ".join(found)) for (start, end), found in labels.items()]
    marks.sort(key=lambda m: (m.start, -m.end))
    return marks


def _open(mark: Span) -> str:
    return f'<mark title="{html.escape(mark.label, quote=True)}">'


def highlight(text: str, spans: Iterable[Span]) -> Markup:
    """``text`` escaped, with each span in a ``<mark>`` titled by its label.

    >>> print(highlight("Tom & Jerry", [Span(0, 3, 'a "cat"')]))
    <mark title="a &quot;cat&quot;">Tom</mark> &amp; Jerry
    >>> highlight("<b>", [])
    Markup('&lt;b&gt;')

    Nested spans nest; spans with the same extent share one mark:

    >>> highlight("the New York Times", [Span(0, 18, "author"), Span(13, 18, "short"),
    ...                                  Span(13, 18, "again")])
    Markup('<mark title="author">the New York <mark title="short; again">Times</mark></mark>')

    Crossing spans split the inner one where the outer one ends:

    >>> print(highlight("abcdef", [Span(0, 4, "x"), Span(2, 6, "y")]))
    <mark title="x">ab<mark title="y">cd</mark></mark><mark title="y">ef</mark>

    Spans outside the text, or empty, are ignored:

    >>> highlight("abc", [Span(-1, -1, "sidebar link"), Span(2, 9, "past the end"),
    ...                   Span(1, 1, "empty")])
    Markup('abc')
    """
    marks = _marks(len(text), spans)
    boundaries = sorted({0, len(text)} | {m.start for m in marks} | {m.end for m in marks})
    out: list[str] = []
    stack: list[Span] = []  # open marks, outermost first
    pending = 0  # index into marks of the next one to open
    for position, following in itertools.pairwise(boundaries):
        # Close down to the outermost mark that ends here; marks inside it that go
        # on are reopened below (in their original order, so nesting stays valid).
        ended = next((i for i, m in enumerate(stack) if m.end <= position), None)
        if ended is not None:
            reopen = [m for m in stack[ended:] if m.end > position]
            out.append("</mark>" * (len(stack) - ended))
            del stack[ended:]
            for mark in reopen:
                out.append(_open(mark))
                stack.append(mark)
        while pending < len(marks) and marks[pending].start == position:
            mark = marks[pending]
            out.append(_open(mark))
            stack.append(mark)
            pending += 1
        out.append(html.escape(text[position:following], quote=False))
    out.append("</mark>" * len(stack))
    return Markup("".join(out))


# Characters of context around the evidence in an excerpt: about two lines before and
# three after on a desktop page, enough to read the sentence the evidence sits in.
EXCERPT_BEFORE = 160
EXCERPT_AFTER = 240


def excerpt(
    text: str,
    spans: Iterable[Span],
    *,
    before: int = EXCERPT_BEFORE,
    after: int = EXCERPT_AFTER,
) -> Markup:
    """A short piece of ``text`` around the first of ``spans``, highlighted, cut at
    spaces. Callers put the strongest evidence first: the piece shows that.

    Without spans (or none inside the text) it is the start of the text. Spans that
    reach out of the piece are left unmarked.

    >>> excerpt("one two three four five six", [Span(8, 13, "n")], before=5, after=6)
    Markup('… two <mark title="n">three</mark> four …')
    >>> excerpt("one two three four five six", [Span(14, 18, "2nd"), Span(8, 13, "1st")],
    ...         before=5, after=6)
    Markup('… <mark title="2nd">four</mark> five …')
    >>> excerpt("short <text>", [])
    Markup('short &lt;text&gt;')
    """
    placed = [s for s in spans if 0 <= s.start < s.end <= len(text)]
    anchor = placed[0] if placed else Span(0, 0, "")
    start = max(anchor.start - before, 0)
    end = min(anchor.end + after, len(text))
    if start > 0:
        # Begin after a space, unless that would cut into the anchor itself.
        space = text.find(" ", start, anchor.start)
        start = space + 1 if space >= 0 else start
    if end < len(text):
        space = text.rfind(" ", max(start, anchor.end), end + 1)
        end = space if space >= 0 else end
    inside = [Span(s.start - start, s.end - start, s.label) for s in placed]
    piece = [s for s in inside if s.start >= 0 and s.end <= end - start]
    body = highlight(text[start:end], piece)
    prefix = "… " if start > 0 else ""
    suffix = " …" if end < len(text) else ""
    return Markup(prefix) + body + Markup(suffix)

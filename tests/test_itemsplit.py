"""Finding the raw bytes of each item, and refusing when a cut would not be safe."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from aggregator.feeds._itemsplit import split_items, without_spans

REAL = Path(__file__).resolve().parent / "data" / "feeds" / "real"


def _items(doc: bytes) -> list[bytes]:
    split = split_items(doc)
    assert split is not None
    return list(split.items(doc))


def test_items_and_the_rest_of_the_document() -> None:
    doc = (
        b'<?xml version="1.0"?>\n<rss><channel><title>T</title>\n'
        b"  <item><title>one</title></item>\n"
        b'  <item id="2"><title>two</title><enclosure url="a.mp3"/></item>\n'
        b"</channel></rss>"
    )
    assert _items(doc) == [
        b"<item><title>one</title></item>",
        b'<item id="2"><title>two</title><enclosure url="a.mp3"/></item>',
    ]
    split = split_items(doc)
    assert split is not None
    assert without_spans(doc, split.spans) == (
        b'<?xml version="1.0"?>\n<rss><channel><title>T</title>\n  \n  \n</channel></rss>'
    )


def test_markup_that_only_looks_like_items_is_skipped() -> None:
    doc = (
        b"<!DOCTYPE rss [ <!ENTITY x '<item>'> ]>"
        b"<rss><channel><!-- <item>old</item> -->"
        b"<?pi <item> ?>"
        b"<item><description><![CDATA[<item>in notes</item> </item>]]></description></item>"
        b"<itemize/><items/>"
        b"</channel></rss>"
    )
    assert _items(doc) == [
        b"<item><description><![CDATA[<item>in notes</item> </item>]]></description></item>"
    ]


def test_atom_entries_and_empty_items() -> None:
    doc = b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>1</id></entry><entry/></feed>'
    assert _items(doc) == [b"<entry><id>1</id></entry>", b"<entry/>"]


def test_a_quoted_greater_than_inside_a_tag() -> None:
    doc = b'<rss><channel><item title="a > b"><x/></item></channel></rss>'
    assert _items(doc) == [b'<item title="a > b"><x/></item>']


def test_upper_case_items_count_like_feedparser_counts_them() -> None:
    assert _items(b"<rss><channel><ITEM>a</ITEM></channel></rss>") == [b"<ITEM>a</ITEM>"]


def test_a_document_without_items_splits_into_nothing() -> None:
    split = split_items(b"<rss><channel><title>new show</title></channel></rss>")
    assert split is not None and split.spans == ()


@pytest.mark.parametrize(
    "doc",
    [
        pytest.param(b"<rss><channel><item><item></item></item></channel></rss>", id="nested"),
        pytest.param(b"<rss><channel><item><title>x</title></channel></rss>", id="unterminated"),
        pytest.param(b"<rss><channel></item></channel></rss>", id="stray-close"),
        pytest.param(b"<rss><channel><item>a</item><entry>b</entry></channel></rss>", id="mixed"),
        pytest.param(b"<rdf:RDF><rss:item>a</rss:item></rdf:RDF>", id="prefixed"),
        pytest.param(
            b"<rss><channel><item>a</item></channel><channel><item>b</item></channel></rss>",
            id="two-channels",
        ),
        pytest.param(b"<rss><channel><item><channel/></item></channel></rss>", id="in-item"),
        pytest.param(b"<rss><channel><!-- never closed <item>a</item>", id="open-comment"),
        pytest.param(b"<rss><channel><item><![CDATA[ open </item>", id="open-cdata"),
        pytest.param(b'<rss><channel><item a="unclosed></item></channel></rss>', id="open-quote"),
    ],
)
def test_unsafe_documents_are_refused(doc: bytes) -> None:
    assert split_items(doc) is None


@pytest.mark.parametrize(
    "path",
    sorted([*REAL.glob("*.xml"), *REAL.glob("*.rss")]),
    ids=lambda p: p.stem.split("__")[0],
)
def test_real_feeds_split_into_as_many_items_as_a_regex_counts(path: Path) -> None:
    doc = path.read_bytes()
    items = _items(doc)
    # An independent, cruder count: every "<item>" or "<item " in the file (none of
    # these feeds has one inside a comment or CDATA).
    assert len(items) == len(re.findall(rb"<item[\s>]", doc))
    assert all(item.startswith(b"<item") and item.endswith(b"</item>") for item in items)

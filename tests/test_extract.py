"""Review intake: main text, boilerplate, links, charsets, kinds and garbage.

Expected sentences and links were read off the input files by hand; the dev-set
reviews are the committed ones in ``tests/data/linking/reviews``.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import lxml.html  # type: ignore[import-untyped]
import pytest
import trafilatura
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aggregator.exceptions import ReviewError
from aggregator.reviews import extract
from aggregator.reviews._htmltext import posts
from aggregator.reviews.extract import (
    MAX_REVIEW_BYTES,
    extract_document,
    extract_html,
    review_content_hash,
)
from aggregator.types import ReviewDocument

DATA = Path(__file__).resolve().parent / "data"
REVIEWS = DATA / "linking" / "reviews"
EXTRACT = DATA / "extract"
SEED = REVIEWS / "seed.txt"

FURNITURE = ("Leave a Reply", "Share this", "Required fields", "email address", "Photo Credit")


def review(name: str, **kwargs: object) -> ReviewDocument:
    path = REVIEWS / name
    return extract_document(path.read_bytes(), filename=path.name, **kwargs)  # type: ignore[arg-type]


def assert_spans(document: ReviewDocument) -> None:
    for link in document.links:
        if link.start >= 0:
            assert document.text[link.start : link.end] == link.text, link


def paragraphs(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]


# --- the founding review -------------------------------------------------------------


@pytest.fixture(scope="module")
def seed_bytes() -> bytes:
    return SEED.read_bytes()


def test_founding_review_loses_its_blog_furniture(seed_bytes: bytes) -> None:
    document = extract_document(seed_bytes, filename="000_1b6acc4887f54450.txt")
    for furniture in FURNITURE:
        assert furniture not in document.text
    assert "Photo Credit" not in document.text
    assert document.text.endswith("horrifying soundbites speaks for itself.")
    assert document.title == "Behind the scenes of the Islamic State: Who are we really fighting?"
    assert document.html is None and document.links == ()


def test_founding_review_keeps_every_body_paragraph(seed_bytes: bytes) -> None:
    document = extract_document(seed_bytes, filename="review.txt")
    source = seed_bytes.decode("utf-8")
    # Title, eight body paragraphs (the pull quote among them): counted by hand.
    kept = paragraphs(document.text)
    assert len(kept) == 9
    for paragraph in paragraphs(source):
        if paragraph.startswith(("Photo Credit", "Leave a Reply", "Your email")):
            continue
        assert paragraph in kept
    for sentence in (
        "In a ten-episode long series, Callimachi attempts to turn the chaos",
        "Challimachi puts a voice, and conversely, a face, to the horror of ISIS.",
        "– Rukmini Calimacchi",
        "A very last-minute plot twist in the last episode reflects the idea",
        "Callamachi invites you to follow her into a behind the scenes of ISIS itself.",
    ):
        assert sentence in document.text


# (file, sentences kept, furniture gone), read off the dev-set text reviews by hand
DEV_TEXT = [
    (
        "b-gb-longread.txt",
        ["Verdict: four stars.", "There is nothing else quite like the Bombcast"],
        ["By Carla Menendez", "October 5, 2019", "Comments (2)", "joe_danger", "t-shirt"],
    ),
    (
        "a-cre-ohr-de.txt",
        [
            "Kleiner Kritikpunkt:",
            "Nach der langen Pause seit der Wikidata-Folge im Dezember ist es schön",
        ],
        ["Veröffentlicht am", "Kommentare (2)", "Danke für den Tipp", "CI-Trägerin"],
    ),
    (
        "a-cal-forum-ep3.txt",
        ["ep 3 on spotify", "> reply from mossgreen: same."],
        ["posted by throwaway_kestrel"],
    ),
    (
        "b-cortex-7habits-forum.txt",
        ["hollyb wrote:", "lol fair.", "Forum: productivity.example.org > Podcasts"],
        [],
    ),
    (
        "a-tal-retraction.txt",
        ["The retraction is the best episode This American Life has done in years"],
        ["Filed under Media"],
    ),
]


@pytest.mark.parametrize(("name", "kept", "gone"), DEV_TEXT)
def test_dev_set_text_reviews(name: str, kept: list[str], gone: list[str]) -> None:
    document = review(name)
    for sentence in kept:
        assert sentence in document.text
    for furniture in gone:
        assert furniture not in document.text


# --- dev-set HTML reviews ------------------------------------------------------------

# (file, sentences of the body, page furniture that must be gone, links with anchors)
DEV_HTML = [
    (
        "a-cal-longread.html",
        [
            "If you only have time for one hour, make it the fifth chapter.",
            "Ten chapters, plus a prologue; roughly seven hours in all.",
            "The producers flag this; I am not sure they flag it enough.",
        ],
        ["The Quiet Carriage", "Contact", "jonah_r", "Yazidi reunion episode wrecked me", "Tags:"],
        [],
    ),
    (
        "tal-693.html",
        ["Ira Glass mostly stays out of the way.", "The last act, in Minneapolis"],
        ["Radio Notes", "Archive", "Share:", "Facebook"],
        [("https://www.thisamericanlife.org/693/abdi-the-american", "This American Life")],
    ),
    (
        "a-serial-s3.html",
        ["It is less addictive than season one and, I think, more important."],
        [],
        [
            ("https://serialpodcast.org", "Serial"),
            (
                "https://serialpodcast.org/season-three/6/you-in-the-red-shirt",
                '"You in the Red Shirt"',
            ),
        ],
    ),
    (
        "a-neg-kalifat-tv.html",
        ["The show braids three stories.", "Eight episodes."],
        ["Photo Credit", "Streaming guide", "ScreenSide", "WhatsApp"],
        [],
    ),
    (
        "b-atp-series.html",
        ["It is a closed loop, and I have been happily inside it since 2013.", "Rating:"],
        ["The Long Listen", "Essays", "Tags:", "logged in"],
        [],
    ),
    (
        "a-tal-listicle.html",
        ["1. This American Life", "For the long-haul days."],
        ["Morning Transit", "Newsletter", "Pinterest"],
        [],
    ),
    (
        "b-uyd-500-video.html",
        ["If you've only ever listened, watch this."],
        ["couchbound", "Tumblr"],
        [],
    ),
]


@pytest.mark.parametrize(("name", "body", "gone", "links"), DEV_HTML)
def test_dev_set_html_main_text(
    name: str, body: list[str], gone: list[str], links: list[tuple[str, str]]
) -> None:
    document = review(name)
    for sentence in body:
        assert sentence in document.text
    for furniture in [*gone, *FURNITURE]:
        assert furniture not in document.text
    assert [(link.href, link.text) for link in document.links] == links
    assert all(link.start >= 0 for link in document.links)
    assert_spans(document)
    assert document.html is not None and "<script" not in document.html


@pytest.mark.parametrize("path", sorted(REVIEWS.glob("*.html")), ids=lambda p: p.name)
def test_every_dev_set_html_review(path: Path) -> None:
    document = extract_document(path.read_bytes(), filename=path.name, url="https://x.test/r/")
    for furniture in FURNITURE:
        assert furniture not in document.text
    assert len(paragraphs(document.text)) >= 2
    assert_spans(document)
    for link in document.links:
        assert link.href.startswith("http"), link
        assert link.href not in {"https://x.test/", "#"}


def test_html_metadata_from_the_page() -> None:
    document = review("a-cal-longread.html")
    assert document.title == "Listening to the enemy: a long look at Caliphate"
    assert document.author == "Mara Lindqvist"  # from "by Mara Lindqvist · July 9, 2018"
    assert document.published == datetime(2018, 7, 9, tzinfo=UTC)
    # "Themes, not resolutions | Paper Planner Club": the site name goes.
    assert review("b-cortex-62.html").title == "Themes, not resolutions"
    assert review("b-gb-555.html").title == "Bombcast 555 rates the fall lineup"


def test_given_metadata_wins() -> None:
    naive = datetime(2018, 7, 1, 12, 0)
    document = review("a-cal-longread.html", title="T", author="A", published=naive)
    assert (document.title, document.author) == ("T", "A")
    assert document.published == datetime(2018, 7, 1, 12, 0, tzinfo=UTC)
    cest = timezone(timedelta(hours=2))
    text = review("seed.txt", published=datetime(2018, 7, 1, 2, 0, tzinfo=cest))
    assert text.published == datetime(2018, 7, 1, 0, 0, tzinfo=UTC)


# --- a WordPress page with every kind of furniture ------------------------------------


@pytest.fixture(scope="module")
def wordpress() -> ReviewDocument:
    data = (EXTRACT / "wordpress.html").read_bytes()
    return extract_document(data, url="https://earworms.example.org/2019/03/slow-burn/")


def test_wordpress_page_furniture_is_gone(wordpress: ReviewDocument) -> None:
    for furniture in (
        "Skip to content",
        "cookies",
        "Home",
        "Photo by",
        "Share this",
        "Twitter",
        "Watergate summer",  # related post
        "Posted in Reviews",
        "Tags:",
        "3 thoughts",
        "unfair to the Starr team",  # a comment
        "Leave a Reply",
        "Embedded",  # sidebar
        "Subscribe",
        "All rights reserved",
        "WordPress",
        "March 14, 2019",  # byline
    ):
        assert furniture not in wordpress.text, furniture


def test_wordpress_body_is_kept(wordpress: ReviewDocument) -> None:
    text = wordpress.text
    assert text.startswith("Leon Neyfakh's Slow Burn made its name last year")
    # Body sentences that begin like furniture ("Related", "Posted in") stay.
    assert "Related episodes of other shows have tried this; none with this much patience." in text
    assert "Posted in full on the show's page, the transcript runs to thirty pages." in text
    # A list inside the review is not a navigation menu.
    assert "Bad Faith\nThe Tripp Tapes\nImpeachment\nAftermath" in text
    assert text.endswith("because they repeat what the episodes do better.")
    assert len(paragraphs(text)) == 5


def test_wordpress_links_resolved_against_base(wordpress: ReviewDocument) -> None:
    # <base href="https://earworms.example.org/2019/03/"> beats the page URL.
    assert [(link.href, link.text) for link in wordpress.links] == [
        ("https://slate.com/podcasts/slow-burn", "Slow Burn"),
        ("https://earworms.example.org/2019/03/season-two/episode-3/", '"Bad Faith"'),
    ]
    assert_spans(wordpress)
    assert wordpress.links[0].start == len("Leon Neyfakh's ")


def test_wordpress_metadata(wordpress: ReviewDocument) -> None:
    assert wordpress.title == "Slow Burn, season two: the Clinton years, replayed"
    assert wordpress.author == "Tobias Renner"
    assert wordpress.published == datetime(2019, 3, 14, tzinfo=UTC)
    assert wordpress.url == "https://earworms.example.org/2019/03/slow-burn/"
    assert wordpress.html is not None
    assert "<script" not in wordpress.html and "dataLayer" not in wordpress.html
    assert 'href="https://slate.com/podcasts/slow-burn"' in wordpress.html


def test_short_page_falls_back_when_trafilatura_finds_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(trafilatura, "bare_extraction", lambda *a, **k: None)
    document = review("tal-693.html", url="https://radionotes.example/2020/02/abdi")
    assert document.text.startswith("Abdi the American\n\nThis week's This American Life hands")
    assert "Ira Glass mostly stays out of the way." in document.text
    for furniture in ("Radio Notes", "Archive", "RSS", "Share", "Leave a Reply", "Posted"):
        assert furniture not in document.text
    assert [(link.href, link.text) for link in document.links] == [
        ("https://www.thisamericanlife.org/693/abdi-the-american", "This American Life")
    ]
    assert_spans(document)


def _post(heading: str, body: str) -> str:
    return (
        f'<article class="post"><h2 class="entry-title"><a href="/{heading[:5]}">{heading}</a>'
        f'</h2><div class="entry-content"><p>{body}</p><p>{body}</p></div></article>'
    )


_BODY_ONE = (
    "Episode 612 of the long-running radio show had teenagers asking adults for advice, "
    "and I laughed more than I expected to. The segment on the letter from a grandmother "
    "is the one I keep thinking about, and it is why I still listen every week."
)
_BODY_TWO = (
    "The next week was about jobs nobody else wants, from border patrol to night shifts "
    "at a hospital. It was uneven, but the act about the surgeon who operated on himself "
    "is something I will remember for a long time; do not skip that one."
)


def test_a_page_of_several_posts_keeps_every_post_and_its_heading() -> None:
    # A blog's tag page holding two reviews reviews both, and their headings are what
    # name the episodes; trafilatura keeps one post and drops the headings.
    page = (
        "<html><head><title>Tag: radio - A blog</title></head><body>"
        '<nav><a href="/">Home</a> <a href="/about">About</a></nav><main>'
        + _post("Radio Show #613: OK, I'll Do It", _BODY_TWO)
        + _post("Radio Show #612: Ask a Grown-Up", _BODY_ONE)
        + '</main><aside><h3>Archives</h3><a href="/2017">2017</a></aside></body></html>'
    )
    document = extract_html(page)
    text = document.text
    assert text.index("#613: OK, I'll Do It") < text.index("border patrol")
    assert text.index("border patrol") < text.index("#612: Ask a Grown-Up")
    assert text.index("#612: Ask a Grown-Up") < text.index("teenagers asking adults")
    for furniture in ("Home", "About", "Archives"):
        assert furniture not in text
    assert_spans(document)


def test_one_post_with_related_post_cards_is_one_post() -> None:
    # Themes mark up "related posts" cards as <article> too: short ones are not posts.
    cards = "".join(
        f'<article class="card"><a href="/p{i}">Another post {i}</a></article>' for i in range(3)
    )
    page = f"<html><body><main>{_post('My review', _BODY_ONE)}{cards}</main></body></html>"
    assert posts(lxml.html.document_fromstring(page)) == []
    assert "Another post" not in extract_html(page).text


def test_tiny_html_page_keeps_its_one_sentence() -> None:
    document = extract_html("<html><body><p>Great episode.</p></body></html>")
    assert document.text == "Great episode."


# --- plain text and Markdown -----------------------------------------------------------


def test_text_boilerplate_navigation_and_german() -> None:
    text = (
        "Home\nPodcasts\nArchiv\nÜber uns\nKontakt\n\n"
        "Hörempfehlung: Logbuch:Netzpolitik\n\n"
        "Veröffentlicht am 3. Mai 2021 von Jana K.\n\n"
        "Die neue Folge ist ein Lehrstück in Sachen Netzpolitik. Linus Neumann und Tim "
        "Pritlove nehmen sich die Chatkontrolle vor, und zwar gründlich.\n\n"
        "Diese Website verwendet Cookies. Wenn Sie die Seite weiter nutzen, stimmen Sie zu.\n\n"
        "Teilen mit:\nTwitter\nFacebook\n\n"
        "Schreibe einen Kommentar\n\n"
        "Deine E-Mail-Adresse wird nicht veröffentlicht.\n"
    )
    document = extract_document(text.encode(), filename="kritik.txt")
    assert document.text == (
        "Hörempfehlung: Logbuch:Netzpolitik\n\n"
        "Die neue Folge ist ein Lehrstück in Sachen Netzpolitik. Linus Neumann und Tim "
        "Pritlove nehmen sich die Chatkontrolle vor, und zwar gründlich."
    )


def test_text_comment_heading_cuts_the_rest() -> None:
    body = (
        "The finale of Serial's first season is a shrug, and I mean that as praise. "
        "Koenig refuses to pretend she knows more than she does, which is rare.\n\n"
    )
    text = (
        body + "What do you think?\n\nI loved it. Best podcast ever made, period, end of story.\n"
    )
    assert extract_document(text.encode()).text == body.strip()


def test_text_normalizes_newlines_and_trailing_spaces_only() -> None:
    data = b"First line   \r\n  indented line\r\n\r\n\r\n\r\nSecond  paragraph\t \r"
    assert extract_document(data).text == "First line\n  indented line\n\nSecond  paragraph"


def test_text_bare_urls_become_links() -> None:
    text = "Listen here: https://www.nytimes.com/2018/04/19/podcasts/caliphate-chapter-1.html."
    document = extract_document(text.encode())
    (link,) = document.links
    assert link.href == "https://www.nytimes.com/2018/04/19/podcasts/caliphate-chapter-1.html"
    assert (link.text, link.start) == (link.href, len("Listen here: "))


def test_markdown_to_text_with_links() -> None:
    document = extract_document((EXTRACT / "review.md").read_bytes(), filename="review.md")
    assert document.title == "Caliphate, chapter six: the prisoners"
    assert "#" not in document.text and "**" not in document.text and "](" not in document.text
    assert document.text.startswith("Caliphate, chapter six: the prisoners\n\nIn the sixth")
    assert "Rukmini Callimachi visits a prison in northern Iraq" in document.text
    assert "- " not in document.text and "Andy Mills\nthe translator" in document.text
    assert [(link.href, link.text) for link in document.links] == [
        ("https://www.nytimes.com/2018/05/17/podcasts/caliphate-chapter-6.html", "sixth chapter"),
        ("https://www.nytimes.com/column/caliphate", "the series page"),
        ("https://example.org/notes", "https://example.org/notes"),
    ]
    assert_spans(document)


def test_markdown_sniffed_without_a_filename() -> None:
    data = b"Loved [Serial](https://serialpodcast.org) this week, it was *great*."
    document = extract_document(data)
    assert document.text == "Loved Serial this week, it was great."
    assert document.links[0].href == "https://serialpodcast.org"
    assert document.links[0].start == len("Loved ")


# --- kinds and charsets ---------------------------------------------------------------


def test_kind_content_type_beats_suffix_and_sniffing() -> None:
    html = b"<!DOCTYPE html><html><body><p>A <b>bold</b> review of a podcast.</p></body></html>"
    assert extract_document(html).text == "A bold review of a podcast."
    assert extract_document(html, filename="r.html").text == "A bold review of a podcast."
    as_text = extract_document(html, filename="r.html", content_type="text/plain; charset=utf-8")
    assert as_text.text == html.decode()
    assert extract_document(html, filename="r.txt").text == html.decode()


def test_latin1_declared_in_meta() -> None:
    data = (EXTRACT / "latin1.html").read_bytes()
    assert b"\xe9" in data  # é in ISO-8859-1, not UTF-8
    document = extract_document(data, filename="latin1.html")
    assert "Café Müller" in document.text
    assert "– it is" in document.text  # 0x96: cp1252, as browsers read "iso-8859-1"


def test_charset_from_content_type_beats_meta() -> None:
    data = '<meta charset="utf-8"><p>Grüße aus Köln, eine Rezension.</p>'.encode("cp1252")
    document = extract_document(data, content_type="text/html; charset=windows-1252")
    assert document.text == "Grüße aus Köln, eine Rezension."


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (b"\xef\xbb\xbfA review with a BOM: caf\xc3\xa9.", "A review with a BOM: café."),
        ("\ufeffUTF-16 review: naïve.".encode("utf-16-le"), "UTF-16 review: naïve."),
        ("\ufeffUTF-16 review: naïve.".encode("utf-16-be"), "UTF-16 review: naïve."),
        (b"Latin-1 without a label: caf\xe9, na\xefve.", "Latin-1 without a label: café, naïve."),
        (
            "Отличный подкаст, всем советую послушать.".encode("cp1251"),
            "Отличный подкаст, всем советую послушать.",
        ),
        (
            b"Broken \xff\xfe bytes, then UTF-8: caf\xc3\xa9.",
            "Broken \ufffd\ufffd bytes, then UTF-8: café.",
        ),
    ],
    ids=["utf8-bom", "utf16le-bom", "utf16be-bom", "latin1", "cp1251", "broken-utf8"],
)
def test_decoding(data: bytes, text: str) -> None:
    assert extract_document(data).text == text


def test_meta_charset_that_is_not_a_charset() -> None:
    data = b'<html><head><meta charset="base64"></head><body><p>Still a review.</p></body></html>'
    assert extract_document(data).text == "Still a review."


# --- garbage ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64), "binary data (PNG image)"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "binary data (PDF document)"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "binary data (JPEG image)"),
        (b"PK\x03\x04\x14\x00\x00\x00", "binary data (ZIP archive)"),
        (b"\x1f\x8b\x08\x00\x00\x00", "binary data (GZIP archive)"),
        (b"A review\x00 with a NUL byte.", "binary data (it contains NUL bytes)"),
        (bytes(range(1, 32)) * 10 + b"text", "binary data (many control characters)"),
        (b"", "no review text found"),
        (b"   \n\t\r\n  ", "no review text found"),
        (b"<html><body>  \n </body></html>", "no review text found"),
        (
            b"<html><body><nav><a href='/'>Home</a> | <a href='/r'>Reviews</a> | "
            b"<a href='/l'>Lists</a></nav><footer>&copy; 2019 Blog</footer></body></html>",
            "no review text found",
        ),
        (b"Share this:\nTwitter\nFacebook\n", "no review text found"),
    ],
)
def test_garbage_is_refused(data: bytes, message: str) -> None:
    with pytest.raises(ReviewError, match=re.escape(message)) as caught:
        extract_document(data, filename="upload.html" if b"<html" in data else None)
    assert "\n" not in str(caught.value)


def test_png_named_like_a_review_is_still_binary() -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(100)
    with pytest.raises(ReviewError, match="PNG image"):
        extract_document(png, filename="review.html", content_type="text/html")


def test_fifty_megabytes_are_refused_before_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    def must_not_parse(*args: object, **kwargs: object) -> None:
        raise AssertionError("parsed an oversized review")

    monkeypatch.setattr(lxml.html, "document_fromstring", must_not_parse)
    monkeypatch.setattr(trafilatura, "bare_extraction", must_not_parse)
    page = b"<html><body>" + b"<p>All work and no play.</p>" * (50 * 1024 * 1024 // 27) + b"</body>"
    assert len(page) > 50_000_000
    # Refused by its size: the parsers above fail the test if they are reached.
    with pytest.raises(ReviewError, match="too large"):
        extract_document(page, filename="big.html")
    with pytest.raises(ReviewError, match="too large"):
        extract_html(page.decode("ascii"))


def test_just_under_the_limit_is_fine() -> None:
    line = b"This review goes on and on about one episode, and it is long.\n"
    data = line * ((MAX_REVIEW_BYTES - 1000) // len(line))
    assert len(extract_document(data).text) > 4_000_000


# --- properties and identity -----------------------------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.one_of(
        st.binary(max_size=600),
        st.text(max_size=300).map(lambda t: f"<html><body><p>{t}</p></body></html>".encode()),
        st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")),
    ),
    filename=st.sampled_from([None, "r.html", "r.md", "r.txt", "r.bin"]),
)
def test_arbitrary_bytes_give_a_review_or_a_review_error(data: bytes, filename: str | None) -> None:
    try:
        document = extract_document(data, filename=filename)
    except ReviewError as error:
        assert "\n" not in str(error)
        return
    assert isinstance(document, ReviewDocument)
    assert document.text.strip() and document.text.rstrip() == document.text
    assert_spans(document)


def test_content_hash_ignores_case_whitespace_and_punctuation(seed_bytes: bytes) -> None:
    assert review_content_hash(ReviewDocument(text="Great  show!\n\nReally.")) == (
        hashlib.sha256(b"great show really").hexdigest()
    )
    as_text = extract_document(seed_bytes, filename="seed.txt")
    reflowed = ReviewDocument(text=" ".join(as_text.text.upper().split()).replace(",", " ,"))
    assert review_content_hash(reflowed) == review_content_hash(as_text)
    # The same review posted as a web page (with furniture around it) is the same content.
    body = "".join(f"<p>{p}</p>\n" for p in paragraphs(as_text.text))
    page = (
        "<html><head><title>Blog</title></head><body><nav><a href='/'>Home</a> "
        "<a href='/a'>About</a></nav><article>" + body + "</article><div id='comments'>"
        "<h3>Leave a Reply</h3></div></body></html>"
    )
    assert review_content_hash(extract_html(page)) == review_content_hash(as_text)


def test_content_hash_differs_for_different_reviews(seed_bytes: bytes) -> None:
    seed = extract_document(seed_bytes, filename="seed.txt")
    other = review("a-cal-longread.html")
    assert review_content_hash(seed) != review_content_hash(other)
    edited = ReviewDocument(text=seed.text.replace("ten-episode", "nine-episode"))
    assert review_content_hash(edited) != review_content_hash(seed)


def test_huge_pages_skip_trafilatura(monkeypatch: pytest.MonkeyPatch) -> None:
    def must_not_run(*args: object, **kwargs: object) -> None:
        raise AssertionError("trafilatura ran on a page over the element limit")

    monkeypatch.setattr(extract, "_TRAFILATURA_MAX_ELEMENTS", 10)
    monkeypatch.setattr(trafilatura, "bare_extraction", must_not_run)
    document = review("a-cal-longread.html")
    assert "If you only have time for one hour, make it the fifth chapter." in document.text
    assert "jonah_r" not in document.text and "Leave a Reply" not in document.text

"""The readable text of a parsed HTML tree, as paragraphs of lines, with its links.

Used for trafilatura's output tree and for the plain pass over a page's content
area (and for Markdown rendered to HTML). Each anchor is wrapped in two private-use
marker characters while the text is walked; :func:`assemble` drops boilerplate
lines (``_boilerplate``) and reads each link's span in the final text off the
markers as it takes them out, so spans stay right whatever whitespace folding and
line removal did.
"""

from __future__ import annotations

import bisect
import copy
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from aggregator.reviews import _boilerplate
from aggregator.types import HyperLink

_START, _END = "\ue000", "\ue001"  # anchor markers (private use: never real text)
_MARKERS = re.compile("[\ue000\ue001]")
# C0 controls (but tab, newlines and form feed) and our markers: never review text.
CONTROLS = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f\ue000\ue001]")
SPACES = re.compile(r"\s+")
_EDGES = re.compile("^[\\s\ue000\ue001]+|[\\s\ue000\ue001]+$")
_BARE_URL = re.compile(r"\bhttps?://[^\s<>\"'()\[\]{}]+[^\s<>\"'()\[\]{}.,;:!?]")


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """Which tags of a tree break paragraphs and lines, and which hold links."""

    paragraph: frozenset[str]
    line: frozenset[str]
    cell: frozenset[str]
    skip: frozenset[str]
    preformatted: frozenset[str]
    link: str
    href: str


_HTML_PARAGRAPHS = frozenset(
    {
        "p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "dl", "blockquote",
        "pre", "table", "section", "article", "main", "header", "footer", "figure",
        "figcaption", "address", "hr", "details", "summary", "aside", "nav", "form",
        "fieldset", "center", "hgroup",
    }
)  # fmt: skip
# Elements whose content a reader never sees as text.
_HTML_HIDDEN = frozenset(
    {
        "script", "style", "noscript", "template", "head", "title", "iframe", "object",
        "embed", "svg", "math", "canvas", "button", "select", "textarea", "input",
        "video", "audio", "map",
    }
)  # fmt: skip
HTML_VOCABULARY = Vocabulary(
    paragraph=_HTML_PARAGRAPHS,
    line=frozenset({"br", "li", "dt", "dd", "tr", "caption"}),
    cell=frozenset({"td", "th"}),
    skip=_HTML_HIDDEN,
    preformatted=frozenset({"pre"}),
    link="a",
    href="href",
)
# trafilatura's output tree (its XML-TEI-like vocabulary).
TRAFILATURA_VOCABULARY = Vocabulary(
    paragraph=frozenset({"p", "head", "list", "quote", "table", "code", "div", "figure", "note"}),
    line=frozenset({"lb", "item", "row"}),
    cell=frozenset({"cell"}),
    skip=frozenset(),
    preformatted=frozenset({"code"}),
    link="ref",
    href="target",
)

# Share buttons, comment and login links: furniture wherever they stand.
_FURNITURE_LINK = re.compile(
    r"(twitter|x)\.com/(intent|share)|facebook\.com/(sharer|share\.php|dialog)|"
    r"linkedin\.com/(share|sharearticle)|pinterest\.[a-z.]+/pin/create|reddit\.com/submit|"
    r"whatsapp\.com/send|//wa\.me/|t\.me/share|tumblr\.com/(share|widgets/share)|"
    r"getpocket\.com/(save|edit)|[?&](share|replytocom)=|/wp-login\.php|#(comments?|respond)$",
    re.I,
)
# class/id words of page furniture (WordPress, Jetpack, Blogger, Ghost themes).
_FURNITURE_NAMES = frozenset(
    {
        "comment", "comments", "commentlist", "respond", "reply", "share", "sharing",
        "sharedaddy", "social", "related", "relatedposts", "sidebar", "widget", "menu",
        "nav", "navbar", "navigation", "breadcrumb", "breadcrumbs", "cookie", "cookies",
        "consent", "gdpr", "subscribe", "subscription", "newsletter", "signup", "footer",
        "masthead", "tags", "tagcloud", "byline", "meta", "advert", "advertisement", "ads",
        "promo", "popup", "modal", "pagination", "dateline", "skip",
    }
)  # fmt: skip
_FURNITURE_TAGS = frozenset({"nav", "aside", "footer", "form"})
_FURNITURE_ROLES = frozenset({"navigation", "complementary", "contentinfo", "banner", "search"})


@dataclass(frozen=True, slots=True)
class Walked:
    paragraphs: list[list[str]]  # lines, anchors wrapped in _START/_END
    hrefs: list[str]  # one per _START, in order


def walk(root: Any, vocabulary: Vocabulary, base: str | None) -> Walked:
    """Paragraphs of lines of the readable text under ``root`` (iterative: no depth limit)."""
    paragraphs: list[list[str]] = []
    lines: list[str] = []
    parts: list[str] = []
    hrefs: list[str] = []
    preformatted = 0

    def end_line() -> None:
        line = SPACES.sub(" ", "".join(parts))
        line = _EDGES.sub(lambda edge: SPACES.sub("", edge.group()), line)  # keep markers
        parts.clear()
        if line:
            lines.append(line)

    def end_paragraph() -> None:
        end_line()
        if lines:
            paragraphs.append(lines.copy())
            lines.clear()

    def brk(tag: str) -> None:
        if tag in vocabulary.paragraph:
            end_paragraph()
        elif tag in vocabulary.line:
            end_line()
        elif tag in vocabulary.cell:
            parts.append(" ")

    def add(text: str | None) -> None:
        if not text:
            return
        pieces = CONTROLS.sub("", text).split("\n") if preformatted else [CONTROLS.sub("", text)]
        parts.append(pieces[0])
        for piece in pieces[1:]:
            end_line()
            parts.append(piece)

    stack: list[tuple[Any, bool, bool]] = [(root, False, False)]
    while stack:
        element, closing, linked = stack.pop()
        tag = element.tag.lower() if isinstance(element.tag, str) else ""
        tail = element.tail if element is not root else None
        if closing:
            parts.append(_END if linked else "")
            preformatted -= tag in vocabulary.preformatted
            brk(tag)
            add(tail)
            continue
        if not tag or tag in vocabulary.skip:
            add(tail)
            continue
        brk(tag)
        preformatted += tag in vocabulary.preformatted
        href = _link_target(element, vocabulary, base) if tag == vocabulary.link else None
        if href is not None:
            hrefs.append(href)
            parts.append(_START)
        add(element.text)
        stack.append((element, True, href is not None))
        stack.extend((child, False, False) for child in reversed(element))
    end_paragraph()
    return Walked(paragraphs, hrefs)


def _link_target(element: Any, vocabulary: Vocabulary, base: str | None) -> str | None:
    """The absolute URL of a link worth keeping, or None for furniture and non-web links."""
    href = (element.get(vocabulary.href) or "").strip()
    rel = (element.get("rel") or "").lower().split()
    if not href or href.startswith("#") or "tag" in rel or "category" in rel:
        return None
    try:
        absolute = urljoin(base, href) if base else href
        scheme = urlsplit(absolute).scheme.lower()
    except ValueError:  # e.g. an invalid IPv6 host
        return None
    if scheme not in {"", "http", "https"} or _FURNITURE_LINK.search(absolute):
        return None
    if base and _is_home_page(absolute, base):  # the blog's name in its header or footer
        return None
    return absolute


def _is_home_page(link: str, base: str) -> bool:
    try:
        target, page = urlsplit(link), urlsplit(base)
    except ValueError:
        return False
    return target.netloc == page.netloc and target.path in {"", "/"} and not target.query


# A post on an archive, tag or front page holds at least this much text; "related
# posts" cards and teasers that themes also mark up as <article> hold less.
_POST_MIN_CHARS = 400


def posts(tree: Any) -> list[Any]:
    """The page's posts when it holds several (a blog's tag, archive or front page):
    the outermost <article> elements with a post's worth of text each. A page of one
    post, with its comments or related-post cards, gives an empty list."""
    found = [
        element
        for element in tree.xpath("//article[not(ancestor::article)]")
        if len(element.text_content().strip()) >= _POST_MIN_CHARS
    ]
    return found if len(found) >= 2 else []


def content_root(tree: Any, several: list[Any]) -> Any:
    """A copy of the page's content area (largest <article>, else <main>, else <body>;
    every post of a page of ``several``, as ``posts`` finds them) without navigation,
    sidebars, share boxes, comments and forms."""
    if several:
        # A tag page holding two reviews reviews both: each post with its heading.
        root = tree.makeelement("article")
        for post in several:
            root.append(copy.deepcopy(post))
    else:
        candidates = (
            tree.xpath("//article") or tree.xpath("//main") or tree.xpath("//body") or [tree]
        )
        root = copy.deepcopy(max(candidates, key=lambda e: len(e.text_content())))
    sizes: dict[Any, int] = {}
    for element in reversed(list(root.iter())):
        sizes[element] = len(element.text or "") + sum(
            sizes.get(child, 0) + len(child.tail or "") for child in element
        )
    in_article = root.tag == "article"
    stack = list(root)
    while stack:
        element = stack.pop()
        # A wrapper holding most of the text is the content, whatever its class says.
        if _is_furniture(element, in_article) and sizes.get(element, 0) <= sizes[root] / 2:
            element.drop_tree()
        else:
            stack.extend(element)
    return root


def _is_furniture(element: Any, in_article: bool) -> bool:
    if not isinstance(element.tag, str):
        return False
    names = f"{element.get('class') or ''} {element.get('id') or ''}".lower().split()
    is_header = element.tag == "header" or "header" in names or "site-header" in names
    if element.tag in _FURNITURE_TAGS or (is_header and not in_article):
        return True
    if (element.get("role") or "").lower() in _FURNITURE_ROLES:
        return True
    return not _FURNITURE_NAMES.isdisjoint(re.split(r"[_-]", " ".join(names).replace(" ", "-")))


# --- assembling text and links -------------------------------------------------------


def assemble(walked: Walked) -> tuple[str, list[HyperLink]]:
    """Join the review lines (boilerplate dropped) and locate each kept anchor in them.

    A link whose anchor stood in a dropped line is dropped with it (share buttons,
    tag lists, photo credits).
    """
    plain = [[_MARKERS.sub("", line) for line in paragraph] for paragraph in walked.paragraphs]
    mask = _boilerplate.keep_mask(plain)
    out: list[str] = []
    length = 0
    opened: list[tuple[int, int | None]] = []  # (link number, start when kept)
    found: list[tuple[int, int, int]] = []  # (link number, start, end or -1)
    number = 0
    for paragraph, keeps in zip(walked.paragraphs, mask, strict=True):
        separator = "\n\n" if length else ""
        for line, kept in zip(paragraph, keeps, strict=True):
            if kept:
                out.append(separator)
                length += len(separator)
                separator = "\n"
            for piece in re.split("([\ue000\ue001])", line):
                if piece == _START:
                    opened.append((number, length if kept else None))
                    number += 1
                elif piece == _END and opened:
                    link, start = opened.pop()
                    if start is not None:
                        found.append((link, start, length if kept else -1))
                elif kept and piece != _END:
                    out.append(piece)
                    length += len(piece)
    text = "".join(out)
    links: list[HyperLink] = []
    for link, start, end in sorted(found):
        while 0 <= start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start:
            links.append(HyperLink(walked.hrefs[link], text[start:end], start, end))
        else:
            links.append(HyperLink(walked.hrefs[link], "", -1, -1))
    return text, links


def merge_links(main: list[HyperLink], others: Iterable[HyperLink]) -> list[HyperLink]:
    """trafilatura's links with their spans, then the content area's other links (-1)."""
    unmatched = Counter((link.href, link.text) for link in main)
    merged = list(main)
    for link in others:
        if unmatched[link.href, link.text] > 0:
            unmatched[link.href, link.text] -= 1
        else:
            merged.append(HyperLink(link.href, link.text))
    return merged


def with_bare_urls(text: str, links: Sequence[HyperLink]) -> tuple[HyperLink, ...]:
    """Add the URLs written out in the text (plain-text reviews cite pages that way)."""
    # Anchor spans never overlap, so sorted by start they are sorted by end too.
    spans = sorted((link.start, link.end) for link in links if link.start >= 0)
    starts = [start for start, _ in spans]
    extra = []
    for match in _BARE_URL.finditer(text):
        before = bisect.bisect_left(starts, match.end()) - 1  # last span starting before
        if before < 0 or spans[before][1] <= match.start():
            extra.append(HyperLink(match.group(), match.group(), match.start(), match.end()))
    return (*links, *extra)

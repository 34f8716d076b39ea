"""Podcast directory pages: which show (and episode) a directory link is about.

Reviews often link to a show's page in a podcast directory or app (Apple Podcasts,
Overcast, Podchaser, ...) rather than to its site or feed. Feeds seldom carry their
own directory ids (two of the 22 real feeds in ../shared, each on a few episodes
only, next to ids of the other shows they promote), so a page is recognised by what
its URL says: the slug of the show's name (``/podcast/caliphate/id1379959217``), the
slug of an episode's title on an episode page, or, for Google Podcasts, the feed URL
itself (base64 in the path). Directories whose URLs hold only opaque ids (Spotify,
Pocket Casts) tell us nothing without asking them, so they are not read.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = ["DirectoryPage", "directory_page", "show_page_slug", "slug_words"]


@dataclass(frozen=True, slots=True)
class DirectoryPage:
    """What a directory URL names: at least one of the fields is set."""

    directory: str  # "Apple Podcasts"
    show: tuple[str, ...] = ()  # the slug's words: ("caliphate",)
    episode: tuple[str, ...] = ()  # an episode page's title slug, when the URL has one
    feed_url: str | None = None  # Google Podcasts pages name the feed itself


def slug_words(text: str) -> tuple[str, ...]:
    """The words of a title or slug as directories write them, for comparing.

    >>> slug_words("Chapter 1: The Mission")
    ('chapter', '1', 'the', 'mission')
    >>> slug_words("chapter-1-the-mission")
    ('chapter', '1', 'the', 'mission')
    >>> slug_words("Ça m'intéresse")
    ('ca', 'm', 'interesse')
    """
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return tuple(re.findall(r"[a-z0-9]+", folded.lower()))


def directory_page(url: str) -> DirectoryPage | None:
    """The show or episode a directory URL names, or None for any other URL.

    >>> directory_page("https://podcasts.apple.com/us/podcast/caliphate/id1379959217")
    DirectoryPage(directory='Apple Podcasts', show=('caliphate',), episode=(), feed_url=None)
    >>> directory_page("https://www.nytimes.com/podcasts/caliphate") is None
    True
    """
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    host = (parts.hostname or "").lower().removeprefix("www.")
    reader = _READERS.get(host)
    if reader is None or parts.scheme not in ("http", "https"):
        return None
    segments = [unquote(s) for s in parts.path.split("/") if s]
    page = reader(segments, parse_qs(parts.query))
    if page is None or not (page.show or page.episode or page.feed_url):
        return None
    return page


_ID = re.compile(r"^id\d+$")
_TRAILING_ID = re.compile(r"^(?P<slug>.+?)-(?:id)?\d{4,}$")


def _apple(segments: list[str], query: dict[str, list[str]]) -> DirectoryPage | None:
    # /us/podcast/<slug>/id<digits>[?i=<episode id>]; the country is optional. With
    # ``?i=`` the slug is the episode's title, not the show's.
    if "podcast" not in segments:
        return None  # apps, music, books
    rest = segments[segments.index("podcast") + 1 :]
    if len(rest) < 2 or not _ID.match(rest[-1]):
        return None  # "/podcast/290783428": an id alone
    words = slug_words(rest[-2])
    if "i" in query:
        return DirectoryPage("Apple Podcasts", episode=words)
    return DirectoryPage("Apple Podcasts", show=words)


def _overcast(segments: list[str], query: dict[str, list[str]]) -> DirectoryPage | None:
    # /itunes<apple id>/<slug>; episode pages are opaque ("/+AbCdEf").
    if len(segments) == 2 and re.match(r"^itunes\d+$", segments[0]):
        return DirectoryPage("Overcast", show=slug_words(segments[1]))
    return None


def _podchaser(segments: list[str], query: dict[str, list[str]]) -> DirectoryPage | None:
    # /podcasts/<slug>-<id>[/episodes/<slug>-<id>]
    if len(segments) < 2 or segments[0] != "podcasts":
        return None
    show = _without_id(segments[1])
    if len(segments) >= 4 and segments[2] == "episodes":
        return DirectoryPage("Podchaser", show=show, episode=_without_id(segments[3]))
    return DirectoryPage("Podchaser", show=show)


def _castbox(segments: list[str], query: dict[str, list[str]]) -> DirectoryPage | None:
    # /channel/<Slug>-id<digits>, /episode/<Slug>-id<show>-id<episode>
    if len(segments) != 2:
        return None
    if segments[0] == "channel":
        return DirectoryPage("Castbox", show=_without_id(segments[1]))
    if segments[0] == "episode":
        slug = re.sub(r"(-id\d+)+$", "", segments[1])
        return DirectoryPage("Castbox", episode=slug_words(slug))
    return None


def _player_fm(segments: list[str], query: dict[str, list[str]]) -> DirectoryPage | None:
    # /series/<slug>[-<id>][/<episode slug>]
    if len(segments) < 2 or segments[0] != "series":
        return None
    show = _without_id(segments[1])
    if len(segments) >= 3:
        return DirectoryPage("Player FM", show=show, episode=slug_words(segments[2]))
    return DirectoryPage("Player FM", show=show)


def _podbay(segments: list[str], query: dict[str, list[str]]) -> DirectoryPage | None:
    # /p/<slug>[/e/<episode id>]
    if len(segments) >= 2 and segments[0] == "p":
        return DirectoryPage("Podbay", show=slug_words(segments[1]))
    return None


def _stitcher(segments: list[str], query: dict[str, list[str]]) -> DirectoryPage | None:
    # /show/<slug>[/episode/<slug>-<id>], and the older /podcast/<publisher>/<slug>
    if len(segments) >= 2 and segments[0] == "show":
        if len(segments) >= 4 and segments[2] == "episode":
            episode = _without_id(segments[3])
            return DirectoryPage("Stitcher", show=slug_words(segments[1]), episode=episode)
        return DirectoryPage("Stitcher", show=slug_words(segments[1]))
    if len(segments) >= 3 and segments[0] == "podcast":
        return DirectoryPage("Stitcher", show=slug_words(segments[2]))
    return None


def _google(segments: list[str], query: dict[str, list[str]]) -> DirectoryPage | None:
    # /feed/<the feed URL in URL-safe base64, unpadded>[/episode/...], or ?feed=<URL>
    encoded = segments[1] if len(segments) >= 2 and segments[0] == "feed" else None
    if encoded is None:
        feed = query.get("feed", [""])[0]
        return DirectoryPage("Google Podcasts", feed_url=feed) if _is_http(feed) else None
    try:
        decoded = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return DirectoryPage("Google Podcasts", feed_url=decoded) if _is_http(decoded) else None


def _without_id(slug: str) -> tuple[str, ...]:
    """A slug's words without the directory's own id at its end ("caliphate-636467")."""
    match = _TRAILING_ID.match(slug)
    return slug_words(match.group("slug") if match else slug)


def _is_http(url: str) -> bool:
    return url.startswith(("http://", "https://")) and len(url) > len("https://x.y")


_READERS = {
    "podcasts.apple.com": _apple,
    "itunes.apple.com": _apple,
    "overcast.fm": _overcast,
    "podchaser.com": _podchaser,
    "castbox.fm": _castbox,
    "player.fm": _player_fm,
    "podbay.fm": _podbay,
    "stitcher.com": _stitcher,
    "podcasts.google.com": _google,
}


# Path segments after which podcast directories and chart sites put a show's slug.
_SHOW_SEGMENTS = frozenset({"podcast", "podcasts", "show", "shows"})
_LEADING_ID = re.compile(r"^(?:id)?\d{4,}-(?P<slug>.+)$")


def show_page_slug(url: str) -> tuple[str, ...] | None:
    """The show's slug of a page that is a show's own page on a directory or chart
    site, for any site: ``/podcast/<slug>``, ``/podcasts/<id>-<slug>``,
    ``/itunes/podcast/1509307460-wind-of-change``. Used for the address a review was
    found at: reviews written on a show's page (app-store and chart-site reviews)
    seldom name the show, since the page does.

    >>> show_page_slug("https://www.chartoo.co.uk/itunes/podcast/1509307460-wind-of-change")
    ('wind', 'of', 'change')
    >>> show_page_slug("https://example.com/podcasts/s-town-id1212558767/reviews")
    ('s', 'town')
    >>> show_page_slug("https://example.com/2017/04/podcast-review-s-town") is None
    True
    """
    page = directory_page(url)
    if page is not None:
        return page.show or None
    segments = _path_segments(url)
    for before, segment in itertools.pairwise(segments):
        if before.lower() not in _SHOW_SEGMENTS:
            continue
        segment = segment.lower()
        for pattern in (_LEADING_ID, _TRAILING_ID):
            if match := pattern.match(segment):
                segment = match.group("slug")
                break
        words = slug_words(segment)
        if words and not all(w.isdigit() for w in words):
            return words
    return None


# Endings a forum's name adds to a show's ("r/serialpodcast", "r/ATPfm"): with one of
# them, the name is the show's even when it is only its acronym.
_FORUM_SUFFIXES = ("podcast", "pod", "fm", "show")


def forum_name(url: str) -> tuple[str, bool] | None:
    """The name of the forum a page belongs to, when the page is a post in a reddit
    community (``/r/<name>/...``, on reddit or any of its mirrors), folded to letters
    and digits and with a podcast-ish ending taken off; and whether one was.

    >>> forum_name("https://www.reddit.com/r/serialpodcast/comments/2lhhe2/episode_7/")
    ('serial', True)
    >>> forum_name("https://old.example.org/r/Cortex/comments/11bhfjz/the_latest/")
    ('cortex', False)
    >>> forum_name("https://example.com/2017/04/r/") is None
    True
    >>> forum_name("http://[::1/r/serialpodcast/comments/x") is None  # not a URL
    True
    """
    segments = _path_segments(url)
    if len(segments) < 3 or segments[0].lower() != "r":
        return None
    name = "".join(slug_words(segments[1]))
    for suffix in _FORUM_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            return name[: -len(suffix)], True
    return (name, False) if name else None


def _path_segments(url: str) -> list[str]:
    """The non-empty segments of a URL's path, unquoted; none for what is not a URL."""
    try:
        return [unquote(s) for s in urlsplit(url.strip()).path.split("/") if s]
    except ValueError:
        return []

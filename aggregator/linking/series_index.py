"""What the linker precomputes for one series at build time (pure, no shared state).

From a ``CatalogSeries`` this derives the names a review may call the show by (its
title, the title's main part, the name the feed itself uses, the prefix its episode
titles share, an acronym), the people credited or named in its text, the keys of its
links, and for every episode the parts of its title worth matching, the numbers it
carries, its season, its dates and its guests.

In two steps: ``digest_series`` does all of that from the series alone (the costly
part: tokenizing and finding names in every title and description), and
``index_series`` gives the digest's retrieval terms the ids of one catalog. A
``SeriesDigest`` is a plain value, so a cache may keep it across runs
(``DIGEST_VERSION``).

Why one module of over 400 lines: everything derived from one series is one
versioned value (``DIGEST_VERSION``); split, a change to one part could forget the
version that a cache of digests relies on.
"""

from __future__ import annotations

import functools
import re
import sys
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from itertools import chain

from aggregator.linking.names import extract_names, split_credit
from aggregator.linking.numbers import (
    EPISODE_NOUNS,
    NUMBER_WORDS,
    TitleNumbers,
    parse_number,
    title_numbers,
)
from aggregator.linking.term_index import EpisodeTerms, TermIndex
from aggregator.linking.text import STOPWORDS, fold, stem, terms, tokenize, word_set
from aggregator.linking.timeref import title_date
from aggregator.linking.urls import link_hash, prefixes, url_key
from aggregator.types import CatalogEpisode, CatalogSeries

__all__ = [
    "DIGEST_VERSION",
    "Alias",
    "EpisodeInfo",
    "SeriesDigest",
    "SeriesInfo",
    "TermIndex",
    "canon",
    "dated_count",
    "digest_series",
    "index_series",
    "out_by",
]

# Bump whenever ``SeriesDigest`` or what ``digest_series`` derives changes: digests
# kept by a cache under another version are then made again.
DIGEST_VERSION = 2

# Words that number or classify an episode rather than name it.
_GENERIC = frozenset(
    {"episode", "ep", "eps", "chapter", "part", "season", "show", "podcast", "no", "number",
     "bonus", "trailer", "update", "special", "edition", "feat", "ft", "with", "and"}
)  # fmt: skip
_SEGMENT_SPLIT = re.compile(r"\s[-–—|]\s|[:|]|\s[-–—]$")
_PARENTHESES = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_SEASON_TOKEN = re.compile(r"^s\d{1,2}$|^[sc]\d{1,2}e\d{1,4}$")
# Episodes that must share a title part (numbering aside) for it to name a strand of
# the show, a mini-series within its feed, rather than a story told over two parts
# ("Hindsight, Part 1" and "Part 2" are one story a review may name).
_STRAND = 3
# Words that number an episode in the feeds' other languages: "Folge 4" is no strand.
_NUMBERING = frozenset({"folge", "teil", "kapitel", "staffel", "aflevering", "afl", "episode"})
_BONUS_WORDS = frozenset({"trailer", "bonus", "introducing", "preview", "announcement", "teaser"})
# Share of episodes (title or description) that must carry a name for it to count as
# one the feed regularly uses for itself or for its hosts.
_REGULAR_SHARE = 0.2
# Share of episode titles that must start with the same words followed by a number
# for those words to be a name of the show ("Connected 185: ...", "SE-Radio Episode 246").
_PREFIX_SHARE = 0.15
_OPENING_TERMS = 80
# A series document keeps its most frequent terms only: rare one-off words of single
# episodes are matched inside the series later, and the cap bounds the index's memory
# (about this many postings per series).
_SERIES_DOC_TERMS = 1500
_EPISODE_NAMES = 8
_HOSTED = re.compile(r"\bhost(s|ed)?\b|\bpresent(s|ed)\b|\bco-?host", re.IGNORECASE)
_MONTH_WORDS = word_set("jan feb mar apr may jun jul aug sep sept oct nov dec")


@dataclass(frozen=True, slots=True)
class Alias:
    tokens: tuple[str, ...]
    kind: str  # "title", "short", "self", "prefix", "acronym"


@dataclass(frozen=True, slots=True)
class EpisodeInfo:
    id: int
    title: str
    segments: tuple[tuple[str, ...], ...]  # canonical tokens of title parts worth matching
    numbers: TitleNumbers
    itunes_number: int | None
    season: int | None
    bonus: bool
    published: datetime | None
    aired: datetime | None  # a date written in the title, else the publication date
    links: tuple[int, ...]  # link_hash() of its page, enclosure and URL guid


@dataclass(frozen=True, slots=True)
class SeriesInfo:
    id: int
    title: str
    aliases: tuple[Alias, ...]
    names: tuple[tuple[str, str], ...]  # (name, role) credited or named at series level
    episodes: tuple[EpisodeInfo, ...]  # oldest first; undated ones last
    terms: TermIndex  # the episodes' retrieval terms (titles and descriptions)
    # Title words (canonical, not stopwords) that some episode has in a title part but
    # not among its retrieval terms ("2" of "Part Two", "cgp" of "C.G.P."), with how
    # many episodes have them in a title part: for every other title word, that count
    # is at most the word's document frequency (see SeriesStats.rarity).
    title_only: dict[str, int]
    links: tuple[int, ...]  # link_hash() of its site and feed
    prefixes: tuple[int, ...]  # link_hash() of the hosts and first folders of all its links
    first_names: frozenset[str]  # folded first names of the show's own people


@dataclass(frozen=True, slots=True)
class SeriesDigest:
    """What ``digest_series`` derives from one series alone: its ``SeriesInfo`` but for
    the term ids a catalog gives and the link hashes of this process (``link_hash``
    is Python's string hash, salted per process), and what only building the
    catalog's index needs. Tuples, strings, numbers, dates and arrays: it pickles,
    and means the same in any process."""

    id: int
    title: str
    aliases: tuple[Alias, ...]
    names: tuple[tuple[str, str], ...]
    episodes: tuple[EpisodeInfo, ...]  # with no links: those are episode_links
    episode_links: tuple[tuple[str, ...], ...]  # url_key() of each one's links
    terms: EpisodeTerms
    title_only: dict[str, int]
    links: tuple[str, ...]  # url_key() of its site and feed
    prefixes: tuple[str, ...]  # the hosts and first folders of all its links
    first_names: frozenset[str]
    # The series document for retrieval: its most frequent terms with their counts,
    # most frequent first (ties in order of first use).
    doc: tuple[tuple[str, int], ...]
    episode_names: tuple[tuple[str, ...], ...]  # names found in each episode, in order


@functools.lru_cache(maxsize=8192)  # a review's words and the titles' common ones
def canon(word: str) -> str:
    """Canonical form of a folded token for title matching: numbers as digits, stems.

    >>> [canon(w) for w in ["two", "02", "habits", "the"]]
    ['2', '2', 'habit', 'the']
    """
    if word.isdigit():
        return str(int(word))
    if word in NUMBER_WORDS and word != "one":
        parsed = parse_number(tokenize(word), 0)
        if parsed is not None and not parsed[1]:
            return str(parsed[0])
    return stem(word)


def digest_series(series: CatalogSeries) -> SeriesDigest:
    """Everything the linker keeps about one series that no catalog bears on."""
    dated = sorted(
        (e for e in series.episodes if e.published is not None),
        key=lambda e: (e.published, e.id),
    )
    ordered = [*dated, *(e for e in series.episodes if e.published is None)]
    aliases = _aliases(series, ordered)
    alias_tokens = [a.tokens for a in aliases if a.kind != "acronym"]
    described = _without_strands([_episode(e, alias_tokens) for e in ordered])
    episode_names = tuple(d.names for d in described)
    names = _series_names(series, episode_names)
    doc: list[str] = []
    for _ in range(3):
        doc.extend(terms(series.title))
    doc.extend(terms(series.description_text))
    for name, _role in names:
        doc.extend(terms(name))
    for d in described:
        doc.extend(d.opening)
    keys = [k for k in (url_key(series.link or ""), url_key(series.feed_url)) if k]
    prefix_keys = {p for k in keys for p in prefixes(k)}
    for e in ordered:
        for url in (e.link, e.enclosure_url):
            key = url_key(url) if url else None
            if key:
                prefix_keys.update(prefixes(key))
    first_names = frozenset(
        first
        for name, role in names
        if role not in ("named", "regular", "author") and len(name.split()) > 1
        for first in [fold(name.split()[0])]
        if len(first) >= 3 and first.isalpha() and first not in STOPWORDS
    )
    return SeriesDigest(
        series.id,
        series.title,
        aliases,
        names,
        tuple(d.info for d in described),
        tuple(d.links for d in described),
        EpisodeTerms.of([d.terms for d in described]),
        _title_only(described),
        tuple(keys),
        tuple(sorted(prefix_keys)),
        first_names,
        tuple(Counter(doc).most_common(_SERIES_DOC_TERMS)),
        episode_names,
    )


def index_series(
    digest: SeriesDigest, term_ids: Callable[[Sequence[str]], list[int]]
) -> SeriesInfo:
    """The series' info in one catalog, whose ``term_ids`` interns terms."""
    episodes = tuple(
        EpisodeInfo(
            e.id,
            e.title,
            e.segments,
            e.numbers,
            e.itunes_number,
            e.season,
            e.bonus,
            e.published,
            e.aired,
            tuple(map(link_hash, keys)),
        )
        for e, keys in zip(digest.episodes, digest.episode_links, strict=True)
    )
    return SeriesInfo(
        digest.id,
        digest.title,
        digest.aliases,
        digest.names,
        episodes,
        TermIndex.interned(digest.terms, term_ids),
        digest.title_only or _NONE,
        tuple(map(link_hash, digest.links)),
        tuple(sorted(map(link_hash, digest.prefixes))),
        digest.first_names,
    )


def dated_count(series: SeriesInfo) -> int:
    """How many episodes have a date (they come first, the undated ones last)."""
    episodes = series.episodes
    n = len(episodes)
    while n and episodes[n - 1].published is None:
        n -= 1
    return n


def out_by(series: SeriesInfo, when: datetime, dated: int) -> int:
    """How many of the ``dated`` first episodes came out at or before ``when`` (they
    are oldest first, so found by bisection)."""
    return bisect_right(series.episodes, when, hi=dated, key=_date)


def _date(episode: EpisodeInfo) -> datetime:
    assert episode.published is not None  # only dated episodes are bisected
    return episode.published


def _aliases(series: CatalogSeries, episodes: Sequence[CatalogEpisode]) -> tuple[Alias, ...]:
    title = tuple(t.norm for t in tokenize(series.title))
    found: dict[tuple[str, ...], str] = {}

    def add(tokens: tuple[str, ...], kind: str) -> None:
        while tokens and tokens[0] == "the" and len(tokens) > 1:
            tokens = tokens[1:]
        while len(tokens) > 1 and tokens[-1] in ("podcast", "the"):
            tokens = tokens[:-1]
        if tokens and any(t not in STOPWORDS for t in tokens) and tokens not in found:
            found[tokens] = kind

    add(title, "title")
    main = _SEGMENT_SPLIT.split(series.title)[0]
    add(tuple(t.norm for t in tokenize(main)), "short")
    owned = _without_owner(series, title)
    if owned:
        add(owned, "short")
    for former in _former_names(series.description_text or ""):
        add(tuple(t.norm for t in tokenize(former)), "short")
    texts = [fold(f"{e.title} {e.description_text}") for e in episodes]
    need = max(3, int(len(texts) * _REGULAR_SHARE))
    for n in range(len(title) - 1, 1, -1):
        phrase = " ".join(title[:n])
        if title[0] in STOPWORDS or not texts:
            break
        pattern = re.compile(rf"\b{re.escape(phrase)}\b")
        if sum(1 for t in texts if pattern.search(t)) >= need:
            add(title[:n], "self")
            break
    prefix = _title_prefix(episodes)
    if prefix:
        add(prefix, "prefix")
    short = tuple(t.norm for t in tokenize(main))
    initials = "".join(t[0] for t in short if t.isalpha())
    if 3 <= len(initials) <= 5 and len(short) >= 3:
        add((initials,), "acronym")
        # "SE Radio" for "Software Engineering Radio": initials, then the last word.
        add((initials[:-1], short[-1]), "acronym")
    return tuple(
        Alias(tuple(sys.intern(t) for t in tokens), kind) for tokens, kind in found.items()
    )


# A show that was renamed says so in its description ("Until July 2013 the show ran
# under the name mobileMacs", "formerly known as ..."), and reviews of its early years
# use the old name. The name: up to five words after the cue, the first capitalised or
# written in camel case ("mobileMacs"), the rest capitalised.
_FORMER_NAME = re.compile(
    r"(?:\b(?:formerly|previously|originally)(?: known as| called| named| titled)?"
    r"|\bunder the (?:name|title)|\bused to be called"
    r"|\bunter dem (?:Namen|Titel)|\bfr(?:ü|ue)her (?:bekannt )?als|\bhie(?:ß|ss) (?:früher|zuvor)"
    r"|\banciennement|\bautrefois (?:appelée?|nommée?)|\bvoorheen)"
    r"\s+[\"“„«']?((?:[A-Z]|[a-z]+[A-Z])[\w'&.+-]*(?:\s+(?:[A-Z0-9][\w'&.+-]*|&)){0,4})"
)


def _former_names(description: str) -> list[str]:
    """Earlier names of the show that its description gives.

    >>> _former_names("Bis Juli 2013 lief die Sendung unter dem Namen mobileMacs.")
    ['mobileMacs']
    >>> _former_names("The show, formerly known as The Weekly Roundup, is live.")
    ['The Weekly Roundup']
    >>> _former_names("Formerly a radio show, now a podcast.")
    []
    """
    return [m.group(1).rstrip(".,;:") for m in _FORMER_NAME.finditer(description)]


def _without_owner(series: CatalogSeries, title: tuple[str, ...]) -> tuple[str, ...] | None:
    """ "Hardcore History" of "Dan Carlin's Hardcore History": a title that opens with
    its own host's possessive is written without it as often as with it. Two words at
    least remain ("Dolly Parton's America" is no host's, and "America" no name)."""
    credited = {fold(p.name) for p in series.persons}
    for credit in (series.author, series.owner_name):
        credited.update(fold(name) for name in split_credit(credit))
    for k in range(1, min(len(title) - 2, 4)):
        if title[k] == "s" and " ".join(title[:k]) in credited:
            rest = title[k + 1 :]
            return rest if sum(1 for t in rest if t not in STOPWORDS) >= 2 else None
    return None


def _title_prefix(episodes: Sequence[CatalogEpisode]) -> tuple[str, ...] | None:
    """The words most episode titles start with before their number ("Connected 185: ...")."""
    counts: Counter[tuple[str, ...]] = Counter()
    for e in episodes:
        tokens = tokenize(e.title)[:5]
        words: list[str] = []
        numbered = False
        for k, token in enumerate(tokens):
            word = token.norm
            if _SEASON_TOKEN.match(word):
                break  # "Inside the Episode: S1E1" is a companion show, not the name
            if re.match(r"^[a-z]+\d+$", word):  # "CRE206"
                words.append(re.sub(r"\d+$", "", word))
                numbered = True
                break
            if word.isdigit() or (
                (word in _GENERIC or word in EPISODE_NOUNS)
                and k + 1 < len(tokens)
                and tokens[k + 1].norm.isdigit()
            ):
                numbered = True
                break
            words.append(word)
        if numbered and words and len(words) < 4:
            counts[tuple(words)] += 1
    if not counts:
        return None
    prefix, count = counts.most_common(1)[0]
    return prefix if count >= max(3, len(episodes) * _PREFIX_SHARE) else None


def _segments(title: str, aliases: Sequence[tuple[str, ...]]) -> tuple[tuple[str, ...], ...]:
    """Parts of a title a review may quote, as canonical tokens.

    Parts that only number the episode or name the show are left out.
    """
    own = {canon(w) for alias in aliases for w in alias}
    segments: list[tuple[str, ...]] = []
    for part in _SEGMENT_SPLIT.split(_PARENTHESES.sub(" ", title)):
        words = [t.norm for t in tokenize(part)]
        for alias in sorted(aliases, key=len, reverse=True):
            if tuple(words[: len(alias)]) == alias:
                words = words[len(alias) :]
                break
            if len(alias) == 1 and words and re.fullmatch(rf"{re.escape(alias[0])}\d+", words[0]):
                words = words[1:]  # "CRE206 Das Ohr"
                break
        if len(words) == 1 and words[0].isdigit():
            continue  # "#129: Adam Smith ...": the number is the episode's, not a title
        canonical = [canon(w) for w in words]
        content = [
            w
            for w in canonical
            if not (
                (w.isdigit() and int(w) < 100)  # "Part 2", "Ep. 5": numbering, not a name
                or _SEASON_TOKEN.match(w)
                or w in _GENERIC
                or w in own
            )
        ]
        if any(w not in STOPWORDS and not _is_date_word(w) for w in content):
            segments.append(tuple(sys.intern(w) for w in canonical))
    return tuple(segments)


def _is_date_word(word: str) -> bool:
    """Days, years and month names: "Giant Bombcast 10/28/2014", "Episode 600 Sep 11th"."""
    if re.fullmatch(r"\d{1,2}(st|nd|rd|th)?", word):
        return True
    if re.fullmatch(r"(19|20)\d\d", word):
        return True
    return word in _MONTH_WORDS


@dataclass(frozen=True, slots=True)
class _Episode:
    """An episode's info and what only building the index needs."""

    info: EpisodeInfo
    opening: list[str]  # its opening terms, for the series document
    names: tuple[str, ...]  # the names found in it
    terms: tuple[str, ...]  # the distinct retrieval terms of its title and description
    links: tuple[str, ...]  # url_key() of its page, enclosure and URL guid


def _episode(e: CatalogEpisode, aliases: Sequence[tuple[str, ...]]) -> _Episode:
    skip = 0
    words = [t.norm for t in tokenize(e.title)]
    for alias in sorted(aliases, key=len, reverse=True):
        if tuple(words[: len(alias)]) == alias:
            skip = len(alias)
            break
    numbers = title_numbers(e.title, skip)
    season = e.season if e.season is not None else numbers.season
    first_word = words[0] if words else ""
    bonus = e.episode_type in ("bonus", "trailer") or first_word in _BONUS_WORDS
    written = title_date(e.title)
    aired = e.published
    if written is not None and (aired is None or abs((aired - written).days) <= 7):
        aired = min(aired, written) if aired is not None else written
    names = {p.name for p in e.persons}
    names.update(extract_names(e.title))
    # Guests are named early in show notes; what follows is mostly links and sponsors.
    names.update(extract_names(e.description_text)[:_EPISODE_NAMES])
    titled = list(terms(e.title))
    described = list(terms(e.description_text))
    # Long show notes are mostly links and sponsors: their start says what it is about.
    opening = [*titled, *described[:_OPENING_TERMS]]
    keys = [url_key(u) for u in (e.link, e.enclosure_url) if u]
    if e.guid.startswith(("http://", "https://")):
        keys.append(url_key(e.guid))
    info = EpisodeInfo(
        id=e.id,
        title=e.title,
        segments=_segments(e.title, aliases),
        numbers=numbers,
        itunes_number=e.number,
        season=season,
        bonus=bonus,
        published=e.published,
        aired=aired,
        links=(),  # hashed in index_series
    )
    return _Episode(
        info,
        opening,
        tuple(sorted(names)),
        tuple(dict.fromkeys((*titled, *described))),
        tuple(k for k in dict.fromkeys(keys) if k),
    )


def _strand_key(segment: tuple[str, ...]) -> tuple[str, ...]:
    """A title part without its numbering: "Calamity Episode 4" -> ("calamity",)."""
    return tuple(
        w
        for w in segment
        if not (
            (w.isdigit() and int(w) < 100)
            or _SEASON_TOKEN.match(w)
            or w in _GENERIC
            or w in _NUMBERING
        )
    )


def _without_strands(episodes: list[_Episode]) -> list[_Episode]:
    """The episodes without the title parts that name a strand of the show rather than
    one episode: a part that at least ``_STRAND`` episodes share once their numbering is
    set aside ("Nice White Parents - Ep. 3", "Sentimental in the City 4: ...", "Fire
    and Ruin | Exandria Unlimited: Calamity Episode 4"). Reviewers name the strand as a
    show, for the whole of it, so the name points at none of its episodes."""
    # Counted over distinct titles: a rerun repeats its title and is no strand.
    titles = {" ".join(fold(_PARENTHESES.sub(" ", e.info.title)).split()): e for e in episodes}
    sharing: Counter[tuple[str, ...]] = Counter()
    for e in titles.values():
        sharing.update({_strand_key(segment) for segment in e.info.segments})
    strands = {key for key, n in sharing.items() if n >= _STRAND and key}
    if not strands:
        return episodes
    kept: list[_Episode] = []
    for e in episodes:
        segments = tuple(s for s in e.info.segments if _strand_key(s) not in strands)
        if segments != e.info.segments:
            e = replace(e, info=replace(e.info, segments=segments))
        kept.append(e)
    return kept


def _title_only(episodes: Sequence[_Episode]) -> dict[str, int]:
    """``SeriesInfo.title_only``: the title words some episode lacks as a term, and
    how many episodes have each in a title part."""
    worded = [set(chain.from_iterable(e.info.segments)).difference(STOPWORDS) for e in episodes]
    lacking: set[str] = set()
    for words, e in zip(worded, episodes, strict=True):
        lacking.update(words.difference(e.terms))
    if not lacking:
        return _NONE
    return {w: sum(1 for words in worded if w in words) for w in sorted(lacking)}


_NONE: dict[str, int] = {}  # shared by the many series without such words (never changed)


def _series_names(
    series: CatalogSeries, episode_names: Sequence[tuple[str, ...]]
) -> tuple[tuple[str, str], ...]:
    own = fold(f"{series.title} | {series.author or ''} | {series.owner_name or ''}")
    names: dict[str, str] = {}
    for person in series.persons:
        names.setdefault(person.name, person.role or "host")
    for credit in (series.author, series.owner_name):
        for name in split_credit(credit):
            names.setdefault(name, "author")
            words = name.split()
            if len(words) >= 3 and words[0].lower() == "the":
                # Newspapers call themselves by their last word: "the Times".
                names.setdefault(f"the {words[-1]}", "author")
    description = series.description_text
    for name in extract_names(description):
        if fold(name) not in own:
            # "Hosted by Federico Viticci, Myke Hurley, and Stephen Hackett."
            hosted = any(
                _HOSTED.search(description[max(0, m.start() - 60) : m.start()])
                for m in re.finditer(re.escape(name.split()[0]), description)
            )
            names.setdefault(name, "host" if hosted else "named")
    # People named in many episodes are regulars of the show, not one episode's guest.
    counts: Counter[str] = Counter()
    for found in episode_names:
        counts.update(found)
    need = max(3, int(len(episode_names) * _REGULAR_SHARE))
    for name, count in counts.items():
        if count >= need and fold(name) not in own:
            names.setdefault(name, "regular")
    return tuple(names.items())

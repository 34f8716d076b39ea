"""Series candidates for a review and the signals for each.

Cheap, strong signals first (hyperlinks, the show's name, its people), then
retrieval; every signal becomes a named feature in [0, 1] (or a small signed value)
and, where it comes from words of the review, an ``Evidence`` with the exact span.
Episode-level signals are added by ``episodes.py``; ``score.py`` weighs them all.

Why one module of over 500 lines: every series-level signal is measured on the
same ``Analysis`` and the same candidate table, and each feature of
``SeriesFeatures`` is filled here in one pass, so a feature cannot be produced
twice or forgotten.
"""

from __future__ import annotations

import heapq
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from aggregator.linking.analysis import AUDIO_WORDS, OTHER_MEDIUM_WORDS, Analysis
from aggregator.linking.catalog import Catalog, LinkTarget
from aggregator.linking.directories import (
    DirectoryPage,
    directory_page,
    forum_name,
    show_page_slug,
    slug_words,
)
from aggregator.linking.features import SeriesFeatures
from aggregator.linking.series_index import SeriesInfo, dated_count
from aggregator.linking.text import STOPWORDS, fold, stem
from aggregator.linking.urls import prefixes, url_key
from aggregator.linking.variants import is_variant, word_stem
from aggregator.types import Evidence, HyperLink

__all__ = ["SeriesSignals", "series_candidates"]

# Words around a name that say it names a show (within _CONTEXT tokens either side).
_CONTEXT = 8
# Words before a name that make it a comparison ("as gripping as Serial").
_COMPARE_BEFORE = frozenset(
    {"like", "than", "as", "compared", "comparing", "comparison", "unlike", "similar",
     "reminds", "resembles", "isn", "not", "fans", "prefer", "vs", "versus", "whereas"}
)  # fmt: skip
# Words next to a name that make it a credit: the show stands for a person's or a
# company's work ("the host of Serial", "from the makers of S-Town", "Design Details
# co-host Bryn"), in a text about that person or their next thing. Like a comparison,
# such a use says the show is known, not that it is the subject.
_CREDIT_BEFORE = frozenset(
    {"host", "hosts", "hosted", "cohost", "creator", "creators", "created", "maker",
     "makers", "producer", "producers", "reporter", "narrator", "behind", "alum",
     "moderator", "moderatorin", "macher", "macherin", "machern", "gastgeber",
     "gastgeberin", "schopfer", "animateur", "animatrice", "createur", "presentador",
     "presentadora", "creador", "creadora", "presentatrice", "presentator"}
)  # fmt: skip
_CREDIT_AFTER = frozenset(
    {"host", "hosts", "cohost", "creator", "creators", "producer", "producers", "reporter",
     "narrator", "fame", "alum", "moderator", "moderatorin", "macher", "macherin",
     "gastgeber", "gastgeberin", "presentador", "presentadora"}
)  # fmt: skip
# The nameness from which a use of a show's name counts as naming the show.
_AS_NAME = 0.3
# A title read with its words bent ("Fake Hitler", see ``variants``) is weighed as the
# title would be, then keeps this share: reviewers bend a title they remember, but a
# bent phrase is as often the words themselves ("Winds of Change" in a song review).
VARIANT = "variant"
_VARIANT_SHARE = 0.8
# How many retrieval hits become candidates even without a name or person.
_RETRIEVAL_CANDIDATES = 5
# Review dates are days, episode dates are instants: allow for time zones and for a
# review dated the day an episode came out.
_DATE_SLACK = timedelta(days=2)


@dataclass(slots=True)
class NameOccurrence:
    start: int
    end: int
    nameness: float
    kind: str
    compare: bool  # a comparison ("as gripping as Serial") or a credit ("the host of Serial")


@dataclass(slots=True)
class SeriesSignals:
    series: SeriesInfo
    features: SeriesFeatures = field(default_factory=SeriesFeatures)
    evidence: list[Evidence] = field(default_factory=list)
    occurrences: list[NameOccurrence] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)  # where evidence sits in the text
    # episode index -> (start, end, name, specificity) of guests named in the review
    guest_episodes: dict[int, list[tuple[int, int, str, float]]] = field(default_factory=dict)
    link_episodes: dict[int, Evidence] = field(default_factory=dict)

    def add(self, kind: str, a: Analysis, start: int, end: int, detail: str) -> None:
        s, e = a.span(start, end)
        text = a.text[start:end]
        self.evidence.append(Evidence(kind, text, s, e, detail))
        self.positions.append(start)


def series_candidates(a: Analysis, catalog: Catalog) -> dict[int, SeriesSignals]:
    found: dict[int, SeriesSignals] = {}

    def get(series_id: int) -> SeriesSignals:
        if series_id not in found:
            found[series_id] = SeriesSignals(catalog.series(series_id))
        return found[series_id]

    pages = _links(a, catalog, get)
    _aliases(a, catalog, get)
    credited = _people(a, catalog, get)
    all_scores = catalog.retrieval.scores(a.query) if a.query else {}
    retrieved = heapq.nlargest(_RETRIEVAL_CANDIDATES, all_scores.items(), key=lambda i: i[1])
    attainable = sum(
        catalog.retrieval.idf(t) * w * (catalog.retrieval.k1 + 1) for t, w in a.query.items()
    )
    for series_id, _ in retrieved:
        get(series_id)
    _first_names(a, found)
    _directory_pages(a, catalog, get, found, pages)
    _own_page(a, catalog, get)
    # Where each show is named, by its name or by one of its credited people: an
    # episode number or date next to a show's name or its host's ("In the first chapter
    # Reed ...") is about that show (see episode_found.owner_factor).
    named = [
        (o.start, s.series.id) for s in found.values() for o in s.occurrences if o.nameness >= 0.3
    ]
    # A publisher credited by a show's feed may be another show ("This American Life"
    # for Serial): where a show is named, the credit is that show's name, not a person.
    shows_at = {start for start, _ in named}
    a.extra["named_at"] = sorted([*named, *(c for c in credited if c[0] not in shows_at)])
    uses = {sid: _uses(s) for sid, s in found.items()}
    all_uses = sum(uses.values())
    slug = _url_words(a)
    for signals in found.values():
        f = signals.features
        sid = signals.series.id
        f.content = all_scores.get(sid, 0.0) / attainable if attainable else 0.0
        good = [o for o in signals.occurrences if o.nameness >= _AS_NAME]
        f.name = max((o.nameness for o in signals.occurrences), default=0.0)
        f.name_count = math.log1p(len(good))
        f.compare = (sum(1 for o in good if o.compare) / len(good)) if good else 0.0
        f.share = uses[sid] / all_uses if all_uses else 0.0
        # Other shows named at least as much as this one: a roundup, not a review of it.
        # A show named once for comparison does not make the reviewed one a roundup.
        rivals = sum(1 for other, n in uses.items() if other != sid and n >= uses[sid] > 0)
        f.crowd = math.log1p(rivals) if good else 0.0
        f.headline = 1.0 if any(a.in_headline(o.start) for o in good) else 0.0
        if not f.headline and good and slug and _in_slug(signals.series, slug):
            f.headline = 1.0
        f.medium = a.medium(_own_words(signals.series, catalog))
        # A show's name in a text about a TV series, a film or a book is most often the
        # name of the adaptation: the same name, another medium.
        f.screen = f.name * max(0.0, -f.medium)
        f.opinion = a.opinion
        # News of a show's case or company names it as surely as a review does; what
        # tells them apart is that it reports. Its own feature, as ``screen`` is
        # ``medium``'s: the reporting end weighs more than the judging end, which
        # nearly every text reaches.
        f.report = f.name * max(0.0, -a.opinion)
        _dates(a, signals)
    return found


# A word of another medium is the show's own when at least this share of its episodes'
# titles and notes use it: most shows never call themselves something to watch, star or
# read, and one that does so in a fifth of its episodes describes itself with the word
# (Critical Role is streamed on Twitch, with "watch" in half its notes; 1865, an audio
# drama, is "starring" and "directed by"; Sentimental Garbage talks about books). And
# in at least _OWN_WORD_EPISODES of them: a habit, not one announcement ("the TV series,
# starring ..., comes to Hulu" in a short show's bonus episode makes neither word its).
_OWN_WORD_SHARE = 0.2
_OWN_WORD_EPISODES = 3


def _own_words(series: SeriesInfo, catalog: Catalog) -> Callable[[str], bool]:
    """Whether a (folded) word is one the show uses of itself in its episodes."""
    needed = max(_OWN_WORD_EPISODES, _OWN_WORD_SHARE * len(series.episodes))

    def own(word: str) -> bool:
        for form in _forms(word):
            term = catalog.known_term(form)
            if term is not None and series.terms.df(term) >= needed:
                return True
        return False

    return own


def _forms(word: str) -> tuple[str, ...]:
    """A word as a retrieval term, and without "-ed" or "-ing" ("watched" is "watch")."""
    base = stem(word)
    for suffix in ("ing", "ed"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return base, word[: -len(suffix)]
    return (base,)


# A credited person named counts half a use of the show's name towards how much of the
# review is about the show: "Challimachi travels to Iraq" is about Caliphate, though
# less surely than its name.
_PERSON_USE = 0.5


def _uses(signals: SeriesSignals) -> float:
    """How much the review is about the show: its name's uses, each by its nameness,
    except in a comparison ("as gripping as Serial" is about the other show), and the
    uses of its credited people's names."""
    named = sum(o.nameness for o in signals.occurrences if o.nameness >= _AS_NAME and not o.compare)
    people = sum(1 for e in signals.evidence if e.kind == "person")
    return named + _PERSON_USE * people


def _url_words(a: Analysis) -> tuple[str, ...]:
    """The words of the review's own URL path ("/2017/04/podcast-review-s-town")."""
    url = a.review.url or ""
    path = url.split("://", 1)[-1].partition("/")[2].split("?", 1)[0]
    return slug_words(path.replace("/", " ")) if path else ()


def _in_slug(series: SeriesInfo, slug: tuple[str, ...]) -> bool:
    """Whether the URL's words spell one of the show's names (two words at least, or a
    one-word title: "s-town", "serial-season-two", "caliphate-review")."""
    for alias in series.aliases:
        words = alias.tokens
        if alias.kind not in ("title", "short"):
            continue
        n = len(words)
        if any(slug[i : i + n] == words for i in range(len(slug) - n + 1)):
            return True
    return False


def _links(
    a: Analysis, catalog: Catalog, get: Callable[[int], SeriesSignals]
) -> list[tuple[HyperLink, DirectoryPage]]:
    """Links to a series' site, feed or episode pages; returns the links to podcast
    directory pages, read once every other candidate is known."""
    own = url_key(a.review.url or "")
    pages: list[tuple[HyperLink, DirectoryPage]] = []
    for link in a.review.links:
        key = url_key(link.href)
        if key is None or key == own:
            continue
        start, end = (link.start + a.shift, link.end + a.shift) if link.start >= 0 else (0, 0)
        targets = _resolve(catalog.link_targets(key))
        strength, detail = 1.0, "links to"
        if not targets and (page := directory_page(link.href)) is not None:
            pages.append((link, page))
            continue
        if not targets:
            for level, prefix in enumerate(prefixes(key)):
                owners = catalog.prefix_owners(prefix)
                if 1 <= len(owners) <= 2:
                    strength = (0.6 if level == 0 and "/" in prefix else 0.4) / len(owners)
                    targets = [(sid, None) for sid in sorted(owners)]
                    detail = f"links under {prefix}, a site of"
                    break
        for series_id, index in targets:
            signals = get(series_id)
            what = "the site or feed of the series"
            if index is not None:
                what = f"episode {signals.series.episodes[index].title!r}"
            span = a.span(start, end) if link.start >= 0 else (-1, -1)
            text = a.text[start:end] if link.start >= 0 else link.href
            evidence = Evidence("hyperlink", text, *span, f"{detail} {what} ({link.href})")
            signals.evidence.append(evidence)
            if link.start >= 0:
                signals.positions.append(start)
            signals.features.link = max(signals.features.link, strength)
            if index is not None and strength == 1.0:
                signals.link_episodes[index] = evidence
    return pages


# A directory page named by its slug is nearly as sure as a link to the show's own
# site; two shows with the same name share it.
_DIRECTORY_STRENGTH = 0.9


def _directory_pages(
    a: Analysis,
    catalog: Catalog,
    get: Callable[[int], SeriesSignals],
    found: dict[int, SeriesSignals],
    pages: list[tuple[HyperLink, DirectoryPage]],
) -> None:
    """Links to a show's or an episode's page in a podcast directory.

    The show is the one whose name the page's slug spells, or whose feed a Google
    Podcasts page names; an episode page without the show's slug (Apple's ``?i=``)
    counts for a candidate series that has an episode of that title.
    """
    for link, page in pages:
        series: list[int] = []
        if page.feed_url and (key := url_key(page.feed_url)):
            series = sorted({t.series_id for t in catalog.link_targets(key)})
        elif page.show:
            series = _series_named(catalog, page.show)
        elif page.episode:
            series = sorted(sid for sid, s in found.items() if _episode_titled(s, page.episode))
        if not series or len(series) > 2:
            continue
        strength = (1.0 if page.feed_url else _DIRECTORY_STRENGTH) / len(series)
        for series_id in series:
            signals = get(series_id)
            index = _episode_titled(signals, page.episode) if page.episode else None
            what = f"the {page.directory} page of the series"
            if index is not None:
                what = f"the {page.directory} page of episode "
                what += repr(signals.series.episodes[index].title)
            detail = f"links to {what} ({link.href})"
            if link.start >= 0:
                start, end = link.start + a.shift, link.end + a.shift
                evidence = Evidence("hyperlink", a.text[start:end], *a.span(start, end), detail)
                signals.positions.append(start)
            else:
                evidence = Evidence("hyperlink", link.href, -1, -1, detail)
            signals.evidence.append(evidence)
            signals.features.link = max(signals.features.link, strength)
            if index is not None:
                signals.link_episodes[index] = evidence


def _own_page(a: Analysis, catalog: Catalog, get: Callable[[int], SeriesSignals]) -> None:
    """A review found on a show's own page of a directory or chart site (an app-store
    review at ``/podcast/1509307460-wind-of-change``) reviews that show, though it
    seldom names it: the page does. As sure as a link to the show's directory page.
    A post in the show's own forum (``/r/serialpodcast/``) is about it as surely as a
    page under a folder of its site (which also holds its case's news)."""
    url = a.review.url or ""
    slug = show_page_slug(url)
    series = _series_named(catalog, slug) if slug else []
    strength = _DIRECTORY_STRENGTH
    detail = f"the review is on a page of the series ({url})"
    if not series and (forum := forum_name(url)) is not None:
        series = _series_spelled(catalog, *forum)
        strength = _FORUM_STRENGTH
        detail = f"the review is a post in the series' forum ({url})"
    if not series or len(series) > 2:
        return
    for series_id in series:
        signals = get(series_id)
        signals.evidence.append(Evidence("hyperlink", url, -1, -1, detail))
        signals.features.link = max(signals.features.link, strength / len(series))


# A post in a forum named for a show: as sure as a link under a folder only that show
# and one other use (``_links``), since the show's forum also discusses its case and
# its makers' other work.
_FORUM_STRENGTH = 0.6


def _series_spelled(catalog: Catalog, letters: str, suffixed: bool) -> list[int]:
    """The series whose name is spelled by ``letters`` run together ("criticalrole",
    "cortex"); an acronym ("atp") only when the forum's name added a podcast-ish
    ending to it ("ATPfm"), as a bare acronym names many things."""
    found = {sid for alias, sid, kind in catalog.aliases_spelled(letters) if kind != "acronym"}
    for alias, sid, kind in catalog.aliases_starting(letters):
        if alias == (letters,) and (kind != "acronym" or suffixed):
            found.add(sid)
    return sorted(found)


def _series_named(catalog: Catalog, words: tuple[str, ...]) -> list[int]:
    """The series whose name (its title, or the title before a subtitle) a slug spells,
    "the" and a closing "podcast" aside, as the catalog's aliases drop them."""
    words = _bare(words)
    if not words:
        return []
    return sorted(
        {
            series_id
            for alias, series_id, kind in catalog.aliases_starting(words[0])
            if kind in ("title", "short") and _bare(slug_words(" ".join(alias))) == words
        }
    )


def _bare(words: tuple[str, ...]) -> tuple[str, ...]:
    while len(words) > 1 and words[0] == "the":
        words = words[1:]
    while len(words) > 1 and words[-1] in ("podcast", "the"):
        words = words[:-1]
    return words


def _episode_titled(signals: SeriesSignals, words: tuple[str, ...]) -> int | None:
    """The index of the series' episode whose title the slug spells, if exactly one."""
    matches = [i for i, e in enumerate(signals.series.episodes) if slug_words(e.title) == words]
    return matches[0] if len(matches) == 1 else None


def _resolve(targets: list[LinkTarget]) -> list[tuple[int, int | None]]:
    """(series, episode) pairs a link points at; a page several episodes (or the show
    itself) give as their link is the show's site, not one episode's page."""
    by_series: dict[int, set[int | None]] = {}
    for target in targets:
        by_series.setdefault(target.series_id, set()).add(target.episode_index)
    resolved: list[tuple[int, int | None]] = []
    for series_id, indexes in sorted(by_series.items()):
        if None in indexes or len(indexes) > 1:
            resolved.append((series_id, None))
        else:
            resolved.append((series_id, next(iter(indexes))))
    return resolved


# A name is looked for split into at most this many words of the review.
_MAX_SPLIT = 3


def _aliases(a: Analysis, catalog: Catalog, get: Callable[[int], SeriesSignals]) -> None:
    tokens = a.tokens
    norms = [t.norm for t in tokens]
    starting = catalog.aliases_starting
    spelled = catalog.aliases_spelled
    stemmed = catalog.aliases_stemmed
    for i, word in enumerate(norms):
        found = [(alias, sid, kind, len(alias)) for alias, sid, kind in starting(word)]
        if tokens[i].cap and word not in STOPWORDS:
            found += [
                (alias, sid, VARIANT, len(alias))
                for alias, sid, _ in stemmed(word_stem(word))
                if is_variant(norms[i : i + len(alias)], alias)
            ]
        # The same name with its words run together or split apart ("The Drop Out",
        # "Stown", "Bearbrook"): reviewers space a title as they hear it.
        for n in range(1, min(_MAX_SPLIT, len(norms) - i) + 1):
            for alias, sid, kind in spelled("".join(norms[i : i + n])):
                if len(alias) != n:
                    found.append((alias, sid, kind, n))
        for alias, series_id, kind, n in found:
            if n == len(alias) and kind != VARIANT and tuple(norms[i : i + n]) != alias:
                continue
            start, end = tokens[i].start, tokens[i + n - 1].end
            signals = get(series_id)
            nameness = _nameness(a, i, i + n, kind, signals.series, catalog)
            compare = any(
                t.norm in _COMPARE_BEFORE or t.norm in _CREDIT_BEFORE
                for t in tokens[max(0, i - 3) : i]
            ) or any(t.norm in _CREDIT_AFTER for t in tokens[i + n : i + n + 2])
            signals.occurrences.append(NameOccurrence(start, end, nameness, kind, compare))
            if nameness >= 0.3:
                detail = f"the show's name {signals.series.title!r} ({kind}, {nameness:.2f})"
                signals.add("series-title", a, start, end, detail)


def _nameness(
    a: Analysis, i: int, j: int, kind: str, series: SeriesInfo, catalog: Catalog
) -> float:
    """How surely the words tokens[i:j] are used as the name of ``series`` (0..1). Its
    own title's casing is the name's whatever the language's rules ("Langsam
    gesprochene Nachrichten"); words of other media it uses of itself are its own."""
    title = series.title
    tokens = a.tokens
    words = tokens[i:j]
    raw = [a.text[t.start : t.end] for t in words]
    n = j - i
    base = 0.4 if kind in ("acronym", "part") else (0.5, 0.8, 1.0)[min(n, 3) - 1]
    if a.cased[i]:
        if kind == "acronym":
            # The initials in capitals; a word after them as a name is written ("SE
            # Radio" for "Software Engineering Radio").
            if not raw[0].isupper() or not all(r[:1].isupper() for r in raw[1:]):
                return 0.0
        elif not all(
            t.cap
            for k, t in enumerate(words)
            if ((t.norm.isalpha() and len(t.norm) > 3) or k == 0)
            and not (k and _hyphened(a.text, words[k - 1].end, t.start))
        ) and not (n > 1 and words[0].cap and _cased_as(raw, title)):
            return 0.05
    score = base
    start, end = words[0].start, words[-1].end
    defined = _defined_as_podcast(a, i, j)
    if (
        defined
        or a.in_quotes(start, end)
        or a.in_anchor(start, end)
        or a.text[start:end].casefold() in a.emphasized
    ):
        score += 0.4
    window = tokens[max(0, i - _CONTEXT) : j + _CONTEXT]
    if any(t.norm in AUDIO_WORDS for t in window):
        score += 0.3
    if any(t.norm in OTHER_MEDIUM_WORDS for t in window):
        own = _own_words(series, catalog)
        if any(t.norm in OTHER_MEDIUM_WORDS and not own(t.norm) for t in window):
            score -= 0.3
    if a.in_headline(start):
        score += 0.2  # in the headline
    if a.cased[i] and i in a.sentence_starts and not defined:
        score -= 0.2 if n == 1 else 0.0  # a capital at the start of a sentence says nothing
    elif a.cased[i]:
        score += 0.1  # capitalised mid-sentence: a proper name
    score = max(0.0, min(1.0, score))
    return score * _VARIANT_SHARE if kind == VARIANT else score


# Nouns that define the words next to them as a podcast's name: "the podcast Serial",
# "Caliphate, the New York Times podcast, ...", "der Podcast Cui Bono".
_PODCAST_NOUNS = frozenset({"podcast", "podcasts", "podcastserie", "podcastreihe", "audioserie"})
# How far after a name, within its clause, an apposition may put that noun.
_APPOSITION = 6


def _defined_as_podcast(a: Analysis, i: int, j: int) -> bool:
    """Whether tokens[i:j] are defined as a podcast's name, as clearly as quotes would:
    right after the noun ("the podcast Serial") or followed by an apposition that ends
    in it ("Caliphate, the New York Times podcast,")."""
    tokens = a.tokens
    if i and tokens[i - 1].norm in _PODCAST_NOUNS:
        return True
    if j >= len(tokens) or not a.text[tokens[j - 1].end : tokens[j].start].strip().startswith(","):
        return False
    for k in range(j, min(len(tokens), j + _APPOSITION)):
        if tokens[k].norm in _PODCAST_NOUNS:
            return True
        if k > j and "," in a.text[tokens[k - 1].end : tokens[k].start]:
            return False  # the clause ended before the noun
    return False


def _hyphened(text: str, end: int, start: int) -> bool:
    """Two words joined by a hyphen alone: one compound, capitalised at its head
    ("S-town", "True-Crime-Podcast"), as several languages write them."""
    return text[end:start] == "-"


def _cased_as(raw: list[str], title: str) -> bool:
    """The words are written as the show's own title writes them."""
    return (
        bool(title)
        and re.search(r"(?<!\w)" + r"\W+".join(map(re.escape, raw)) + r"(?!\w)", title) is not None
    )


# Roles of names found in a show's description rather than credited by its feed.
_FOUND_ROLES = frozenset({"named", "regular"})


def _rare(catalog: Catalog, word: str) -> bool:
    """A word few series use: a name made of it is not an everyday phrase."""
    limit = max(2, int(0.02 * len(catalog)))
    return len(word) >= 4 and catalog.retrieval.document_frequency(stem(word)) <= limit


def _people(
    a: Analysis, catalog: Catalog, get: Callable[[int], SeriesSignals]
) -> list[tuple[int, int]]:
    """Credited people, guests and named people found in the review, put on their
    series; returns where each credited person is named, with the series."""
    buckets: dict[tuple[int, str], dict[int, float]] = {}
    own_names: dict[int, set[tuple[str, ...]]] = {}  # per series, its names' tokens
    credited: list[tuple[int, int]] = []
    for hit in a.names:
        uses = catalog.name_uses(hit.name_id)
        if not uses:
            continue
        words = catalog.names.words(hit.name_id)
        matched = a.text[hit.start : hit.end].lower()
        weight = 1.0
        if not hit.full:
            # One word of a longer name ("Callimachi", "Siracusa"): only a rare word, only
            # for the show's own people (a guest is named in full), and less than the name.
            word = fold(matched) if fold(matched) in words else words[-1]
            if not _rare(catalog, word) or all(u.role == "guest" for u in uses.values()):
                continue
            weight = 0.5 / math.sqrt(max(1, catalog.names.word_count(word)))
        elif (len(words) == 1 or not a.cased_at(hit.start)) and not any(
            _rare(catalog, w) for w in words
        ):
            continue  # "Love Story", "briefcase full": everyday words, not a person
        weight /= len(uses)
        display = catalog.names.display(hit.name_id)
        for series_id, use in uses.items():
            signals = get(series_id)
            own = own_names.get(series_id)
            if own is None:
                own = own_names[series_id] = {alias.tokens for alias in signals.series.aliases}
            if tuple(words) in own:
                continue  # the show's own name credited as its author
            if use.role == "guest" and not hit.full:
                continue
            if use.role == "guest":
                group, kind = "guests", "guest"
                # A guest named by one episode points at it; a name many episodes carry
                # (a sponsor, a place) hardly does, nor does a name of everyday words.
                specific = 1.0 / math.sqrt(max(1, len(use.episodes)))
                if not any(_rare(catalog, w) for w in words):
                    specific *= 0.3
                for index in use.episodes:
                    signals.guest_episodes.setdefault(index, []).append(
                        (hit.start, hit.end, display, specific)
                    )
            elif use.role in _FOUND_ROLES:
                # Named in the show's description but not credited: evidence to show,
                # too weak to weigh (the fit gave it nothing).
                group, kind = "", "person"
            else:
                group, kind = "people", "person"
                credited.append((hit.start, series_id))
            if group:
                bucket = buckets.setdefault((series_id, group), {})
                bucket[hit.name_id] = max(bucket.get(hit.name_id, 0.0), weight)
            detail = f"{use.role} {display} (ratio {hit.ratio:.0f})"
            signals.add(kind, a, hit.start, hit.end, detail)
    for (series_id, group), by_name in buckets.items():
        total = min(3.0, sum(by_name.values()))
        if group == "guests":
            get(series_id).features.guests = total
        else:
            get(series_id).features.people = total
    return credited


def _first_names(a: Analysis, found: dict[int, SeriesSignals]) -> None:
    """Hosts called by first name together: "Federico, Myke and Stephen".

    One first name is common; two or three of the same show's hosts in one review
    are not. Only series already candidates are looked at.
    """
    capitalised = {t.norm: t for i, t in enumerate(a.tokens) if t.cap or not a.cased[i]}
    for signals in found.values():
        hosts = signals.series.first_names
        present = [capitalised[n] for n in sorted(hosts) if n in capitalised]
        if len(present) >= 2:
            signals.features.first_names = min(1.0, (len(present) - 1) / 2)
            for token in present:
                detail = f"first name of a host of {signals.series.title!r}"
                signals.add("person", a, token.start, token.end, detail)


def _starts_with_the_show(series: SeriesInfo) -> bool:
    """Whether the feed's oldest episode is the show's first, so that a review older
    than it predates the show.

    Feeds of long-running shows keep only their latest episodes (the Accidental Tech
    Podcast's starts at 169, Critical Role's at C2E20): their oldest item says nothing
    of when the show began. A first episode numbered 0 or 1, or a trailer, prologue or
    other bonus item ahead of the first full one, does.
    """
    first = series.episodes[0]
    if first.bonus:
        return True
    numbers = first.numbers
    given = [n for n in (numbers.episode, numbers.plain, first.itunes_number) if n is not None]
    given += [n for _, n in numbers.nouns]
    return bool(given) and min(given) <= 1 and (first.season or 1) == 1


def _dates(a: Analysis, signals: SeriesSignals) -> None:
    f = signals.features
    published = a.review.published
    episodes = signals.series.episodes
    dated = dated_count(signals.series)
    # How long ago the show's last episode came out says nothing of whether this is a
    # review of it: finished series are binged and reviewed years later.
    if published is not None and dated and _starts_with_the_show(signals.series):
        first = episodes[0].published
        assert first is not None
        if published + _DATE_SLACK < first:
            f.before_start = 1.0
    # The series' months and sizes only when the review gives a month or a count.
    months: set[tuple[int, int]] | None = None
    for ref in a.dates:
        if ref.day is None and ref.month is not None:
            if months is None:
                months = {(e.published.year, e.published.month) for e in episodes if e.published}
            if (ref.year, ref.month) in months:
                f.month = 1.0
                signals.add("date", a, ref.start, ref.end, "episodes came out that month")
    if not a.counts:
        return
    full = [e for e in episodes if not e.bonus]
    sizes = {len(full), len(full) - 1, len(full) + 1}
    seasons: dict[int, int] = {}
    for e in full:
        if e.season is not None:
            seasons[e.season] = seasons.get(e.season, 0) + 1
    sizes.update(seasons.values())
    # "a ten-episode series" may count chapters and leave out a prologue or a two-part one.
    numbered = [n for e in full for _, n in e.numbers.nouns] + [
        n for e in full for n in (e.numbers.episode, e.numbers.plain) if n is not None
    ]
    if numbered:
        sizes.add(max(numbered))
    for count in a.counts:
        if count.value in sizes:
            f.count = 1.0
            detail = f"the series counts {count.value} {count.noun}s ({len(full)} items)"
            signals.add("count", a, count.start, count.end, detail)
        elif f.count == 0.0:
            f.count = -1.0

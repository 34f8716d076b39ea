"""Inputs of bench/link.py: the real catalog, a synthetic one grown from it, 5 KB reviews.

Everything here is deterministic for a given seed, so the worker process of each
catalog size rebuilds the same catalog and reviews from the same real inputs.

The synthetic text is drawn from the real feeds' own words, weighted by how often
they occur there (a unigram model: real term frequencies, hence realistic posting
lengths for retrieval), plus a long tail of made-up rare words: 100k episodes of
real show notes have far more distinct words than the ~26k of our 5k real episodes
(Heaps' law), and those rare words are what a tf x idf query picks.
"""

from __future__ import annotations

import bisect
import itertools
import json
import math
import random
import re
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aggregator.evaluation.dataset import load_dataset
from aggregator.linking.names import extract_names
from aggregator.linking.text import STOPWORDS, fold
from aggregator.types import CatalogEpisode, CatalogSeries, HyperLink, Person, ReviewDocument

__all__ = [
    "BenchReview",
    "Vocabulary",
    "catalog_for_size",
    "load_real",
    "outline",
    "pad_review",
    "synthetic_catalog",
    "synthetic_reviews",
]

ROOT = Path(__file__).resolve().parents[1]
DEV_SET = ROOT / "tests" / "data" / "linking"
REAL_FEEDS = ROOT.parent / "shared" / "data" / "feeds" / "real"
REVIEW_CHARS = 5000  # a 5 KB review: the size the linking targets are stated for

_WORD = re.compile(r"[^\W\d_]+")
# Share of synthetic words drawn from the made-up tail, its size and its Zipf exponent:
# with these, 100k episodes have ~120k distinct terms, what Heaps' law (beta ~0.5-0.55)
# extrapolates from the real feeds (5k episodes, 314k words, 26k distinct).
_TAIL_SHARE = 0.03
_TAIL_WORDS = 300_000
_TAIL_ZIPF = 0.7
# Series sizes: log-uniform in [20, 300] episodes, mean ~103 (about 1,000 series per
# 100k episodes, the catalog the linking targets are stated for).
_SMALLEST, _LARGEST = 20, 300
# People per episode: guests (credited as podcast:person), and 0-4 names in the text,
# most of them the show's regulars. Measured on the real feeds: 3.4 names found per
# description, 2.1 distinct names per episode over the whole catalog (shows name the
# same people again and again); these give about the same.
_GUESTS = (0, 1, 2, 3)
_GUEST_WEIGHTS = (0.55, 0.3, 0.1, 0.05)
_MENTIONS = 4
# Share of capitalised words kept in review prose: 13 % of the dev reviews' words are
# capitalised, 35 % of the feeds'.
_PROSE = 0.2
_REGULARS = 10
_REGULAR_SHARE = 0.6


@dataclass(frozen=True, slots=True)
class BenchReview:
    kind: str  # "dev", "positive" (names a synthetic show) or "negative"
    review: ReviewDocument
    series_id: int | None = None  # the synthetic show a positive one reviews


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """Words of the real feeds with their weights, and the parts of people's names."""

    words: tuple[str, ...]  # surface forms, most frequent first
    cumulative: tuple[float, ...]
    title_words: tuple[str, ...]  # content words of episode titles (repeats = weight)
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    description_lengths: tuple[int, ...]  # words per real episode description

    @classmethod
    def from_series(cls, series: Iterable[CatalogSeries]) -> Vocabulary:
        # Surface forms with their own counts, so capitals come as often as in the feeds.
        forms: Counter[str] = Counter()
        titles: list[str] = []
        firsts: Counter[str] = Counter()
        lasts: Counter[str] = Counter()
        lengths: list[int] = []
        for s in series:
            for e in s.episodes:
                lengths.append(len(e.description_text.split()))
                titles.extend(
                    w for w in _WORD.findall(e.title) if len(w) > 2 and fold(w) not in STOPWORDS
                )
                forms.update(_WORD.findall(f"{e.title} {e.description_text}"))
                for name in extract_names(e.description_text):
                    parts = name.split()
                    if len(parts) == 2:
                        firsts[parts[0]] += 1
                        lasts[parts[1]] += 1
        ranked = sorted(forms.items(), key=lambda kv: (-kv[1], kv[0]))
        return cls(
            tuple(w for w, _ in ranked),
            tuple(itertools.accumulate(float(n) for _, n in ranked)),
            tuple(titles),
            tuple(sorted(firsts)),
            tuple(sorted(lasts)),
            tuple(lengths),
        )


class _Writer:
    """Seeded text: sentences from the vocabulary, names from first x last parts."""

    def __init__(self, vocabulary: Vocabulary, seed: int) -> None:
        self.v = vocabulary
        self.rng = random.Random(seed)
        tail_rng = random.Random(7)  # the same made-up words in every process
        letters = "etaoinshrdlucmfwypvbgk"
        self.tail = [
            "".join(tail_rng.choice(letters) for _ in range(tail_rng.randint(5, 10)))
            for _ in range(_TAIL_WORDS)
        ]
        self.tail_cumulative = list(
            itertools.accumulate(r**-_TAIL_ZIPF for r in range(1, _TAIL_WORDS + 1))
        )

    def words(self, n: int) -> list[str]:
        rng, v = self.rng, self.v
        out = rng.choices(v.words, cum_weights=v.cumulative, k=n)
        for i in range(n):
            if rng.random() < _TAIL_SHARE:
                out[i] = self.tail[
                    bisect.bisect(self.tail_cumulative, rng.random() * self.tail_cumulative[-1])
                ]
        return out

    def sentences(self, n_words: int, names: Sequence[str] = (), capitals: float = 1.0) -> str:
        """Sentences of vocabulary words with ``names`` put in at random places.

        Two capitalised words drawn side by side would read as a made-up person to the
        linker's name finder; real text has its capitals in a few fixed names, so the
        second of two is lower-cased and people come only from ``names``. Show notes
        keep every capital; prose keeps fewer (``capitals``: the share kept).
        """
        rng = self.rng
        sentences: list[list[str]] = []
        left = n_words
        while left > 0:
            n = min(left, rng.randint(6, 22))
            words = self.words(n)
            words[0] = words[0][:1].upper() + words[0][1:]
            for i in range(1, n):
                if words[i][:1].isupper() and (
                    words[i - 1][:1].isupper() or rng.random() >= capitals
                ):
                    words[i] = words[i].lower()
            sentences.append(words)
            left -= n
        for name in names:
            words = rng.choice(sentences)
            words.insert(rng.randint(1, len(words)), name)
        return " ".join(" ".join(words) + "." for words in sentences)

    def title(self, low: int, high: int) -> str:
        words = self.rng.choices(self.v.title_words, k=self.rng.randint(low, high))
        return " ".join(w[:1].upper() + w[1:] for w in words)

    def person(self) -> str:
        return f"{self.rng.choice(self.v.first_names)} {self.rng.choice(self.v.last_names)}"


def synthetic_catalog(
    vocabulary: Vocabulary, episodes: int, first_series: int, first_episode: int, seed: int = 1
) -> Iterator[CatalogSeries]:
    """``episodes`` episodes over series of 20-300 episodes each (deterministic), made
    one series at a time as they are asked for."""
    w = _Writer(vocabulary, seed)
    rng = w.rng
    left, sid, eid = episodes, first_series, first_episode
    while left > 0:
        size = min(left, round(math.exp(rng.uniform(math.log(_SMALLEST), math.log(_LARGEST)))))
        # Two or three content words: a show called "With" or "Big" would be named by
        # every review (real catalogs have a few such names, not hundreds).
        title = w.title(2, 3) + rng.choice(("", "", " Podcast", " Show", " Radio"))
        slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") + f"-{sid}"
        site = f"https://{slug}.example.com"
        hosts = [w.person() for _ in range(rng.choice((1, 1, 2, 3)))]
        regulars = [*hosts, *(w.person() for _ in range(_REGULARS))]
        style = rng.choice(("number", "episode", "plain", "plain"))
        start = datetime(2005, 1, 1, tzinfo=UTC) + timedelta(days=rng.randint(0, 6000))
        cadence = rng.choice((1, 3, 7, 7, 7, 14))
        items: list[CatalogEpisode] = []
        for n in range(1, size + 1):
            name = w.title(3, 8)
            if style == "number":
                name = f"{n}: {name}"
            elif style == "episode":
                name = f"Episode {n} - {name}"
            guests = [w.person() for _ in range(rng.choices(_GUESTS, _GUEST_WEIGHTS)[0])]
            named = [
                rng.choice(regulars) if rng.random() < _REGULAR_SHARE else w.person()
                for _ in range(rng.randint(0, _MENTIONS))
            ]
            text = w.sentences(max(5, rng.choice(vocabulary.description_lengths)), named)
            if guests:
                text = f"{hosts[0]} talks with {' and '.join(guests)}. {text}"
            items.append(
                CatalogEpisode(
                    id=eid,
                    series_id=sid,
                    guid=f"{slug}-{n}",
                    title=name,
                    description_text=text,
                    published=start + timedelta(days=cadence * (n - 1), hours=10),
                    number=n,
                    episode_type="full",
                    link=f"{site}/episodes/{n}",
                    enclosure_url=f"https://cdn.example.com/{slug}/{n}.mp3",
                    persons=tuple(Person(g, role="guest") for g in guests),
                )
            )
            eid += 1
        yield CatalogSeries(
            id=sid,
            title=title,
            feed_url=f"https://feeds.example.com/{slug}.xml",
            author=", ".join(hosts),
            description_text=f"Hosted by {' and '.join(hosts)}. {w.sentences(40)}",
            link=site,
            persons=tuple(Person(h, role="host") for h in hosts),
            episodes=tuple(items),
        )
        left -= size
        sid += 1


# --- the real catalog ------------------------------------------------------------------


def load_real() -> tuple[list[CatalogSeries], list[ReviewDocument]]:
    """The dev set's catalog and reviews, plus the real feeds it does not already hold
    (another snapshot of a show already there would split its links in two).

    Feeds are read with ``aggregator.evaluation.dataset.load_dataset`` (our parser and its
    conversion to ``CatalogSeries``); ids are renumbered to be unique across both.
    """
    dev = load_dataset(DEV_SET)
    series = list(dev.series)
    titles = {fold(s.title) for s in series}
    with tempfile.TemporaryDirectory() as tmp:
        catalog = Path(tmp) / "catalog"
        catalog.mkdir()
        for feed in sorted([*REAL_FEEDS.glob("*.xml"), *REAL_FEEDS.glob("*.rss")]):
            (catalog / f"{feed.stem}.xml").symlink_to(feed)
        (Path(tmp) / "labels.json").write_text(json.dumps({"reviews": []}), encoding="utf-8")
        extra = load_dataset(Path(tmp)).series
    for s in extra:
        if fold(s.title) not in titles:
            titles.add(fold(s.title))
            series.append(s)
    return _renumber(series), [r.review for r in dev.reviews]


def _renumber(series: Sequence[CatalogSeries]) -> list[CatalogSeries]:
    out: list[CatalogSeries] = []
    eid = 1
    for sid, s in enumerate(series, start=1):
        episodes = []
        for e in s.episodes:
            episodes.append(replace(e, id=eid, series_id=sid))
            eid += 1
        out.append(replace(s, id=sid, episodes=tuple(episodes)))
    return out


def catalog_for_size(
    real: Sequence[CatalogSeries], vocabulary: Vocabulary, size: int
) -> tuple[Iterator[CatalogSeries], int]:
    """``size`` episodes: the real series (only the smallest ones that fit in half of a
    catalog smaller than the real one), then the synthetic ones made as they are asked
    for (a stream, as ``Storage.with_catalog`` gives it); and how many are real."""
    total = sum(len(s.episodes) for s in real)
    chosen = list(real)
    if total > size // 2:
        chosen, used = [], 0
        for s in sorted(real, key=lambda s: (len(s.episodes), s.id)):
            if used + len(s.episodes) <= size // 2:
                chosen.append(s)
                used += len(s.episodes)
    real_count = sum(len(s.episodes) for s in chosen)
    first_series = max(s.id for s in real) + 1
    first_episode = max(e.id for s in real for e in s.episodes) + 1
    synthetic = synthetic_catalog(vocabulary, size - real_count, first_series, first_episode)
    return itertools.chain(chosen, synthetic), real_count


def outline(series: CatalogSeries) -> CatalogSeries:
    """The series without its texts and people but its hosts': what ``synthetic_reviews``
    reads (a fifth of the memory of the whole series)."""
    episodes = tuple(replace(e, description_text="", persons=()) for e in series.episodes)
    return replace(series, description_text="", episodes=episodes)


# --- reviews ---------------------------------------------------------------------------


def pad_review(review: ReviewDocument, chars: int = REVIEW_CHARS) -> ReviewDocument:
    """The review at ``chars`` characters: its text repeated (the same words, so the same
    signals) or cut at a word boundary; links whose anchor is cut off lose their span."""
    text = review.text.strip()
    if not text:
        return review
    while len(text) < chars:
        text = f"{text}\n\n{review.text.strip()}"
    cut = text.rfind(" ", 0, chars)
    text = text[: cut if cut > chars // 2 else chars]
    links = tuple(
        link if link.end <= len(text) else HyperLink(link.href, link.text) for link in review.links
    )
    return replace(review, text=text, links=links)


def synthetic_reviews(
    vocabulary: Vocabulary,
    synthetic: Sequence[CatalogSeries],
    positives: int,
    negatives: int,
    seed: int = 2,
) -> list[BenchReview]:
    """Reviews that name synthetic shows (title, host with a typo, an episode by number
    and by title) and reviews that name none; all ``REVIEW_CHARS`` long."""
    w = _Writer(vocabulary, seed)
    rng = w.rng
    out: list[BenchReview] = []
    for _ in range(positives):
        s = rng.choice(synthetic)
        e = rng.choice(s.episodes)
        host = s.persons[0].name if s.persons else w.person()
        first, _, last = host.partition(" ")
        typo = last
        if len(last) > 4:
            k = rng.randrange(1, len(last) - 2)
            typo = last[:k] + last[k + 1] + last[k] + last[k + 2 :]
        title = re.sub(r"^(\d+: |Episode \d+ - )", "", e.title)
        facts = [
            f'I have been listening to "{s.title}", the podcast {host} hosts.',
            f'In episode {e.number}, "{title}", {first} {typo} is at their best.',
            f"{w.sentences(12, capitals=_PROSE)} The {s.title} podcast keeps getting better.",
        ]
        text = _fill(w, facts)
        published = (e.published or datetime(2024, 1, 1, tzinfo=UTC)) + timedelta(days=3)
        document = ReviewDocument(text, title=f"Review: {s.title}", published=published)
        out.append(BenchReview("positive", document, s.id))
    for _ in range(negatives):
        facts = [f"{w.person()} said {w.sentences(10, capitals=_PROSE)}" for _ in range(3)]
        document = ReviewDocument(
            _fill(w, facts), title=w.title(4, 9), published=datetime(2024, 6, 1, tzinfo=UTC)
        )
        out.append(BenchReview("negative", document))
    return out


def _fill(w: _Writer, facts: list[str]) -> str:
    """Paragraphs of vocabulary text with ``facts`` spread among them, REVIEW_CHARS long."""
    paragraphs: list[str] = []
    pending = list(facts)
    while sum(len(p) + 2 for p in paragraphs) < REVIEW_CHARS:
        body = w.sentences(w.rng.randint(40, 90), capitals=_PROSE)
        if pending:
            body = f"{pending.pop(0)} {body}"
        paragraphs.append(body)
    text = "\n\n".join(paragraphs)
    return text[: text.rfind(" ", 0, REVIEW_CHARS)]

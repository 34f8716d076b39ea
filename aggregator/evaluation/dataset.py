"""Score a linker on a labelled development set, beside a plain BM25 baseline.

The set's format is defined in ``tests/data/linking/README.md`` (and the optional
fields for traits and a held-out split in ``tests/data/blind/README.md``):
``catalog/*.xml`` (podcast feeds), ``reviews/<file>`` and ``labels.json``. Scoring:
precision, recall and F1 over (review, series) pairs with relation ``reviews`` and
over (review, episode guid) pairs, where a guid in ``episodes_may`` counts neither
way; a negative (no reviewed series) is right when it gets no ``reviews`` link.

``aggregator eval DIR...`` prints the report (``crossval.report``); ``fit`` refits
the weights of ``linking/score.py``.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from aggregator.feeds.parse import parse_feed
from aggregator.linking.baseline import PlainBM25
from aggregator.reviews.extract import extract_document
from aggregator.sanitize import html_to_text
from aggregator.types import (
    CatalogEpisode,
    CatalogSeries,
    LinkProposal,
    Relation,
    ReviewDocument,
)

__all__ = [
    "Dataset",
    "LabelledReview",
    "ReviewErrors",
    "Scores",
    "bm25_baseline",
    "evaluate",
    "format_report",
    "load_dataset",
    "split",
]

Link = Callable[[ReviewDocument], list[LinkProposal]]


@dataclass(frozen=True, slots=True)
class LabelledReview:
    id: str
    review: ReviewDocument
    series: frozenset[str]  # catalog file names the review reviews (empty: a negative)
    must: frozenset[str]  # episode guids it clearly discusses
    may: frozenset[str]  # guids touched in passing: counted neither way
    mentions: frozenset[str]
    # What kind of review it is, for the breakdown by trait (optional in the labels).
    scope: str | None = None  # "series" (the whole show), "episodes" or "none"
    language: str | None = None  # "en", "de", ...
    about: str | None = None  # a negative's nearest show, for splitting by series
    html: bool = False  # it came as a whole web page
    words: int = 0  # words of its text as the linker reads it


@dataclass(frozen=True, slots=True)
class Dataset:
    series: tuple[CatalogSeries, ...]
    files: dict[int, str]  # series id -> catalog file name
    guids: dict[int, str]  # episode id -> guid
    reviews: tuple[LabelledReview, ...]
    # Catalog files whose reviews nobody who changes the linker reads (split.json):
    # they are reported through their figures only.
    holdout: frozenset[str] = frozenset()

    def subset(self, ids: Iterable[str]) -> Dataset:
        wanted = set(ids)
        kept = tuple(r for r in self.reviews if r.id in wanted)
        return Dataset(self.series, self.files, self.guids, kept, self.holdout)

    def group(self, labelled: LabelledReview) -> str:
        """The series a review is split by: the first it reviews, else the one a
        negative is about, else the review itself."""
        return min(labelled.series, default=None) or labelled.about or f"review:{labelled.id}"

    def held_out(self, labelled: LabelledReview) -> bool:
        return bool((labelled.series | {labelled.about or ""}) & self.holdout)

    def parts(self) -> tuple[Dataset, Dataset]:
        """The part one may read and tune on, and the held-out part."""
        tune = [r.id for r in self.reviews if not self.held_out(r)]
        held = [r.id for r in self.reviews if self.held_out(r)]
        return self.subset(tune), self.subset(held)


@dataclass(frozen=True, slots=True)
class ReviewErrors:
    id: str
    missing_series: tuple[str, ...] = ()
    extra_series: tuple[str, ...] = ()
    missing_episodes: tuple[str, ...] = ()
    extra_episodes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not (
            self.missing_series or self.extra_series or self.missing_episodes or self.extra_episodes
        )


@dataclass(frozen=True, slots=True)
class PRF:
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass(frozen=True, slots=True)
class Scores:
    series: PRF
    episodes: PRF
    mentions: PRF  # diagnostics only: mention links against the labels' mentions
    negatives: int
    negatives_abstained: int
    errors: tuple[ReviewErrors, ...] = field(default=())

    @property
    def negatives_share(self) -> float:
        return self.negatives_abstained / self.negatives if self.negatives else 1.0


# --- loading ---------------------------------------------------------------------------


def load_dataset(directory: Path) -> Dataset:
    """Read a development set; series and episode ids are given in load order."""
    series: list[CatalogSeries] = []
    files: dict[int, str] = {}
    guids: dict[int, str] = {}
    next_episode = 1
    for number, path in enumerate(sorted((directory / "catalog").glob("*.xml")), start=1):
        url = path.resolve().as_uri()
        feed = parse_feed(path.read_bytes(), url=url)
        episodes = []
        for parsed in feed.episodes:
            episodes.append(
                CatalogEpisode(
                    id=next_episode,
                    series_id=number,
                    guid=parsed.guid,
                    title=parsed.title,
                    description_text=html_to_text(parsed.description_html),
                    published=parsed.published,
                    season=parsed.season,
                    number=parsed.number,
                    episode_type=parsed.episode_type,
                    link=parsed.link,
                    enclosure_url=parsed.enclosure.url if parsed.enclosure else None,
                    persons=parsed.persons,
                )
            )
            guids[next_episode] = parsed.guid
            next_episode += 1
        s = feed.series
        series.append(
            CatalogSeries(
                id=number,
                title=s.title,
                feed_url=url,
                author=s.author,
                owner_name=s.owner_name,
                description_text=html_to_text(s.description_html),
                link=s.link,
                image=s.image,
                categories=s.categories,
                persons=s.persons,
                episodes=tuple(episodes),
            )
        )
        files[number] = path.name
    labels = json.loads((directory / "labels.json").read_text(encoding="utf-8"))
    reviews = tuple(_labelled(directory, item) for item in labels["reviews"])
    holdout: frozenset[str] = frozenset()
    if (split_file := directory / "split.json").exists():
        split_data = json.loads(split_file.read_text(encoding="utf-8"))
        holdout = frozenset(str(f) for f in split_data["holdout_series"])
    return Dataset(tuple(series), files, guids, reviews, holdout)


def _labelled(directory: Path, item: dict[str, object]) -> LabelledReview:
    path = directory / "reviews" / str(item["file"])
    published = item.get("published")
    when = datetime.strptime(str(published), "%Y-%m-%d").replace(tzinfo=UTC) if published else None
    review = extract_document(
        path.read_bytes(),
        filename=path.name,
        url=_str(item.get("url")),
        title=_str(item.get("title")),
        author=_str(item.get("author")),
        published=when,
    )

    def strings(key: str) -> frozenset[str]:
        value = item.get(key) or []
        assert isinstance(value, list)
        return frozenset(str(v) for v in value)

    return LabelledReview(
        str(item["id"]),
        review,
        strings("series"),
        strings("episodes_must"),
        strings("episodes_may"),
        strings("mentions"),
        scope=_str(item.get("scope")),
        language=_str(item.get("language")),
        about=_str(item.get("about")),
        html=path.suffix.lower() in (".html", ".htm"),
        words=len(review.text.split()),
    )


def _str(value: object) -> str | None:
    return None if value is None else str(value)


def split(dataset: Dataset, seed: int = 3, share: float = 2 / 3) -> tuple[list[str], list[str]]:
    """A random training share of the review ids and the held-out rest (seeded)."""
    ids = sorted(r.id for r in dataset.reviews)
    random.Random(seed).shuffle(ids)
    cut = round(len(ids) * share)
    return sorted(ids[:cut]), sorted(ids[cut:])


# --- scoring ---------------------------------------------------------------------------


def evaluate(dataset: Dataset, link: Link) -> Scores:
    series = [0, 0, 0]
    episodes = [0, 0, 0]
    mentions = [0, 0, 0]
    negatives = abstained = 0
    errors: list[ReviewErrors] = []
    for labelled in dataset.reviews:
        proposals = link(labelled.review)
        reviewed = {
            dataset.files[p.series_id]
            for p in proposals
            if p.relation is Relation.REVIEWS and p.episode_id is None
        }
        mentioned = {
            dataset.files[p.series_id]
            for p in proposals
            if p.relation is Relation.MENTIONS and p.episode_id is None
        }
        linked = {
            dataset.guids[p.episode_id]
            for p in proposals
            if p.relation is Relation.REVIEWS and p.episode_id is not None
        }
        counted = linked - labelled.may
        _tally(series, reviewed, labelled.series)
        _tally(episodes, counted, labelled.must)
        _tally(mentions, mentioned, labelled.mentions)
        if not labelled.series:
            negatives += 1
            abstained += not reviewed
        errors.append(
            ReviewErrors(
                labelled.id,
                tuple(sorted(labelled.series - reviewed)),
                tuple(sorted(reviewed - labelled.series)),
                tuple(sorted(labelled.must - linked)),
                tuple(sorted(counted - labelled.must)),
            )
        )
    return Scores(PRF(*series), PRF(*episodes), PRF(*mentions), negatives, abstained, tuple(errors))


def _tally(counts: list[int], predicted: set[str], gold: frozenset[str]) -> None:
    counts[0] += len(predicted & gold)
    counts[1] += len(predicted - gold)
    counts[2] += len(gold - predicted)


# --- the plain BM25 baseline -----------------------------------------------------------


def bm25_baseline(dataset: Dataset, threshold: float | None = None) -> Link:
    """Plain BM25 (``linking.baseline``): the review against one document per series; the
    series is the top hit scoring at least ``threshold``, the episode the top hit within it.

    Without ``threshold`` the one that gives the baseline its best series F1 on
    ``dataset`` is used, which flatters the baseline.
    """
    baseline = PlainBM25(dataset.series)
    if threshold is None:
        hits = [(r, baseline.top(r.review)) for r in dataset.reviews]
        best, best_f1 = 0.0, -1.0
        for cut in [0.0, *sorted({h[1] for _, h in hits if h is not None})]:
            counts = [0, 0, 0]
            for labelled, hit in hits:
                chosen = hit is not None and hit[1] >= cut
                _tally(
                    counts, {dataset.files[hit[0]]} if chosen and hit else set(), labelled.series
                )
            f1 = PRF(*counts).f1
            if f1 > best_f1:
                best, best_f1 = cut, f1
        threshold = best
    baseline.threshold = threshold
    return baseline.link


# --- report ----------------------------------------------------------------------------


def format_report(ours: Scores, baseline: Scores, title: str = "") -> str:
    """Our figures and the baseline's, side by side."""
    rows = [
        ("series precision", ours.series.precision, baseline.series.precision),
        ("series recall", ours.series.recall, baseline.series.recall),
        ("series F1", ours.series.f1, baseline.series.f1),
        ("episode precision", ours.episodes.precision, baseline.episodes.precision),
        ("episode recall", ours.episodes.recall, baseline.episodes.recall),
        ("episode F1", ours.episodes.f1, baseline.episodes.f1),
        ("negatives abstained", ours.negatives_share, baseline.negatives_share),
    ]
    lines = [title] if title else []
    lines.append(f"{'':22}{'linker':>10}{'BM25':>10}")
    for name, a, b in rows:
        lines.append(f"{name:22}{a:10.3f}{b:10.3f}")
    lines.append(
        f"{'negatives':22}{ours.negatives_abstained:>7}/{ours.negatives:<2}"
        f"{baseline.negatives_abstained:>7}/{baseline.negatives:<2}"
    )
    lines.append(
        f"{'mentions P/R (diag.)':22}{ours.mentions.precision:5.2f}/{ours.mentions.recall:4.2f}"
    )
    return "\n".join(lines)


def format_errors(scores: Scores) -> str:
    lines = []
    for e in scores.errors:
        if e.ok:
            continue
        parts = [
            f"{label} {', '.join(values)}"
            for label, values in (
                ("missing series:", e.missing_series),
                ("extra series:", e.extra_series),
                ("missing episodes:", e.missing_episodes),
                ("extra episodes:", e.extra_episodes),
            )
            if values
        ]
        lines.append(f"{e.id}: " + "; ".join(parts))
    return "\n".join(lines)

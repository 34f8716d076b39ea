"""How well the linker generalizes: leave-series-out cross-validation, and the figures of
a labelled set broken down by the traits that make reviews hard.

Folds are made of series, not of reviews: every review of a show (and every negative
about it) falls in the same fold, so the weights that judge a fold never saw a review
of its shows, as on reviews of a show nobody labelled.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from aggregator.evaluation.dataset import (
    Dataset,
    LabelledReview,
    Link,
    Scores,
    bm25_baseline,
    evaluate,
    format_errors,
    format_report,
)
from aggregator.evaluation.fit import Observation, fit
from aggregator.linking import Catalog, Linker
from aggregator.linking.score import Weights
from aggregator.types import LinkProposal, ReviewDocument

__all__ = [
    "TRAITS",
    "Trait",
    "baseline_for",
    "cross_validate",
    "fit_sets",
    "folds",
    "format_breakdown",
    "memo",
    "observe",
    "report",
]

# A review is "late" when it came this long after the reviewed show's last episode.
_LATE = timedelta(days=90)
# Shorter than this many words: the reviews with little besides the name.
_SHORT = 300


@dataclass(frozen=True, slots=True)
class Trait:
    name: str
    has: Callable[[Dataset, LabelledReview], bool]


def _late(dataset: Dataset, labelled: LabelledReview) -> bool:
    published = labelled.review.published
    if published is None:
        return False
    shows = labelled.series or ({labelled.about} if labelled.about else set())
    for series in dataset.series:
        if dataset.files[series.id] not in shows:
            continue
        out = [e.published for e in series.episodes if e.published and e.published <= published]
        if out and published - max(out) > _LATE:
            return True
    return False


TRAITS: tuple[Trait, ...] = (
    Trait("whole series", lambda d, r: r.scope == "series"),
    Trait("episodes", lambda d, r: r.scope == "episodes"),
    Trait(f"short (<{_SHORT} words)", lambda d, r: r.words < _SHORT),
    Trait(f"long (>={_SHORT} words)", lambda d, r: r.words >= _SHORT),
    Trait("late (>90 days)", _late),
    Trait("names another show", lambda d, r: bool(r.mentions)),
    Trait("not English", lambda d, r: bool(r.language) and not str(r.language).startswith("en")),
    Trait("HTML page", lambda d, r: r.html),
    Trait("negative", lambda d, r: not r.series),
)


def memo(link: Link) -> Link:
    """``link`` answering each review once, however many breakdown rows ask."""
    cache: dict[int, tuple[ReviewDocument, list[LinkProposal]]] = {}

    def cached(review: ReviewDocument) -> list[LinkProposal]:
        hit = cache.get(id(review))
        if hit is None or hit[0] is not review:
            hit = cache[id(review)] = (review, link(review))
        return hit[1]

    return cached


def format_breakdown(dataset: Dataset, ours: Link, baseline: Link) -> str:
    """One row per trait: how many reviews have it, the linker's figures on them, and the
    BM25 baseline's series F1."""
    lines = [
        f"{'trait':24}{'n':>4}{'ser P':>7}{'ser R':>7}{'ser F1':>7}{'ep F1':>7}"
        f"{'neg':>7}{'BM25 F1':>9}"
    ]
    for trait in TRAITS:
        part = dataset.subset(r.id for r in dataset.reviews if trait.has(dataset, r))
        if not part.reviews:
            continue
        s: Scores = evaluate(part, ours)
        b: Scores = evaluate(part, baseline)
        negatives = f"{s.negatives_abstained}/{s.negatives}" if s.negatives else "-"
        positive = any(r.series for r in part.reviews)
        cells = (
            f"{s.series.precision:7.2f}{s.series.recall:7.2f}{s.series.f1:7.2f}{s.episodes.f1:7.2f}"
            if positive
            else f"{'-':>7}" * 4
        )
        base = f"{b.series.f1:9.2f}" if positive else f"{'-':>9}"
        lines.append(f"{trait.name:24}{len(part.reviews):4}{cells}{negatives:>7}{base}")
    return "\n".join(lines)


def observe(dataset: Dataset, linker: Linker) -> list[Observation]:
    """Every review of ``dataset`` with the candidates ``linker`` scores for it."""
    return [
        Observation(r, linker.score(r.review), dataset.files, dataset.guids)
        for r in dataset.reviews
    ]


def folds(dataset: Dataset, k: int = 5, seed: int = 0) -> list[list[str]]:
    """The review ids in ``k`` folds of whole series, balanced by review count: the
    series are shuffled (seeded), then each goes to the fold with the fewest reviews."""
    groups: dict[str, list[str]] = {}
    for labelled in dataset.reviews:
        groups.setdefault(dataset.group(labelled), []).append(labelled.id)
    names = sorted(groups)
    random.Random(seed).shuffle(names)
    names.sort(key=lambda name: -len(groups[name]))  # stable: ties stay shuffled
    result: list[list[str]] = [[] for _ in range(k)]
    for name in names:
        min(result, key=len).extend(groups[name])
    return [sorted(fold) for fold in result if fold]


def cross_validate(
    dataset: Dataset, extra: Sequence[Observation] = (), k: int = 5, seed: int = 0
) -> tuple[Link, list[Weights]]:
    """A linker for each fold, fitted on the other folds (and on ``extra``, reviews of
    other sets), and a ``Link`` that answers each review with its own fold's linker."""
    catalog = Catalog.build(dataset.series)
    observations = dict(
        zip((r.id for r in dataset.reviews), observe(dataset, Linker(catalog)), strict=True)
    )
    by_review: dict[int, Linker] = {}
    fitted: list[Weights] = []
    for fold in folds(dataset, k, seed):
        inside = set(fold)
        training = [o for rid, o in observations.items() if rid not in inside]
        weights = fit([*training, *extra])
        fitted.append(weights)
        linker = Linker(catalog, weights)
        for labelled in dataset.reviews:
            if labelled.id in inside:
                by_review[id(labelled.review)] = linker

    def link(review: ReviewDocument) -> list[LinkProposal]:
        return by_review[id(review)].link(review)

    return memo(link), fitted


def baseline_for(tune: Dataset) -> Link:
    """The BM25 baseline with the threshold that suits the part one may tune on."""
    return memo(bm25_baseline(tune))


def report(named: Sequence[tuple[str, Dataset]], *, errors: bool = False, cv: bool = False) -> str:
    """The figures of each labelled set beside the BM25 baseline, broken down by trait:
    the part one may tune on, then the held-out part (figures only: its errors are never
    listed). With ``cv``, leave-series-out figures of each tune part, fitted on its other
    folds and on the other sets' tune parts."""
    out: list[str] = []
    tunes = [(name, data.parts()[0]) for name, data in named]
    for name, data in named:
        tune, held = data.parts()
        ours = memo(Linker(Catalog.build(data.series)).link)
        baseline = baseline_for(tune)
        parts = [("tune part" if held.reviews else "all reviews", tune)]
        if held.reviews:
            parts.append(("held-out part, figures only", held))
        for label, part in parts:
            if not part.reviews:
                continue
            shows = len({part.group(r) for r in part.reviews if r.series})
            title = f"== {name}: {label} ({len(part.reviews)} reviews, {shows} series)"
            out.append(format_report(evaluate(part, ours), evaluate(part, baseline), title))
            out.append(format_breakdown(part, ours, baseline))
            if errors and part is tune:
                out.append(format_errors(evaluate(part, ours)))
            out.append("")
    if cv:
        for name, tune in tunes:
            others = [
                o
                for other_name, other in tunes
                if other_name != name
                for o in observe(other, Linker(Catalog.build(other.series)))
            ]
            link, _ = cross_validate(tune, others)
            baseline = baseline_for(tune)
            title = f"== {name}: leave-series-out cross-validation of the tune part (5 folds)"
            out.append(format_report(evaluate(tune, link), evaluate(tune, baseline), title))
            out.append(format_breakdown(tune, link, baseline))
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def fit_sets(named: Sequence[tuple[str, Dataset]]) -> Weights:
    """Weights fitted on the tune parts of all the sets together."""
    observations: list[Observation] = []
    for _, data in named:
        tune = data.parts()[0]
        observations += observe(tune, Linker(Catalog.build(tune.series)))
    return fit(observations)

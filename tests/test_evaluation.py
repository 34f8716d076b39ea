"""Scoring on a labelled set (aggregator.evaluation), and the linker's targets on the
committed development set (tests/data/linking, issue 3)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from aggregator.evaluation.dataset import (
    PRF,
    Dataset,
    Scores,
    bm25_baseline,
    evaluate,
    format_report,
    load_dataset,
    split,
)
from aggregator.linking import Catalog, Linker
from aggregator.types import LinkProposal, Relation, ReviewDocument

DEV = Path(__file__).resolve().parent / "data" / "linking"
CHAPTER_TEN = "d880f329-7101-567d-a25d-60dde948cb1c"  # caliphate.xml, 2018-06-21


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return load_dataset(DEV)


@pytest.fixture(scope="module")
def linker(dataset: Dataset) -> Linker:
    return Linker(Catalog.build(dataset.series))


@pytest.fixture(scope="module")
def ours(dataset: Dataset, linker: Linker) -> dict[str, list[LinkProposal]]:
    return {r.id: linker.link(r.review) for r in dataset.reviews}


def test_load_dataset_reads_feeds_reviews_and_labels_in_order(dataset: Dataset) -> None:
    files = sorted(p.name for p in (DEV / "catalog").glob("*.xml"))
    assert [dataset.files[s.id] for s in dataset.series] == files
    assert [s.id for s in dataset.series] == list(range(1, len(files) + 1))
    episode_ids = [e.id for s in dataset.series for e in s.episodes]
    assert episode_ids == list(range(1, len(episode_ids) + 1))
    assert len(dataset.reviews) == 88
    assert sum(1 for r in dataset.reviews if not r.series) == 21
    seed = next(r for r in dataset.reviews if r.id == "seed")
    assert seed.review.published is not None and seed.review.published.isoformat() == (
        "2018-07-01T00:00:00+00:00"
    )
    assert "Leave a Reply" not in seed.review.text  # boilerplate is not review text
    assert seed.series == {"caliphate.xml"} and seed.must == {CHAPTER_TEN}


def oracle(dataset: Dataset) -> dict[int, tuple[list[int], list[int]]]:
    by_file = {f: sid for sid, f in dataset.files.items()}
    by_guid = {g: eid for eid, g in dataset.guids.items()}
    return {
        id(r.review): (
            [by_file[f] for f in sorted(r.series)],
            [by_guid[g] for g in sorted(r.must)],
        )
        for r in dataset.reviews
    }


def test_evaluate_scores_a_perfect_and_an_empty_linker(dataset: Dataset) -> None:
    answers = oracle(dataset)

    def perfect(review: ReviewDocument) -> list[LinkProposal]:
        series, episodes = answers[id(review)]
        found = [LinkProposal(s, None, Relation.REVIEWS, 1.0, ()) for s in series]
        sid = series[0] if series else 1
        return found + [LinkProposal(sid, e, Relation.REVIEWS, 1.0, ()) for e in episodes]

    best = evaluate(dataset, perfect)
    assert (best.series.f1, best.episodes.f1, best.negatives_share) == (1.0, 1.0, 1.0)
    assert all(e.ok for e in best.errors)

    nothing = evaluate(dataset, lambda review: [])
    assert nothing.series == PRF(0, 0, 69) and nothing.series.f1 == 0.0
    assert nothing.negatives_abstained == nothing.negatives == 21
    assert sum(1 for e in nothing.errors if e.missing_series) == 67  # reviews with a series


def test_episodes_may_count_neither_way(dataset: Dataset) -> None:
    seed = next(r for r in dataset.reviews if r.id == "seed")
    may = sorted(seed.may)[0]
    episode = next(eid for eid, g in dataset.guids.items() if g == may)
    one = dataset.subset(["seed"])
    scores = evaluate(one, lambda review: [LinkProposal(1, episode, Relation.REVIEWS, 1.0, ())])
    assert scores.episodes == PRF(0, 0, 1)  # the must is missed, the may is not a mistake


def test_baseline_and_report(dataset: Dataset) -> None:
    never = evaluate(dataset, bm25_baseline(dataset, threshold=math.inf))
    assert never.series.tp == 0 and never.negatives_share == 1.0
    report = format_report(never, never, "== x")
    assert report.splitlines()[0] == "== x"
    assert "series F1" in report and "negatives abstained" in report


def _scores(dataset: Dataset, ours: dict[str, list[LinkProposal]], ids: list[str]) -> Scores:
    part = dataset.subset(ids)
    answers = {id(r.review): ours[r.id] for r in part.reviews}
    return evaluate(part, lambda review: answers[id(review)])


def test_linker_meets_the_targets_on_the_development_set(
    dataset: Dataset, ours: dict[str, list[LinkProposal]]
) -> None:
    ids = [r.id for r in dataset.reviews]
    scores = _scores(dataset, ours, ids)
    # The weights are fitted on this set and on the tune part of the blind set of real
    # reviews together (docs/linker.md): the dev set alone gave 0.993 / 0.971 / 21 of 21
    # with weights that missed two in five real reviews of whole series. These floors
    # are today's figures (0.956 / 0.940 / 19 of 21), so a change that loses ground here
    # fails.
    assert scores.series.f1 >= 0.95
    assert scores.episodes.f1 >= 0.94
    assert scores.negatives == 21 and scores.negatives_abstained >= 19
    train, _ = split(dataset)
    baseline = evaluate(dataset, bm25_baseline(dataset.subset(train)))
    assert scores.series.f1 - baseline.series.f1 >= 0.25
    assert scores.episodes.f1 - baseline.episodes.f1 >= 0.25


def test_every_evidence_span_is_exact(
    dataset: Dataset, ours: dict[str, list[LinkProposal]]
) -> None:
    for labelled in dataset.reviews:
        text = labelled.review.text
        for proposal in ours[labelled.id]:
            assert 0.0 <= proposal.score <= 1.0
            assert proposal.evidence
            for e in proposal.evidence:
                assert e.start < 0 or text[e.start : e.end] == e.text


def test_the_founding_review(dataset: Dataset, ours: dict[str, list[LinkProposal]]) -> None:
    proposals = ours["seed"]
    caliphate = next(sid for sid, f in dataset.files.items() if f == "caliphate.xml")
    assert {(p.series_id, p.relation) for p in proposals} == {(caliphate, Relation.REVIEWS)}
    series = next(p for p in proposals if p.episode_id is None)
    linked = [dataset.guids[p.episode_id] for p in proposals if p.episode_id is not None]
    assert linked == [CHAPTER_TEN]  # the last chapter published before 2018-07-01
    found = {e.text for e in series.evidence}
    assert {"Challimachi", "Callamachi"} <= found
    assert any("Calimacchi" in t for t in found)
    assert "Caliphate" in found
    episode = next(p for p in proposals if p.episode_id is not None)
    assert [(e.kind, e.text) for e in episode.evidence] == [("relative", "last episode")]


# Dev-set negatives still linked with the weights fitted on the dev set and the blind
# set's tune part together (docs/linker.md, "Where it stands"): a history podcast outside
# the catalog compared with one inside it, and a German review of another show of the
# same hosts (at the threshold: some fits leave it out).
# Listed so that a change that links one more fails, and one that fixes one is noticed.
_NEGATIVES_STILL_LINKED = {"a-neg-lincoln-pod", "a-neg-logbuch-de"}


def test_news_and_other_shows_link_to_nothing(
    dataset: Dataset, ours: dict[str, list[LinkProposal]]
) -> None:
    linked = {
        labelled.id
        for labelled in dataset.reviews
        if not labelled.series and any(p.relation is Relation.REVIEWS for p in ours[labelled.id])
    }
    assert linked == _NEGATIVES_STILL_LINKED

"""The blind labelled set (tests/data/blind), its held-out part, leave-series-out folds,
the breakdown by trait, and the linker's figures on the part nobody tuned on."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from aggregator.evaluation.crossval import TRAITS, folds, memo, report
from aggregator.evaluation.dataset import Dataset, bm25_baseline, evaluate, load_dataset
from aggregator.linking import Catalog, Linker
from aggregator.types import ReviewDocument

DATA = Path(__file__).resolve().parent / "data"
BLIND = DATA / "blind"


@pytest.fixture(scope="module")
def blind() -> Dataset:
    return load_dataset(BLIND)


def test_the_blind_set_has_the_promised_shape(blind: Dataset) -> None:
    assert len(blind.reviews) >= 150
    assert sum(1 for r in blind.reviews if not r.series) >= 25
    assert len({s for r in blind.reviews for s in r.series}) >= 30
    assert len(blind.series) >= 30
    tune, held = blind.parts()
    assert len(tune.reviews) + len(held.reviews) == len(blind.reviews)
    # Split by series: no review of a held-out show is in the tune part (a review of
    # several shows is held out when any of them is).
    tune_shows = {s for r in tune.reviews for s in r.series}
    assert not tune_shows & blind.holdout
    assert all(blind.held_out(r) for r in held.reviews)
    assert len(blind.holdout) * 3 >= len(blind.series)
    assert all(r.scope in ("series", "episodes", "none") for r in blind.reviews)


def test_folds_keep_each_series_whole(blind: Dataset) -> None:
    tune, _ = blind.parts()
    made = folds(tune, k=5, seed=1)
    ids = [i for fold in made for i in fold]
    assert sorted(ids) == sorted(r.id for r in tune.reviews)  # each review once
    by_id = {r.id: r for r in tune.reviews}
    owner: dict[str, int] = {}
    for n, fold in enumerate(made):
        for rid in fold:
            assert owner.setdefault(tune.group(by_id[rid]), n) == n
    sizes = sorted(len(f) for f in made)
    largest_group = max(
        sum(1 for r in tune.reviews if tune.group(r) == g)
        for g in {tune.group(r) for r in tune.reviews}
    )
    assert sizes[-1] - sizes[0] <= largest_group  # balanced as far as whole series allow


def test_traits_are_read_from_labels_and_text(blind: Dataset) -> None:
    names = {t.name: t for t in TRAITS}
    html = [r for r in blind.reviews if names["HTML page"].has(blind, r)]
    assert len(html) == len(list((BLIND / "reviews").glob("*.html"))) == 261
    assert all(r.review.html for r in html)  # read as pages: links and emphasis kept
    for labelled in blind.reviews:
        assert names["negative"].has(blind, labelled) == (not labelled.series)
    assert any(names["late (>90 days)"].has(blind, r) for r in blind.reviews)
    assert any(names["not English"].has(blind, r) for r in blind.reviews)


def test_held_out_errors_are_never_listed(tmp_path: Path) -> None:
    # A small set: two shows, one of them held out; a linker that gets everything wrong.
    root = tmp_path / "set"
    (root / "catalog").mkdir(parents=True)
    (root / "reviews").mkdir()
    for name in ("caliphate.xml", "serial.xml"):
        shutil.copy(DATA / "linking" / "catalog" / name, root / "catalog" / name)
    text = "A podcast I listened to all week, and {} is the best thing I heard this year."
    labels = []
    for rid, show, name in (
        ("tuned-one", "caliphate.xml", "Caliphate"),
        ("secret-one", "serial.xml", "Serial"),
    ):
        (root / "reviews" / f"{rid}.txt").write_text(text.format(name))
        labels.append(
            {"id": rid, "file": f"{rid}.txt", "url": None, "title": name, "published": "2019-01-01",
             "series": [show], "episodes_must": [], "episodes_may": [], "mentions": [],
             "scope": "series", "language": "en"}
        )  # fmt: skip
    (root / "labels.json").write_text(json.dumps({"reviews": labels}))
    (root / "split.json").write_text(json.dumps({"holdout_series": ["serial.xml"]}))
    data = load_dataset(root)
    assert [r.id for r in data.parts()[1].reviews] == ["secret-one"]
    out = report([("set", data)], errors=True)
    assert "held-out part, figures only (1 reviews" in out
    assert "tune part (1 reviews" in out
    assert "secret-one" not in out


def test_memo_answers_each_review_once() -> None:
    calls: list[str] = []

    def link(review: ReviewDocument) -> list[object]:
        calls.append(review.text)
        return []

    cached = memo(link)  # type: ignore[arg-type]
    review = ReviewDocument(text="x")
    cached(review)
    cached(review)
    assert calls == ["x"]


def test_the_linker_on_the_blind_held_out_part(blind: Dataset) -> None:
    """Figures only: the floors are today's (docs/linker.md), so losing ground fails.
    The figures are taken out before they are compared, so that a failure shows
    numbers and never a held-out review's errors."""
    tune, held = blind.parts()
    ours = evaluate(held, Linker(Catalog.build(blind.series)).link)
    baseline = evaluate(held, bm25_baseline(tune))
    figures = (
        round(ours.series.f1, 3),
        round(ours.series.recall, 3),
        round(ours.episodes.f1, 3),
        ours.negatives_abstained,
        round(baseline.series.f1, 3),
    )
    series_f1, series_recall, episode_f1, negatives, baseline_f1 = figures
    # 440 reviews, 103 negatives, 30 series: 0.798 / 0.779 / 0.632 / 54 with linker 28
    # (the 430 of the session before, without Syntax's ten: 0.807 / 0.780 / 0.625 / 53
    # with linkers 26 to 28).
    assert series_f1 >= 0.79, figures
    assert series_recall >= 0.77, figures
    assert episode_f1 >= 0.625, figures
    assert negatives >= 54, figures
    assert series_f1 - baseline_f1 >= 0.3, figures


@pytest.mark.parametrize(
    ("labels", "split"),
    [
        (None, None),  # no labels.json at all
        ('{"reviews": [{"id": "x"}]}', None),  # a review without its file
        ('{"reviews": []}', '{"holdout": []}'),  # split.json without holdout_series
        ('{"reviews": []}', '{"holdout_series": 5}'),  # not a list
        ('{"reviews": []}', "{not json"),
    ],
)
def test_eval_of_a_broken_set_is_one_line(
    tmp_path: Path,
    labels: str | None,
    split: str | None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from aggregator.cli import main

    root = tmp_path / "broken"
    (root / "catalog").mkdir(parents=True)
    (root / "reviews").mkdir()
    if labels is not None:
        (root / "labels.json").write_text(labels)
    if split is not None:
        (root / "split.json").write_text(split)
    monkeypatch.setattr("sys.argv", ["aggregator", "eval", str(root)])
    with pytest.raises(SystemExit) as exit_info:
        main()
    out, err = capsys.readouterr()
    assert exit_info.value.code == 1
    assert "Traceback" not in err and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and f"{root}: not a labelled set" in lines[0]

"""The linker's features are declared once: what the producers fill, what score.py
weighs and what fit.py constrains are the same fields, in the same order."""

from __future__ import annotations

import math
from dataclasses import fields
from pathlib import Path
from typing import get_args

import pytest

from aggregator.evaluation.dataset import load_dataset
from aggregator.evaluation.fit import (
    EPISODE_PRIOR,
    EPISODE_SIGNS,
    SERIES_PRIOR,
    SERIES_SIGNS,
    fit_logistic,
)
from aggregator.linking import Catalog, Linker
from aggregator.linking.features import (
    EpisodeFeature,
    EpisodeFeatures,
    SeriesFeatures,
    feature_names,
)
from aggregator.linking.score import WEIGHTS, episode_score, series_score

DEV = Path(__file__).resolve().parent / "data" / "linking"


def test_scorer_and_fitter_use_the_feature_classes() -> None:
    assert type(WEIGHTS.series) is SeriesFeatures and type(SERIES_SIGNS) is SeriesFeatures
    assert type(SERIES_PRIOR) is SeriesFeatures
    assert type(WEIGHTS.episode) is EpisodeFeatures and type(EPISODE_SIGNS) is EpisodeFeatures
    assert type(EPISODE_PRIOR) is EpisodeFeatures
    # Every feature has a sign the fit holds it to, and no weight breaks that sign.
    for weights, signs in ((WEIGHTS.series, SERIES_SIGNS), (WEIGHTS.episode, EPISODE_SIGNS)):
        for f in fields(signs):
            sign = getattr(signs, f.name)
            assert sign in (1, -1), f.name
            assert getattr(weights, f.name) * sign >= 0, f.name
    # The names producers may raise are exactly the episode fields.
    assert set(get_args(EpisodeFeature)) == set(feature_names(EpisodeFeatures))


def test_slots_refuse_a_feature_nobody_declared() -> None:
    with pytest.raises(AttributeError):
        SeriesFeatures().popularity = 1.0  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        EpisodeFeatures().raise_to("popularity", 1.0)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def scored() -> list[object]:
    data = load_dataset(DEV)
    linker = Linker(Catalog.build(data.series))
    return [s for r in data.reviews[:12] for s in linker.score(r.review)]


def test_the_score_is_the_logistic_of_the_declared_features(scored: list[object]) -> None:
    from aggregator.linking.linker import Scored

    assert scored
    for item in scored:
        assert isinstance(item, Scored)
        features = item.signals.features
        z = WEIGHTS.series_bias + sum(
            getattr(WEIGHTS.series, name) * getattr(features, name)
            for name in feature_names(SeriesFeatures)
        )
        assert item.score == pytest.approx(1 / (1 + math.exp(-max(-60, min(60, z)))))
        assert item.score == pytest.approx(series_score(features))
        for episode, score in item.episodes:
            assert score == pytest.approx(episode_score(episode.features))


def test_fit_holds_signs_and_learns_a_separable_signal() -> None:
    # Feature 0 decides the label; feature 1 is noise that the sign forbids to count
    # against (sign +1), feature 2 may only count against.
    rows = [((1.0, 0.0, 1.0), 1), ((1.0, 1.0, 0.0), 1), ((0.0, 1.0, 1.0), 0), ((0.0, 0.0, 0.0), 0)]
    weights, bias = fit_logistic(rows, (1, 1, -1), (0.0, 0.0, 0.0), l2=1.0, steps=400)
    assert weights[0] > 0.5  # shrunk by the L2 term on four rows, but clearly there
    assert weights[1] >= 0.0 and weights[2] <= 0.0
    assert bias + weights[0] > 0 > bias

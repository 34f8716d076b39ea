"""The one scoring function of the linker: named weights, a logistic link, thresholds.

A series is linked as *reviewed* when its score reaches the series threshold; an
episode of a reviewed series when its score reaches the episode threshold. A series
named as a show but not reviewed is a *mention*. The weights are values of the feature
classes themselves (``features.py``), so every feature produced is weighed and every
weight has a feature; docs/linker.md says what each feature measures and how the
values were fitted (``aggregator.evaluation.fit``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from aggregator.linking.features import EpisodeFeatures, SeriesFeatures

__all__ = [
    "MENTION_NAMENESS",
    "WEIGHTS",
    "Weights",
    "episode_score",
    "logistic",
    "series_score",
]


@dataclass(frozen=True, slots=True)
class Weights:
    """Two logistic functions and their cuts: the whole of what fitting changes."""

    series: SeriesFeatures
    series_bias: float
    series_threshold: float
    episode: EpisodeFeatures
    episode_bias: float
    episode_threshold: float


# The values below are written by ``aggregator eval DIR... --fit`` (see docs/linker.md).
# FITTED-WEIGHTS-START
WEIGHTS = Weights(
    series=SeriesFeatures(
        link=6.42,
        name=2.23,
        name_count=0.24,
        headline=0.88,
        share=3.03,
        people=0.00,
        first_names=0.88,
        guests=0.32,
        content=0.92,
        episode=2.47,
        count=0.58,
        month=0.00,
        medium=0.47,
        screen=-3.66,
        opinion=1.39,
        report=-1.02,
        compare=-1.23,
        crowd=-0.99,
        before_start=-3.20,
    ),
    series_bias=-6.37,
    series_threshold=0.34,
    episode=EpisodeFeatures(
        link=5.10,
        title=4.99,
        number=4.92,
        relative=2.72,
        guest=1.10,
        date=0.13,
        content=1.98,
        content_share=0.00,
        content_margin=0.76,
        bonus=-0.75,
        recent=2.34,
    ),
    episode_bias=-6.36,
    episode_threshold=0.33,
)
# FITTED-WEIGHTS-END

# A series not reviewed is still reported as *mentioned* when its name is used as a
# show's name at least this surely (nameness, see candidates._nameness) or linked:
# 0.6 is a two-word name written as a name, or a one-word name with a podcast word
# or quotes around it. Not fitted: mentions are reported, not scored.
MENTION_NAMENESS = 0.6


def logistic(bias: float, weights: tuple[float, ...], values: tuple[float, ...]) -> float:
    z = bias + sum(w * x for w, x in zip(weights, values, strict=True))
    z = max(-60.0, min(60.0, z))
    return 1.0 / (1.0 + math.exp(-z))


def series_score(features: SeriesFeatures, weights: Weights = WEIGHTS) -> float:
    """Probability-like score in [0, 1] that the review reviews the series."""
    return logistic(weights.series_bias, weights.series.vector(), features.vector())


def episode_score(features: EpisodeFeatures, weights: Weights = WEIGHTS) -> float:
    """Probability-like score in [0, 1] that the review discusses the episode."""
    return logistic(weights.episode_bias, weights.episode.vector(), features.vector())

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
        link=6.43,
        name=2.45,
        name_count=0.20,
        headline=0.81,
        share=2.91,
        people=0.00,
        first_names=0.88,
        guests=0.30,
        content=1.04,
        episode=2.49,
        count=0.56,
        month=0.00,
        medium=0.33,
        screen=-3.06,
        opinion=1.41,
        report=-0.96,
        compare=-1.09,
        crowd=-0.98,
        before_start=-3.17,
    ),
    series_bias=-6.43,
    series_threshold=0.34,
    episode=EpisodeFeatures(
        link=5.10,
        title=5.35,
        number=5.10,
        relative=2.92,
        guest=1.08,
        date=0.00,
        content=1.89,
        content_share=0.00,
        content_margin=1.07,
        bonus=-0.61,
        recent=2.33,
    ),
    episode_bias=-6.53,
    episode_threshold=0.37,
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

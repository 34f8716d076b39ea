"""The one scoring function of the linker: named weights, a logistic link, thresholds.

A series is linked as *reviewed* when ``series_score`` >= ``SERIES_THRESHOLD``; an
episode of a reviewed series when ``episode_score`` >= ``EPISODE_THRESHOLD``. A series
named as a show but not reviewed is a *mention*. Each weight multiplies one feature
computed in ``candidates.py`` / ``episodes.py``; the docs (docs/linker.md) list what
each feature measures.

Where the values come from: fitted by ``python -m aggregator.evaluation --fit`` (L2
logistic regression with the signs below held, see ``fit.py``) on the training
two-thirds of the development set in tests/data/linking; thresholds chosen on the
same split. The held-out third is reported beside them in docs/linker.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

__all__ = [
    "EPISODE_BIAS",
    "EPISODE_THRESHOLD",
    "EPISODE_WEIGHTS",
    "MENTION_NAMENESS",
    "SERIES_BIAS",
    "SERIES_THRESHOLD",
    "SERIES_WEIGHTS",
    "episode_score",
    "series_score",
]

SERIES_WEIGHTS: dict[str, float] = {
    "link": 4.00,
    "name": 2.39,
    "name_count": 0.14,
    "people": 1.37,
    "named": 0.00,
    "person_hits": 0.21,
    "guests": 0.67,
    "content": 0.25,
    "content_top": 0.63,
    "active": 0.98,
    "before_start": -0.32,
    "count": 0.08,
    "month": 0.32,
    "episode": 4.84,
    "audio": 0.21,
    "coverage": 0.20,
    "crowd": -0.80,
    "compare": -0.29,
    "anchored": 0.96,
    "first_names": 1.11,
}
SERIES_BIAS = -7.48
SERIES_THRESHOLD = 0.46

EPISODE_WEIGHTS: dict[str, float] = {
    "link": 5.00,
    "title": 5.00,
    "number": 4.31,
    "relative": 4.45,
    "guest": 2.02,
    "date": 0.00,
    "content": 2.43,
    "content_share": 0.76,
    "content_margin": 1.07,
    "bonus": 0.00,
    "recent": 0.95,
}
EPISODE_BIAS = -6.85
EPISODE_THRESHOLD = 0.42

# A series not reviewed is still reported as *mentioned* when its name is used as a
# show's name at least this surely (nameness, see candidates._nameness) or linked.
MENTION_NAMENESS = 0.6


def _logistic(bias: float, weights: Mapping[str, float], features: Mapping[str, float]) -> float:
    z = bias + sum(w * features.get(name, 0.0) for name, w in weights.items())
    z = max(-60.0, min(60.0, z))
    return 1.0 / (1.0 + math.exp(-z))


def series_score(features: Mapping[str, float]) -> float:
    """Probability-like score in [0, 1] that the review reviews the series."""
    return _logistic(SERIES_BIAS, SERIES_WEIGHTS, features)


def episode_score(features: Mapping[str, float]) -> float:
    """Probability-like score in [0, 1] that the review discusses the episode."""
    return _logistic(EPISODE_BIAS, EPISODE_WEIGHTS, features)

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
    "link": 4.01,
    "name": 2.14,
    "name_count": 0.38,
    "people": 0.68,
    "named": 0.00,
    "person_hits": 0.53,
    "guests": 0.45,
    "content": 0.29,
    "content_top": 0.72,
    "active": 0.88,
    "before_start": -0.21,
    "count": 0.09,
    "month": 0.21,
    "episode": 4.81,
    "audio": 0.14,
    "coverage": 0.31,
    "crowd": -0.85,
    "compare": -0.28,
    "anchored": 0.51,
    "first_names": 0.57,
}
SERIES_BIAS = -6.94
SERIES_THRESHOLD = 0.44

EPISODE_WEIGHTS: dict[str, float] = {
    "link": 5.00,
    "title": 5.12,
    "number": 4.28,
    "relative": 4.50,
    "guest": 1.97,
    "date": 0.00,
    "content": 2.47,
    "content_share": 0.85,
    "content_margin": 1.13,
    "bonus": 0.00,
    "recent": 1.01,
}
EPISODE_BIAS = -7.08
EPISODE_THRESHOLD = 0.38

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

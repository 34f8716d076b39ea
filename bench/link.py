"""Benchmark: link latency of a 5 KB review against 1k-100k episodes, memory, retrieval.

    python bench/link.py [--sizes 1000,10000,100000] [--results bench/RESULTS.md]
                         [--postgres postgresql://postgres@127.0.0.1:5432/test]

The catalog is the real one (the dev set's feeds and the other real feeds; at sizes
below it, only its smallest series that fit in half) plus a synthetic one grown from
the real feeds' words (bench/_catalog.py). Each size runs in its own process, so its
peak RSS (VmHWM) is its own: parse nothing, build ``Catalog``, link every review once
after a short warm-up. Reviews: the dev set's, repeated or cut to 5 KB, and
synthetic ones that name synthetic shows (positive) or none (negative).

At the largest size the same process then measures candidate retrieval side by side
(the choice of index, docs/retrieval.md): the linker's in-memory BM25 over one document
per series, against SQLite FTS5 (and tantivy when installed, PostgreSQL with
--postgres) over the same 100k episode texts, each asked with (a) the review's 30
most frequent terms and (b) the linker's own 30 tf x idf-chosen terms.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import importlib.util
import json
import os
import pickle
import platform
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, TextIO

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _catalog import (  # bench/ is not a package: found through sys.path
    BenchReview,
    Vocabulary,
    catalog_for_size,
    load_real,
    outline,
    pad_review,
    synthetic_reviews,
)

from aggregator.linking import LINKER_VERSION, Catalog, Linker
from aggregator.linking.analysis import analyse
from aggregator.linking.candidates import series_candidates
from aggregator.linking.episodes import episode_signals
from aggregator.linking.score import episode_score, series_score
from aggregator.linking.text import terms
from aggregator.reviews.service import settle_after_build
from aggregator.types import CatalogSeries, Relation

POSITIVES, NEGATIVES = 30, 15  # synthetic reviews per size (plus the dev set's 88)
WARM_UP = 3
SAMPLE = 3  # every SAMPLE-th review is also run stage by stage (and gives a query)
TOP = 5  # hits asked of every retrieval engine (the linker keeps 5 candidates)
QUERY_TERMS = 30
TARGET_SIZE = 100_000  # the target: link p50 <= 50 ms and <= 500 MB RSS at 100k episodes
Result = dict[str, Any]


# --- measuring helpers -----------------------------------------------------------------


def status(field: str) -> float:
    """A /proc/self/status memory field in MB (VmRSS, VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise LookupError(field)


def trim() -> None:
    """Give freed heap back to the system (glibc), so that RSS shows what is kept."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: RSS as it stands
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def percentiles(ms: Sequence[float]) -> dict[str, float]:
    cuts = statistics.quantiles(ms, n=20, method="inclusive") if len(ms) > 1 else [ms[0]] * 19
    return {"p50": statistics.median(ms), "p95": cuts[18], "max": max(ms), "n": len(ms)}


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return 1000 * (time.perf_counter() - start)


# --- one catalog size (a worker process) ------------------------------------------------


def worker(size: int, inputs: Path, retrieval: bool, postgres: str | None) -> Result:
    rss_start = status("VmRSS")
    with inputs.open("rb") as f:
        real, dev_reviews, vocabulary = pickle.load(f)
    rss_loaded = status("VmRSS")
    first_synthetic = max(s.id for s in real) + 1
    # The synthetic reviews name synthetic shows: made from a first pass over the
    # catalog that keeps only their outlines, dropped before the catalog is built.
    start = time.perf_counter()
    series, real_count = catalog_for_size(real, vocabulary, size)
    synthetic = [outline(s) for s in series if s.id >= first_synthetic]
    reviews = [BenchReview("dev", pad_review(r)) for r in dev_reviews]
    reviews += synthetic_reviews(vocabulary, synthetic, POSITIVES, NEGATIVES)
    generate_s = time.perf_counter() - start
    del synthetic
    gc.collect()
    trim()
    # The catalog is built from a stream, as the service builds it (Storage.with_catalog):
    # one series at a time, made (and written out for the retrieval engines) on demand;
    # the time spent making them is left out of the build time.
    with tempfile.TemporaryDirectory() as tmp:
        texts = Path(tmp) / "episodes.jsonl"
        with texts.open("w", encoding="utf-8") as out:
            stream = Stream(catalog_for_size(real, vocabulary, size)[0], out if retrieval else None)
            start = time.perf_counter()
            catalog = Catalog.build(stream)
            build_s = time.perf_counter() - start - stream.spent
        series_count = stream.count
        del series, stream, real
        settle_after_build()  # as the service does once its catalog is built
        trim()
        rss_built = status("VmRSS")
        linker = Linker(catalog)
        for r in reviews[:WARM_UP]:
            linker.link(r.review)
        by_kind: dict[str, list[float]] = {}
        cpu: list[float] = []  # this process's CPU time: what other load on the box leaves out
        right: Counter[str] = Counter()
        for r in reviews:
            start, start_cpu = time.perf_counter(), time.process_time()
            proposals = linker.link(r.review)
            by_kind.setdefault(r.kind, []).append(1000 * (time.perf_counter() - start))
            cpu.append(1000 * (time.process_time() - start_cpu))
            reviewed = {p.series_id for p in proposals if p.relation is Relation.REVIEWS}
            if r.kind == "positive":
                right[r.kind] += r.series_id in reviewed
            elif r.kind == "negative":
                right[r.kind] += not reviewed
        sample = reviews[::SAMPLE]
        stages, queries = stage_times(catalog, sample)
        result: Result = {
            "size": size,
            "real": real_count,
            "series": series_count,
            "generate_s": generate_s,
            "build_s": build_s,
            "rss_start": rss_start,
            "rss_loaded": rss_loaded,
            "rss_built": rss_built,
            "hwm": status("VmHWM"),
            "all": percentiles([t for ts in by_kind.values() for t in ts]),
            "cpu": percentiles(cpu),
            "load": os.getloadavg()[0],
            "kinds": {k: percentiles(ts) for k, ts in by_kind.items()},
            "right": dict(right),
            "stages": stages,
            "sample": len(sample),
        }
        if retrieval:
            result["retrieval"] = compare_retrieval(catalog, texts, queries, postgres)
    return result


class Stream:
    """Series one at a time, counted, each written out as episode texts when asked,
    with the time spent making and writing them (not the catalog's) in ``spent``."""

    def __init__(self, series: Iterator[CatalogSeries], texts: TextIO | None) -> None:
        self.series = series
        self.texts = texts
        self.spent = 0.0
        self.count = 0

    def __iter__(self) -> Iterator[CatalogSeries]:
        while True:
            start = time.perf_counter()
            s = next(self.series, None)
            if s is None:
                return
            if self.texts is not None:
                for e in s.episodes:
                    body = " ".join(terms(f"{e.title} {e.description_text}"))
                    self.texts.write(json.dumps([e.id, s.id, body]) + "\n")
            self.count += 1
            self.spent += time.perf_counter() - start
            yield s


Query = tuple[dict[str, float], list[str]]  # the linker's tf x idf terms, the most frequent


def stage_times(
    catalog: Catalog, reviews: Sequence[BenchReview]
) -> tuple[dict[str, float], list[Query]]:
    """Median ms of the linker's stages, run as ``Linker.score`` runs them; and the
    retrieval queries of the reviews."""
    times: dict[str, list[float]] = {"analyse": [], "candidates": [], "episodes": []}
    queries: list[Query] = []
    for r in reviews:
        t0 = time.perf_counter()
        a = analyse(r.review, catalog)
        t1 = time.perf_counter()
        found = series_candidates(a, catalog)
        t2 = time.perf_counter()
        for signals in found.values():
            scored = [episode_score(e.features) for e in episode_signals(a, signals, catalog)]
            signals.features.episode = max(scored, default=0.0)
            series_score(signals.features)
        t3 = time.perf_counter()
        times["analyse"].append(1000 * (t1 - t0))
        times["candidates"].append(1000 * (t2 - t1))
        times["episodes"].append(1000 * (t3 - t2))
        frequent = [t for t, _ in Counter(terms(a.text)).most_common(QUERY_TERMS)]
        queries.append((a.query, frequent))
    return {k: statistics.median(v) for k, v in times.items()}, queries


# --- retrieval engines side by side ------------------------------------------------------


def compare_retrieval(
    catalog: Catalog, texts: Path, queries: Sequence[Query], postgres: str | None
) -> Result:
    episodes: Docs = []
    with texts.open(encoding="utf-8") as f:
        for line in f:
            eid, sid, body = json.loads(line)
            episodes.append((int(eid), int(sid), str(body)))
    series_docs = series_documents(episodes)
    bm25 = catalog.retrieval
    tfidf, frequent = [q for q, _ in queries], [dict.fromkeys(f, 1.0) for _, f in queries]
    rows: list[Result] = [
        row("linker, in memory", "series", "tf×idf 30 (as the linker asks)",
            0.0, [timed(partial(bm25.search, q, TOP)) for q in tfidf]),
        row("linker, in memory", "series", "30 most frequent",
            0.0, [timed(partial(bm25.search, q, TOP)) for q in frequent]),
    ]  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        rows += measure_engine(
            "SQLite FTS5", sqlite_engine(Path(tmp)), episodes, series_docs, queries
        )
    if importlib.util.find_spec("tantivy") is not None:  # optional: measured when installed
        rows += measure_engine("tantivy", tantivy_engine, episodes, series_docs, queries)
    if postgres:
        rows += measure_engine(
            "PostgreSQL FTS", postgres_engine(postgres), episodes, series_docs, queries
        )
    return {"episodes": len(episodes), "series": len(series_docs), "rows": rows}


def series_documents(episodes: Docs) -> Docs:
    """One document per series for the engines: its episodes' terms, the 1,500 most
    frequent kept, as the linker caps its own series documents (which also weigh in
    the show's title, description and people: close, not identical)."""
    by_series: dict[int, Counter[str]] = {}
    for _, sid, body in episodes:
        by_series.setdefault(sid, Counter()).update(body.split())
    return [
        (sid, sid, " ".join(t for t, n in counts.most_common(1500) for _ in range(n)))
        for sid, counts in by_series.items()
    ]


def row(engine: str, unit: str, query: str, build_s: float, ms: list[float]) -> Result:
    return {"engine": engine, "unit": unit, "query": query, "build_s": build_s, **percentiles(ms)}


Docs = list[tuple[int, int, str]]  # (id, series id, space-separated terms)
Search = Callable[[list[str]], list[int]]
# An engine indexes documents and returns a search function, and a clean-up.
Engine = Callable[[str, Docs], tuple[Search, Callable[[], None]]]


def measure_engine(
    name: str,
    engine: Engine,
    episodes: Docs,
    series_docs: Docs,
    queries: Sequence[Query],
) -> list[Result]:
    rows = []
    for unit, docs in (("episodes", episodes), ("series", series_docs)):
        start = time.perf_counter()
        search, close = engine(unit, docs)
        build_s = time.perf_counter() - start
        try:
            plans = [("tf×idf 30", [list(q) for q, _ in queries])]
            if unit == "episodes":
                plans.insert(0, ("30 most frequent", [f for _, f in queries]))
            for label, term_lists in plans:
                search(term_lists[0])  # warm caches
                ms = [timed(partial(search, t)) for t in term_lists]
                rows.append(row(name, unit, label, build_s, ms))
        finally:
            close()
    return rows


def sqlite_engine(directory: Path) -> Engine:
    def build(unit: str, docs: Docs) -> tuple[Search, Callable[[], None]]:
        db = sqlite3.connect(directory / f"{unit}.sqlite")
        db.execute("CREATE VIRTUAL TABLE docs USING fts5(body, tokenize='unicode61')")
        db.executemany("INSERT INTO docs(rowid, body) VALUES (?, ?)", ((i, b) for i, _, b in docs))
        db.execute("INSERT INTO docs(docs) VALUES ('optimize')")
        db.commit()

        def search(words: list[str]) -> list[int]:
            query = " OR ".join(f'"{w}"' for w in words)
            sql = "SELECT rowid FROM docs WHERE docs MATCH ? ORDER BY rank LIMIT ?"
            return [r[0] for r in db.execute(sql, (query, TOP))]

        return search, db.close

    return build


def tantivy_engine(unit: str, docs: Docs) -> tuple[Search, Callable[[], None]]:
    import tantivy

    builder = tantivy.SchemaBuilder()
    builder.add_integer_field("id", stored=True)
    builder.add_text_field("body", stored=False, tokenizer_name="whitespace")
    index = tantivy.Index(builder.build())
    writer = index.writer(heap_size=200_000_000, num_threads=1)
    for i, _, body in docs:
        writer.add_document(tantivy.Document(id=i, body=body))
    writer.commit()
    writer.wait_merging_threads()
    index.reload()
    searcher = index.searcher()

    def search(words: list[str]) -> list[int]:
        query = index.parse_query(" ".join(words), ["body"])
        hits = searcher.search(query, TOP).hits
        return [int(searcher.doc(address)["id"][0]) for _, address in hits]

    return search, lambda: None


def postgres_engine(url: str) -> Engine:
    import psycopg

    def build(unit: str, docs: Docs) -> tuple[Search, Callable[[], None]]:
        connection = psycopg.connect(url, autocommit=True)
        schema = f"bench_link_{os.getpid()}"
        connection.execute(f"CREATE SCHEMA {schema}")
        connection.execute(f"SET search_path TO {schema}")
        connection.execute(
            "CREATE TABLE docs (id integer PRIMARY KEY, body text NOT NULL, doc tsvector "
            "GENERATED ALWAYS AS (to_tsvector('simple', body)) STORED)"
        )
        with connection.cursor().copy("COPY docs (id, body) FROM STDIN") as copy:
            for i, _, body in docs:
                copy.write_row((i, body))
        connection.execute("CREATE INDEX docs_doc ON docs USING gin (doc)")
        connection.execute("ANALYZE docs")

        def search(words: list[str]) -> list[int]:
            sql = (
                "SELECT id FROM docs, to_tsquery('simple', %s) q WHERE doc @@ q "
                "ORDER BY ts_rank(doc, q) DESC LIMIT %s"
            )
            return [r[0] for r in connection.execute(sql, (" | ".join(words), TOP))]

        def close() -> None:
            connection.execute(f"DROP SCHEMA {schema} CASCADE")
            connection.close()

        return search, close

    return build


# --- the parent: inputs once, one process per size, the report ---------------------------


def run(
    sizes: Sequence[int], postgres: str | None, retrieval: bool = True
) -> tuple[list[Result], float]:
    start = time.perf_counter()
    real, dev_reviews = load_real()
    vocabulary = Vocabulary.from_series(real)
    load_s = time.perf_counter() - start
    print(f"real catalog and dev reviews read in {load_s:.1f} s", file=sys.stderr)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        inputs = Path(tmp) / "inputs.pickle"
        with inputs.open("wb") as f:
            pickle.dump((real, dev_reviews, vocabulary), f)
        for size in sizes:
            command = [sys.executable, __file__, "--worker", str(size), "--inputs", str(inputs)]
            if retrieval and size == max(sizes):
                command.append("--retrieval")
                if postgres:
                    command += ["--postgres", postgres]
            print(f"{size:,} episodes ...", file=sys.stderr)
            done = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True)
            results.append(json.loads(done.stdout))
    return results, load_s


def revision() -> str:
    """The commit measured, and whether the linker had uncommitted changes."""
    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "aggregator/linking"],
            cwd=root,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return f"{head or 'unknown'}{' + uncommitted changes in aggregator/linking' if dirty else ''}"


def report(results: Sequence[Result], load_s: float) -> str:
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    lines = [
        f"## bench/link — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Machine: {machine}; SQLite {sqlite3.sqlite_version}; linker version {LINKER_VERSION},",
        f"commit {revision()}.",
        "Catalog: the real feeds (dev set + other real feeds; below their size only the",
        "smallest that fit in half) plus synthetic series of 20–300 episodes (bench/_catalog.py).",
        f"Reviews: {sum(r['all']['n'] for r in results[:1])} per size, 5 KB each (dev set padded or cut;"
        f" {POSITIVES} synthetic positives, {NEGATIVES} negatives), each linked once after"
        f" {WARM_UP} warm-up links, one process per size. Real inputs parsed once: {load_s:.0f} s.",
        "",
        "| episodes (real) | series | Catalog.build | link p50 | link p95 | link max | CPU p50 / p95 | RSS before catalog | RSS after build | peak RSS | load | target |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        a = r["all"]
        target = "p50 <= 50 ms, RSS <= 500 MB" if r["size"] == TARGET_SIZE else ""
        lines.append(
            f"| {r['size']:,} ({r['real']:,}) | {r['series']:,} | {r['build_s']:.1f} s "
            f"| {a['p50']:.0f} ms | {a['p95']:.0f} ms | {a['max']:.0f} ms "
            f"| {r['cpu']['p50']:.0f} / {r['cpu']['p95']:.0f} ms | {r['rss_loaded']:.0f} MB "
            f"| {r['rss_built']:.0f} MB | {r['hwm']:.0f} MB | {r['load']:.1f} | {target} |"
        )
    lines += [
        "",
        "Memory of the worker (VmRSS): before the catalog = interpreter, imports and the real",
        "inputs; after build = that plus the built index, once the catalog values are dropped",
        "and freed heap is trimmed (what a running service keeps); peak = VmHWM at the end of",
        "the latency runs (the index built from a stream of series, as `Storage.with_catalog`",
        "hands them over: the peak is the index and the linking, not the catalog values).",
        "Link times are wall clock; CPU is the worker's own CPU time for the same links (the",
        "two part when other work shares the 2 cores: load is the 1-minute load average at the",
        "end of the run). Positives linked: synthetic reviews that got a `reviews` link to the",
        "show they name; negatives abstained: synthetic reviews with no `reviews` link.",
        f"Stages: medians over every {SAMPLE}rd review, run as `Linker.score` runs them.",
        "",
        "| episodes | dev p50 / p95 | positive p50 / p95 | negative p50 / p95 | positives linked | negatives abstained | stages p50: analyse / candidates / episodes |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        k, s = r["kinds"], r["stages"]
        cells = " | ".join(
            f"{k[n]['p50']:.0f} / {k[n]['p95']:.0f} ms" for n in ("dev", "positive", "negative")
        )
        lines.append(
            f"| {r['size']:,} | {cells} | {r['right'].get('positive', 0)}/{POSITIVES} "
            f"| {r['right'].get('negative', 0)}/{NEGATIVES} "
            f"| {s['analyse']:.0f} / {s['candidates']:.0f} / {s['episodes']:.0f} ms |"
        )
    for r in results:
        if "retrieval" in r:
            lines += retrieval_table(r["retrieval"])
    return "\n".join(lines) + "\n"


def retrieval_table(t: Result) -> list[str]:
    lines = [
        "",
        f"Candidate retrieval, top {TOP} of {t['episodes']:,} episodes or {t['series']:,} series"
        " documents (the same terms: our folding and light stemming), one query per review:",
        "",
        "| engine | documents | query terms | index build | p50 | p95 | max |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for w in t["rows"]:
        build = f"{w['build_s']:.1f} s" if w["build_s"] else "(Catalog.build)"
        lines.append(
            f"| {w['engine']} | {w['unit']} | {w['query']} | {build} | {w['p50']:.1f} ms "
            f"| {w['p95']:.1f} ms | {w['max']:.1f} ms |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--results", type=Path, default=None, help="append the section here")
    parser.add_argument("--postgres", default=None, help="also measure PostgreSQL full text")
    parser.add_argument(
        "--no-retrieval", action="store_true", help="skip the retrieval engines' comparison"
    )
    parser.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--inputs", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--retrieval", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        print(json.dumps(worker(args.worker, args.inputs, args.retrieval, args.postgres)))
        return
    sizes = sorted(int(s) for s in args.sizes.split(","))
    results, load_s = run(sizes, args.postgres, not args.no_retrieval)
    text = report(results, load_s)
    print(text)
    if args.results:
        with args.results.open("a", encoding="utf-8") as f:
            f.write("\n" + text)


if __name__ == "__main__":
    main()

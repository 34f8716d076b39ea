"""Benchmark: re-parsing a 3,000-item feed after one new episode, full vs incremental.

    python bench/parse_incremental.py [--runs 5]

The feed is built from real items (shared/data/feeds/real): Critical Role's 2026
channel with its 455 items, then the items of Coding Blocks, Giant Bombcast, Planet
Money and This American Life until there are 3,000 (about 8 MB), with the namespace
declarations of all of them on the root element. One new episode is then put on
top, as a publisher would, and three parses of that document are timed, side by
side and interleaved, median of ``--runs``:

1. ``feedparser.parse`` alone (the cost to beat: ~2 s for 8.4 MB);
2. our ``parse_feed`` without known hashes (a full parse: feedparser + our fields);
3. our ``parse_feed`` with the item hashes of the previous version (incremental).

Target: incremental <= 10 % of the full feedparser parse. ``run()`` returns the
figures for bench/poll.py.
"""

from __future__ import annotations

import argparse
import io
import re
import statistics
import time
import xml.parsers.expat
from pathlib import Path
from typing import Any

import feedparser

from aggregator.feeds.parse import parse_feed

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "feeds" / "real"
HOST = "critical-role__critrolesync-2026-07-21.xml"
SOURCES = [
    HOST,
    "coding-blocks__node-podcast-parser-2018.xml",
    "giant-bombcast__rss-parser.rss",
    "planet-money-all-episodes__xjcl-2023.xml",
    "this-american-life-all-episodes__aallen-2020.xml",
]
URL = "https://feeds.example/big.xml"
TARGET = 0.10
_ITEM = re.compile(rb"<item[\s>].*?</item>", re.DOTALL)
_ROOT = re.compile(rb"<rss\b[^>]*>")
_XMLNS = re.compile(rb'xmlns:([\w.-]+)\s*=\s*"([^"]*)"')


def build_feed(items: int = 3000) -> bytes:
    """A well-formed feed of ``items`` real items with unique guids."""
    host = (REAL / HOST).read_bytes()
    spans = list(_ITEM.finditer(host))
    head, tail = host[: spans[0].start()], host[spans[-1].end() :]
    root = _ROOT.search(head)
    assert root is not None
    in_root = dict(_XMLNS.findall(root.group()))
    declared = dict(in_root)
    collected: list[bytes] = []
    for name in SOURCES:
        source = (REAL / name).read_bytes()
        source_root = _ROOT.search(source)
        assert source_root is not None
        for prefix, uri in _XMLNS.findall(source_root.group()):
            assert declared.setdefault(prefix, uri) == uri, f"{name}: xmlns:{prefix!r} clash"
        collected.extend(m.group() for m in _ITEM.finditer(source))
        if len(collected) >= items:
            break
    extra = b"".join(b' xmlns:%s="%s"' % (p, u) for p, u in declared.items() if p not in in_root)
    new_root = root.group()[:-1] + extra + b">"
    doc = head.replace(root.group(), new_root, 1) + b"\n".join(collected[:items]) + tail
    xml.parsers.expat.ParserCreate(namespace_separator=" ").Parse(doc, True)  # well-formed
    return doc


def with_new_episode(doc: bytes) -> bytes:
    """``doc`` with a copy of its first item, under a new guid and title, on top."""
    first = _ITEM.search(doc)
    assert first is not None
    new = re.sub(rb"(<guid[^>]*>)", rb"\1bench-new-", first.group(), count=1)
    new = new.replace(b"<title>", b"<title>New: ", 1)
    return doc[: first.start()] + new + b"\n" + doc[first.start() :]


def _timed(action: Any) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def run(runs: int = 5, items: int = 3000) -> dict[str, Any]:
    """Time the three parses; return items, bytes, medians in seconds and the ratio."""
    before = build_feed(items)
    known = parse_feed(before, url=URL).item_hashes
    assert len(known) == items
    doc = with_new_episode(before)
    incremental = parse_feed(doc, url=URL, known_item_hashes=known)
    assert not incremental.complete and len(incremental.episodes) == 1
    assert incremental.episodes[0].title.startswith("New: ")

    times: dict[str, list[float]] = {"feedparser": [], "full": [], "incremental": []}
    for _ in range(runs):  # interleaved, so drift in machine load hits all three alike
        times["feedparser"].append(_timed(lambda: feedparser.parse(io.BytesIO(doc))))
        times["full"].append(_timed(lambda: parse_feed(doc, url=URL)))
        times["incremental"].append(
            _timed(lambda: parse_feed(doc, url=URL, known_item_hashes=known))
        )
    medians = {name: statistics.median(values) for name, values in times.items()}
    ratio = medians["incremental"] / medians["feedparser"]
    return {
        "items": items + 1,
        "bytes": len(doc),
        "runs": runs,
        "feedparser_s": medians["feedparser"],
        "full_s": medians["full"],
        "incremental_s": medians["incremental"],
        "incremental_vs_feedparser": ratio,
        "incremental_vs_full": medians["incremental"] / medians["full"],
        "target": TARGET,
        "ok": ratio <= TARGET,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--items", type=int, default=3000)
    args = parser.parse_args()
    result = run(args.runs, args.items)
    print(
        f"feed: {result['items']} items, {result['bytes'] / 1e6:.1f} MB; "
        f"median of {result['runs']} runs"
    )
    print(f"{'parse':<42}{'seconds':>10}{'vs feedparser':>16}")
    rows = [
        ("feedparser.parse (full)", result["feedparser_s"]),
        ("parse_feed, full", result["full_s"]),
        ("parse_feed, incremental (1 new item)", result["incremental_s"]),
    ]
    for label, seconds in rows:
        print(f"{label:<42}{seconds:>10.3f}{seconds / result['feedparser_s']:>15.1%}")
    verdict = "OK" if result["ok"] else "MISSED"
    print(f"target: incremental <= {result['target']:.0%} of feedparser.parse: {verdict}")


if __name__ == "__main__":
    main()

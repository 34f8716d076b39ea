"""How well "nearly the same text" tells copies of a review from different reviews.

    python bench/dedupe.py

Reads the 309 labelled reviews of tests/data/linking and tests/data/blind, and the
hand-made copies of tests/data/copies, and prints:

1. exact Jaccard similarity of word shingles (sizes 3, 4, 5) between different
   reviews (of one show, and of any) — the negatives — and between copies built from
   every review: with a headline line and a comment form against without, with one
   footer against another, with one word in 20 or in 10 edited — the positives;
2. the hand-made copies through the real intake (extract -> aggregator.fingerprint)
   with the parameters chosen: estimated similarity, and whether LSH finds the pair;
3. over every pair of different reviews and every built copy: how many LSH makes
   candidates and how many reach the threshold;
4. the time to fingerprint a review, beside the time to extract it (same run).

The figures behind the parameters in aggregator/fingerprint.py; bench/RESULTS.md
records a run.
"""

from __future__ import annotations

import itertools
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aggregator import fingerprint  # noqa: E402
from aggregator.reviews.extract import extract_document, extract_html  # noqa: E402

SETS = ("linking", "blind")
COPIES = ROOT / "tests" / "data" / "copies"
LINKING = ROOT / "tests" / "data" / "linking" / "reviews"

HEADLINE = "Behind the scenes: a review"
# A blog theme's comment form as plain text: what is left when boilerplate removal
# misses it (48 words with the headline).
FORM = (
    "Leave a Reply. Your email address will not be published. Required fields are marked "
    "*. Comment. Name *. Email *. Website. Save my name, email, and website in this browser "
    "for the next time I comment. Post Comment. Share this: Twitter Facebook. Like this: "
    "Like Loading... Related"
)
FOOTER_A = (
    "About the author: Jane Doe writes about audio drama and documentary podcasts for this "
    "blog. Follow her on Mastodon. All opinions are her own."
)
FOOTER_B = (
    "This review first appeared on another site and is republished here with permission. "
    "Subscribe to our weekly newsletter for more podcast recommendations, and support us on "
    "Patreon to keep the reviews coming."
)
BUCKETS = ((50, 100), (100, 200), (200, 400), (400, 10**9))


def load() -> list[tuple[str, str, frozenset[str], str | None]]:
    """(id, text, series, url) of every labelled review."""
    found = []
    for name in SETS:
        folder = ROOT / "tests" / "data" / name
        for r in json.loads((folder / "labels.json").read_text(encoding="utf-8"))["reviews"]:
            path = folder / "reviews" / r["file"]
            document = extract_document(path.read_bytes(), filename=path.name)
            found.append((r["id"], document.text, frozenset(r["series"]), r.get("url")))
    return found


def shingles(text: str, k: int) -> set[str]:
    words = fingerprint.words(text)
    return {" ".join(words[i : i + k]) for i in range(max(1, len(words) - k + 1))}


def jaccard(a: str, b: str, k: int) -> float:
    x, y = shingles(a, k), shingles(b, k)
    return len(x & y) / len(x | y)


def edited(text: str, every: int) -> str:
    return " ".join(
        "edited" if i % every == 0 else w for i, w in enumerate(fingerprint.words(text))
    )


def built_copies(text: str) -> list[tuple[str, str, str]]:
    """(kind, a, b): copies of one review as they arrive in the wild."""
    return [
        ("headline + form", f"{HEADLINE}\n\n{text}\n\n{FORM}", text),
        ("other footer", f"{text}\n\n{FOOTER_A}", f"{text}\n\n{FOOTER_B}"),
        ("1 word in 20 edited", text, edited(text, 20)),
        ("1 word in 10 edited", text, edited(text, 10)),
    ]


def shingle_sizes(reviews: list[tuple[str, str, frozenset[str], str | None]]) -> None:
    print("## 1. Exact Jaccard of word shingles\n")
    print("| shingle words | different reviews, one show: max | any: max | pairs sharing a URL |")
    print("|---:|---:|---:|---:|")
    for k in (3, 4, 5):
        same_show, other, paraphrase = 0.0, 0.0, []
        for (_, ta, sa, ua), (_, tb, sb, ub) in itertools.combinations(reviews, 2):
            j = jaccard(ta, tb, k)
            if ua is not None and ua == ub:
                paraphrase.append(j)  # one review rewritten by two writers
            elif sa & sb:
                same_show = max(same_show, j)
            else:
                other = max(other, j)
        para = ", ".join(f"{j:.2f}" for j in paraphrase)
        print(f"| {k} | {same_show:.3f} | {other:.3f} | {para} |")
    print()
    print("Copies built from every review of at least 50 words: the minimum per length.\n")
    print(
        "| shingle words | copy | "
        + " | ".join(f"{a}-{b if b < 10**9 else ''} words" for a, b in BUCKETS)
        + " |"
    )
    print("|---:|---|" + "---:|" * len(BUCKETS))
    for k in (3, 4, 5):
        lows: dict[str, dict[tuple[int, int], float]] = {}
        for _, text, _, _ in reviews:
            n = len(fingerprint.words(text))
            bucket = next((b for b in BUCKETS if b[0] <= n < b[1]), None)
            if bucket is None:
                continue
            for kind, a, b in built_copies(text):
                low = lows.setdefault(kind, {})
                low[bucket] = min(low.get(bucket, 1.0), jaccard(a, b, k))
        for kind, low in lows.items():
            cells = " | ".join(f"{low[b]:.2f}" if b in low else "-" for b in BUCKETS)
            print(f"| {k} | {kind} | {cells} |")
    print()


def hand_made() -> None:
    print("## 2. Hand-made copies through the intake (estimated similarity, LSH candidate)\n")
    page = extract_document((COPIES / "page.html").read_bytes(), filename="page.html")
    item = extract_html((COPIES / "feed-item.html").read_text(encoding="utf-8"))
    seed = extract_document((LINKING / "seed.txt").read_bytes(), filename="seed.txt")

    def text(path: Path) -> str:
        return extract_document(path.read_bytes(), filename=path.name).text

    pairs = [
        ("page (headline, comment form) / feed item", page.text, item.text, True),
        ("seed file (headline, form) / feed item", seed.text, item.text, True),
        (
            "republished (other footer) / author note",
            text(COPIES / "republished.txt"),
            text(COPIES / "with-author-note.txt"),
            True,
        ),
        (
            "seed / cal-vs-serial (both Caliphate)",
            seed.text,
            text(LINKING / "cal-vs-serial.txt"),
            False,
        ),
        (
            "seed / a-cal-longread (both Caliphate)",
            seed.text,
            text(LINKING / "a-cal-longread.html"),
            False,
        ),
        ("seed / a-cal-editors-note", seed.text, text(LINKING / "a-cal-editors-note.txt"), False),
    ]
    print(
        "| pair | same review? | words | exact Jaccard (3) | estimated | LSH candidate | merged |"
    )
    print("|---|---|---:|---:|---:|---|---|")
    for name, a, b, same in pairs:
        sa, sb = fingerprint.sketch(a), fingerprint.sketch(b)
        assert sa is not None and sb is not None
        estimate = fingerprint.similarity(sa.signature, sb.signature)
        candidate = bool(set(sa.bands) & set(sb.bands))
        merged = candidate and estimate >= fingerprint.SAME_REVIEW
        words = f"{len(fingerprint.words(a))}/{len(fingerprint.words(b))}"
        print(
            f"| {name} | {'yes' if same else 'no'} | {words} | {jaccard(a, b, 3):.3f} "
            f"| {estimate:.3f} | {'yes' if candidate else 'no'} | {'yes' if merged else 'no'} |"
        )
    print()


def lsh(reviews: list[tuple[str, str, frozenset[str], str | None]]) -> None:
    print(
        f"## 3. LSH ({fingerprint.BANDS} bands of {fingerprint.NUM_PERM // fingerprint.BANDS}), "
        f"threshold {fingerprint.SAME_REVIEW}\n"
    )
    sketches = [(rid, fingerprint.sketch(text), url) for rid, text, _, url in reviews]
    pairs = candidates = merged = 0
    for (_, a, ua), (_, b, ub) in itertools.combinations(sketches, 2):
        if a is None or b is None or (ua is not None and ua == ub):
            continue
        pairs += 1
        if set(a.bands) & set(b.bands):
            candidates += 1
            merged += fingerprint.similarity(a.signature, b.signature) >= fingerprint.SAME_REVIEW
    print(f"- different reviews: {pairs} pairs, {candidates} candidates, {merged} merged")
    found: dict[str, list[int]] = {}
    for _, text, _, _ in reviews:
        if len(fingerprint.words(text)) < 100:
            continue
        for kind, a, b in built_copies(text):
            sa, sb = fingerprint.sketch(a), fingerprint.sketch(b)
            assert sa is not None and sb is not None
            hit = bool(set(sa.bands) & set(sb.bands))
            ok = (
                hit
                and fingerprint.similarity(sa.signature, sb.signature) >= fingerprint.SAME_REVIEW
            )
            counts = found.setdefault(kind, [0, 0, 0])
            counts[0] += 1
            counts[1] += hit
            counts[2] += ok
    for kind, (n, hit, ok) in found.items():
        print(
            f"- copies ({kind}), reviews of 100 words or more: {n} pairs, {hit} candidates, {ok} merged"
        )
    print()


def timing(reviews: list[tuple[str, str, frozenset[str], str | None]]) -> None:
    print("## 4. Time per review (same run)\n")
    fingerprint.sketch("warm " * 60)  # datasketch's import, paid once per process
    folder = ROOT / "tests" / "data" / "blind" / "reviews"
    files = sorted(folder.iterdir())
    extract_ms, sketch_ms = [], []
    for path in files:
        data = path.read_bytes()
        started = time.perf_counter()
        document = extract_document(data, filename=path.name)
        extract_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        fingerprint.content_hash(document.text)
        fingerprint.sketch(document.text)
        sketch_ms.append((time.perf_counter() - started) * 1000)
    for name, values in (("extract (baseline)", extract_ms), ("fingerprints", sketch_ms)):
        values.sort()
        p95 = values[int(0.95 * (len(values) - 1))]
        print(
            f"- {name}: p50 {statistics.median(values):.2f} ms, p95 {p95:.2f} ms ({len(values)} reviews)"
        )
    print()


def main() -> None:
    reviews = load()
    print(f"{len(reviews)} labelled reviews\n")
    shingle_sizes(reviews)
    hand_made()
    lsh(reviews)
    timing(reviews)


if __name__ == "__main__":
    main()

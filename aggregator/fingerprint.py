"""Fingerprints of a review's text: one for the same text, one for nearly the same.

- ``content_hash``: SHA-256 of the words, with case, whitespace and punctuation
  ignored. Equal hashes are the same text however it was laid out (a feed's HTML, a
  pasted file, a page).
- ``sketch``: a MinHash (datasketch) of the text's word shingles, and its LSH band
  hashes. Copies of one review that differ at the edges — a headline line, a comment
  form, another site's footer — or by light edits share most shingles; two reviews of
  one show share almost none. Storage keeps the band hashes in the database, so every
  instance sharing it finds the same candidates, and compares their signatures.

The parameters are stored with the data (signatures, band hashes): changing any of
them needs a migration that recomputes both. Their values come from
``bench/dedupe.py`` (figures in ``bench/RESULTS.md``), over the 309 labelled reviews
of ``tests/data/linking`` and ``tests/data/blind``:

- two different reviews have a Jaccard similarity of 3-word shingles of at most 0.10,
  about the same show or not (45,752 pairs); a paraphrase of one review by another
  writer reaches 0.39;
- a review against itself with a headline and a 48-word comment form, or with one
  footer against another, is at least 0.65 from 100 words up (0.78 from 200); one word
  in ten edited keeps 0.53.

So a copy is "nearly the same text" from an estimated similarity of 0.5. Shingles of
3 words keep edited copies closest (one edit in ten leaves 0.43 with 4-word shingles,
0.33 with 5) while different reviews stay far below. 128 permutations estimate a
similarity of 0.5 within about 0.04 (one standard error). The bands (32 of 4 rows)
make a pair at 0.5 a candidate with probability 0.87, at 0.6 with 0.99, and a pair at
0.1 with 0.003: a lower threshold than datasketch's own choice for 0.5 (25 bands of 5,
0.55 at 0.5), because a missed candidate is a missed duplicate while a needless one
costs one comparison of two signatures. On the labelled reviews no two different
reviews share a band; every copy with a headline and form, or another footer, does.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

from aggregator.types import TextSketch

__all__ = [
    "BANDS",
    "MIN_WORDS",
    "NUM_PERM",
    "SAME_REVIEW",
    "SHINGLE_WORDS",
    "content_hash",
    "similarity",
    "sketch",
    "words",
]

SHINGLE_WORDS = 3
NUM_PERM = 128
BANDS = 32
_ROWS = NUM_PERM // BANDS
# Estimated Jaccard similarity from which two texts are one review.
SAME_REVIEW = 0.5
# Texts shorter than this get no sketch: a few words say too little to tell a copy
# from another text with a word changed ("Review: episode 3" and "... episode 4"), and
# copies at two addresses are one review only from this length on (a feed whose items
# all read "Listen now." is not one review).
MIN_WORDS = 50
# datasketch's seed and permutation scheme: part of the stored data, like the
# parameters above. The scheme is named, not left to datasketch: its default changed
# from "legacy" to "affine32" in 2.0, which would make old and new signatures of one
# text disagree.
_SEED = 1
_SCHEME = "affine32"

_WORD = re.compile(r"[^\W_]+")


def words(text: str) -> list[str]:
    """The text's words, case-folded (NFKC first: full-width and ligature forms fold).

    >>> words("Great  show!\\n\\nReally, it's GREAT.")
    ['great', 'show', 'really', 'it', 's', 'great']
    """
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


def content_hash(text: str) -> str:
    """SHA-256 (hex) of the words: the same text, whatever its case, spacing or
    punctuation.

    >>> content_hash("Great  show!\\n\\nReally.") == content_hash("great show really")
    True
    """
    return hashlib.sha256(" ".join(words(text)).encode("utf-8")).hexdigest()


def sketch(text: str) -> TextSketch | None:
    """The MinHash signature of the text's 3-word shingles and its band hashes; None
    for a text under ``MIN_WORDS`` words."""
    found = words(text)
    if len(found) < MIN_WORDS:
        return None
    # datasketch brings numpy and scipy: ~0.3 s, paid only when a review comes in.
    from datasketch import MinHash

    shingles = {
        " ".join(found[i : i + SHINGLE_WORDS]) for i in range(len(found) - SHINGLE_WORDS + 1)
    }
    minhash = MinHash(num_perm=NUM_PERM, seed=_SEED, scheme=_SCHEME)
    minhash.update_batch([s.encode("utf-8") for s in sorted(shingles)])
    signature = tuple(int(v) for v in minhash.hashvalues)
    return TextSketch(signature=signature, bands=band_hashes(signature))


def band_hashes(signature: tuple[int, ...]) -> tuple[int, ...]:
    """One signed 64-bit hash per band of ``_ROWS`` values, its band's number mixed in
    (equal values in two different bands are no match).

    >>> len(band_hashes(tuple(range(NUM_PERM)))) == BANDS
    True
    """
    hashes = []
    for band in range(BANDS):
        rows = signature[band * _ROWS : (band + 1) * _ROWS]
        data = band.to_bytes(2, "little") + b"".join(v.to_bytes(4, "little") for v in rows)
        digest = hashlib.blake2b(data, digest_size=8).digest()
        hashes.append(int.from_bytes(digest, "little", signed=True))
    return tuple(hashes)


def similarity(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    """Estimated Jaccard similarity of two texts' shingles: the share of equal
    signature values (what datasketch's ``MinHash.jaccard`` computes).

    >>> similarity((1, 2, 3, 4), (1, 2, 0, 4))
    0.75
    """
    if len(a) != len(b) or not a:
        return 0.0
    return sum(x == y for x, y in zip(a, b, strict=True)) / len(a)

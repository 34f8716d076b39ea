"""Fingerprints of review texts: copies of one review are nearly the same text, two
reviews of one show are not, and stored signatures stay what MinHash defines."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from aggregator import fingerprint
from aggregator.reviews.extract import extract_document, extract_html

DATA = Path(__file__).resolve().parent / "data"
COPIES = DATA / "copies"
LINKING = DATA / "linking" / "reviews"


def text_of(path: Path) -> str:
    return extract_document(path.read_bytes(), filename=path.name).text


def near(a: str, b: str) -> bool:
    """What storage decides: a shared band, then a similarity from the threshold."""
    sa, sb = fingerprint.sketch(a), fingerprint.sketch(b)
    assert sa is not None and sb is not None
    shared = set(sa.bands) & set(sb.bands)
    return bool(shared) and fingerprint.similarity(sa.signature, sb.signature) >= 0.5


def test_a_page_and_its_feed_item_are_nearly_the_same_text() -> None:
    page = text_of(COPIES / "page.html")
    item = extract_html((COPIES / "feed-item.html").read_text(encoding="utf-8")).text
    assert page.startswith("Behind the scenes of the Islamic State")  # the headline
    assert not item.startswith("Behind the scenes")
    assert fingerprint.content_hash(page) != fingerprint.content_hash(item)
    assert near(page, item)


def test_copies_with_a_comment_form_or_another_footer_are_nearly_the_same_text() -> None:
    item = extract_html((COPIES / "feed-item.html").read_text(encoding="utf-8")).text
    # The comment form as text, as if boilerplate removal had missed all of it.
    form = (
        "Leave a Reply\n\nYour email address will not be published. Required fields are "
        "marked *\n\nComment\n\nName *\n\nEmail *\n\nWebsite\n\nSave my name, email, and "
        "website in this browser for the next time I comment.\n\nPost Comment"
    )
    assert near(f"Behind the scenes of the Islamic State\n\n{item}\n\n{form}", item)
    assert near(text_of(COPIES / "republished.txt"), text_of(COPIES / "with-author-note.txt"))


def test_two_reviews_of_one_show_are_not_the_same_review() -> None:
    seed = text_of(LINKING / "seed.txt")
    for other in ("cal-vs-serial.txt", "a-cal-longread.html", "a-cal-editors-note.txt"):
        text = text_of(LINKING / other)
        assert "Caliphate" in text
        assert not near(seed, text), other
        sa, sb = fingerprint.sketch(seed), fingerprint.sketch(text)
        assert sa is not None and sb is not None
        assert fingerprint.similarity(sa.signature, sb.signature) < 0.1, other


def test_short_texts_have_no_sketch() -> None:
    assert fingerprint.sketch("Listen now. " * 24) is None  # 48 words
    assert fingerprint.sketch("Listen now. " * 25) is not None  # 50


def test_the_stored_signature_is_minhash_as_defined() -> None:
    """Signatures are stored: the library must still compute what was stored. By
    hand: each 3-word shingle's SHA-1 (first 4 bytes, little-endian), mixed by the
    MurmurHash3 finalizer, through 128 affine permutations a*h+b mod 2^32 whose odd a
    and b come from numpy's RandomState(1); each slot keeps its minimum."""
    text = "one two three four five six seven eight nine ten " * 5
    words = text.split()
    shingles = {" ".join(words[i : i + 3]) for i in range(len(words) - 2)}
    mask = 0xFFFFFFFF

    def fmix32(h: int) -> int:
        h ^= h >> 16
        h = (h * 0x85EBCA6B) & mask
        h ^= h >> 13
        h = (h * 0xC2B2AE35) & mask
        return h ^ (h >> 16)

    gen = np.random.RandomState(1)
    a = [int(x) * 2 + 1 for x in gen.randint(0, 1 << 31, 128, dtype=np.uint32)]
    b = [int(x) for x in gen.randint(0, 1 << 32, 128, dtype=np.uint32)]
    hashes = [
        fmix32(int.from_bytes(hashlib.sha1(s.encode()).digest()[:4], "little")) for s in shingles
    ]
    expected = tuple(min((ai * h + bi) & mask for h in hashes) for ai, bi in zip(a, b, strict=True))
    sketch = fingerprint.sketch(text)
    assert sketch is not None
    assert sketch.signature == expected
    assert len(sketch.bands) == 32

"""A show's title as reviewers bend it: "Fake Hitler" for *Faking Hitler*, "Winds of
Change" for *Wind of Change*, "Sentimental Garbag" for *Sentimental Garbage*, "Doctor
Death" for *Dr. Death*.

Reviewers write a title as they remember it, and memory keeps a word's stem rather
than its ending. Two words are the same word bent when their Snowball stems (English,
the language most of the catalog's titles are in) agree; a name of two or more words is
bent when every word is its title's word or that word bent, one at least is bent, and
one at least is kept as it is and carries meaning. One-word titles are left out: a
single bent word ("Homecomings", "Serials") is too often an everyday word. How surely
such a run is the show's name is weighed as for the exact title, then discounted
(``candidates.VARIANT``).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from functools import lru_cache

import snowballstemmer

from aggregator.linking.text import STOPWORDS

__all__ = ["is_variant", "word_stem"]

# A Snowball stemmer keeps the word it works on as state: one per thread.
_local = threading.local()


def _stem_word(word: str) -> str:
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = _local.stemmer = snowballstemmer.stemmer("english")
    return str(stemmer.stemWord(word))


# Titles' abbreviations, written out as often as not: "Doctor Death" for *Dr. Death*.
_WRITTEN_OUT = {
    "dr": "doctor", "mr": "mister", "mrs": "missus", "st": "saint", "prof": "professor",
    "vs": "versus", "jr": "junior", "sr": "senior",
}  # fmt: skip


# A letter written twice or more is a letter: reviewers double or single letters as they
# hear them ("Uh Yeah Dude" for *Uhh Yeah Dude*, "Hardcore Hisstory").
_DOUBLED = re.compile(r"(.)\1+")


@lru_cache(maxsize=1 << 16)
def word_stem(word: str) -> str:
    """The English Snowball stem of a folded word, abbreviations written out.

    >>> [word_stem(w) for w in ("faking", "fake", "winds", "garbage", "garbag")]
    ['fake', 'fake', 'wind', 'garbag', 'garbag']
    >>> word_stem("dr") == word_stem("doctor")
    True
    >>> word_stem("uh") == word_stem("uhh") == word_stem("uhhh")
    True
    """
    return _DOUBLED.sub(r"\1", _stem_word(_WRITTEN_OUT.get(word, word)))


def is_variant(words: Sequence[str], title: Sequence[str]) -> bool:
    """Whether ``words`` (folded) write the title's words ``title`` with some bent.

    >>> is_variant(["fake", "hitler"], ["faking", "hitler"])
    True
    >>> is_variant(["winds", "of", "change"], ["wind", "of", "change"])
    True
    >>> is_variant(["faking", "hitler"], ["faking", "hitler"])  # the title itself
    False
    >>> is_variant(["fake", "hitlers"], ["faking", "hitler"])  # no word kept
    False
    >>> is_variant(["winds", "of", "chance"], ["wind", "of", "change"])
    False
    >>> is_variant(["doctor", "death"], ["dr", "death"])
    True
    """
    if len(words) != len(title) or len(title) < 2:
        return False
    bent = kept = False
    for word, own in zip(words, title, strict=True):
        if word == own:
            kept = kept or own not in STOPWORDS
        elif own in STOPWORDS or word_stem(word) != word_stem(own):
            return False
        else:
            bent = True
    return bent and kept

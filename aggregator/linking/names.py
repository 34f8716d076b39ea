"""People and other proper names: phonetic keys, extraction, misspelling-tolerant match.

Reviews misspell names ("Challimachi", "Calimacchi", "Callamachi" for Callimachi;
"Syracusa" for Siracusa). A name from the catalog is found in a review when a window
of review tokens aligned on one of its words scores rapidfuzz ``fuzz.ratio`` >= 88
against it (the measurement in issue 3: this accepts those three variants and rejects
"Calamari" and "Carmichael"). Candidate names are looked up first by three keys of
single words (the folded word, its NYSIIS code, and its consonant skeleton), so the
fuzzy comparison only runs on a handful of names even with a large catalog.
"""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz

from aggregator.linking.text import STOPWORDS, Token, fold, tokenize, word_set

__all__ = [
    "NAME_RATIO",
    "NameHit",
    "NameIndex",
    "extract_names",
    "nysiis",
    "skeleton",
    "split_credit",
]

# rapidfuzz ratio a window must reach to count as the name (issue 3's measurement).
NAME_RATIO = 88.0
# A name is also accepted with a lower ratio when every word's NYSIIS code agrees
# ("C.G.P. Gray" for "CGP Grey" scores 87.5 but sounds the same; a lone word must then
# have five letters or more, or "Times" would be "Tim").
_PHONETIC_RATIO = 80.0


@functools.lru_cache(maxsize=65536)
def nysiis(word: str) -> str:
    """The NYSIIS phonetic code of one word (New York State Identification and
    Intelligence System, Taft 1970), not truncated.

    >>> [nysiis(w) for w in ["Callimachi", "Challimachi", "Calimacchi", "Callamachi"]]
    ['CALANAC', 'CALANAC', 'CALANAC', 'CALANAC']
    >>> nysiis("Calamari"), nysiis("Carmichael"), nysiis("Kallimachi")
    ('CALANAR', 'CARNACAL', 'CALANAC')
    """
    name = "".join(ch for ch in fold(word).upper() if "A" <= ch <= "Z")
    if not name:
        return ""
    for old, new in (("MAC", "MCC"), ("KN", "NN"), ("K", "C"), ("PH", "FF"), ("PF", "FF"),
                     ("SCH", "SSS")):  # fmt: skip
        if name.startswith(old):
            name = new + name[len(old) :]
            break
    for old, new in (("EE", "Y"), ("IE", "Y"), ("DT", "D"), ("RT", "D"), ("RD", "D"),
                     ("NT", "D"), ("ND", "D")):  # fmt: skip
        if name.endswith(old):
            name = name[: -len(old)] + new
            break
    key = [name[0]]
    chars = list(name)
    original = list(name)  # the H and W rules look at the letter as written
    vowels = set("AEIOU")
    i = 1
    while i < len(chars):
        ch = chars[i]
        nxt = chars[i + 1] if i + 1 < len(chars) else ""
        if ch == "E" and nxt == "V":
            chars[i : i + 2] = ["A", "F"]
        elif ch in vowels:
            chars[i] = "A"
        elif ch == "Q":
            chars[i] = "G"
        elif ch == "Z":
            chars[i] = "S"
        elif ch == "M":
            chars[i] = "N"
        elif ch == "K":
            chars[i] = "N" if nxt == "N" else "C"
        elif ch == "S" and nxt == "C" and i + 2 < len(chars) and chars[i + 2] == "H":
            chars[i : i + 3] = ["S", "S", "S"]
        elif ch == "P" and nxt == "H":
            chars[i : i + 2] = ["F", "F"]
        elif ch == "H" and (original[i - 1] not in vowels or nxt not in vowels):
            chars[i] = chars[i - 1]
        elif ch == "W" and original[i - 1] in vowels:
            chars[i] = original[i - 1]
        if chars[i] != key[-1]:
            key.append(chars[i])
        i += 1
    code = "".join(key)
    if len(code) > 1 and code.endswith("S"):
        code = code[:-1]
    if code.endswith("AY"):
        code = code[:-2] + "Y"
    if len(code) > 1 and code.endswith("A"):
        code = code[:-1]
    return code


def skeleton(word: str) -> str:
    """Consonant skeleton: vowels and y dropped, doubled letters collapsed.

    >>> skeleton("Syracusa"), skeleton("Siracusa"), skeleton("Gerstmann")
    ('srcs', 'srcs', 'grstmn')
    """
    out: list[str] = []
    for ch in fold(word):
        if ch.isalpha() and ch not in "aeiouy" and (not out or out[-1] != ch):
            out.append(ch)
    return "".join(out)


_CREDIT_SPLIT = re.compile(r"\s*(?:,|&|/|;|\band\b|\s-\s|\s–\s|\+)\s*")


def split_credit(credit: str | None) -> list[str]:
    """Names in an author or owner line.

    >>> split_credit("Federico Viticci, Myke Hurley, and Stephen Hackett")
    ['Federico Viticci', 'Myke Hurley', 'Stephen Hackett']
    >>> split_credit("Metaebene Personal Media - Tim Pritlove")
    ['Metaebene Personal Media', 'Tim Pritlove']
    """
    if not credit:
        return []
    return [part for part in _CREDIT_SPLIT.split(credit) if part and "@" not in part]


# Capitalised words that start or make up phrases which are not people.
_NOT_NAME = word_set(
    """
    the a an and in on at of for to with from by this that these those it its he she they we
    i you my our his her their episode episodes chapter part season show podcast podcasts
    radio news times state states university college school street city county department
    institute museum church mosque party army club company inc ltd corp group network fm
    monday tuesday wednesday thursday friday saturday sunday january february march april
    may june july august september october november december today tonight links notes
    show notes sponsored sponsor support subscribe listen follow twitter facebook instagram
    youtube apple google spotify amazon microsoft netflix iphone ipad mac macos ios windows
    android app apps store book books game games award awards world war north south east
    west new old great big little first second third last next every all part but so if
    when what who how why where not no yes also just plus use code get try free off
    """
)
_PARTICLES = frozenset({"de", "van", "von", "der", "al", "bin", "da", "del", "la", "le", "di"})
# Words that stand before a name without being part of it ("President Lincoln",
# "Starring Jeremy Schwartz", "feat. Daniel Burka").
_HONORIFICS = word_set(
    """
    president senator governor general captain dr mr mrs ms sir dame professor prof judge
    starring host hosted hosts producer producers executive guest guests featuring feat
    with join see by reporter editor correspondent author writer director founder ceo
    """
)


def extract_names(text: str) -> list[str]:
    """Sequences of 2-3 capitalised words that may be people's names.

    >>> extract_names("Michael Barbaro talks with the executive editor, Dean Baquet.")
    ['Michael Barbaro', 'Dean Baquet']
    >>> extract_names("The Islamic State and The New York Times met in Mosul.")
    []
    >>> extract_names("Our guest is Daniel J. Lewis of The Audacity to Podcast")
    ['Daniel J Lewis']
    >>> extract_names("Starring Jeremy Schwartz. Sarah Koenig. Serial unfolds")
    ['Jeremy Schwartz', 'Sarah Koenig']
    """
    tokens = tokenize(text)
    names: list[str] = []
    run: list[Token] = []

    def flush() -> None:
        words = list(run)
        while words and words[0].norm in _HONORIFICS:
            words.pop(0)
        while words and (words[-1].norm in _PARTICLES):
            words.pop()
        if 2 <= len(words) <= 3 and not any(w.norm in _NOT_NAME for w in words):
            names.append(" ".join(text[w.start : w.end].rstrip(".") for w in words))
        run.clear()

    for token in tokens:
        raw = text[token.start : token.end]
        gap = text[run[-1].end : token.start] if run else " "
        initial = bool(run) and run[-1].end - run[-1].start == 1
        joined = gap in (" ", "-", "'", "’") or (gap == ". " and initial)
        is_word = raw[:1].isupper() and raw.replace(".", "").isalpha()
        if (is_word or (run and token.norm in _PARTICLES)) and joined and len(run) < 4:
            if not run and token.norm in _NOT_NAME:
                continue
            run.append(token)
        else:
            flush()
            if is_word and token.norm not in _NOT_NAME:
                run.append(token)
    flush()
    return names


@dataclass(frozen=True, slots=True)
class NameHit:
    """A catalog name found in a review."""

    name_id: int
    start: int
    end: int
    ratio: float
    full: bool  # the whole name matched (not just one of its words)


@dataclass(slots=True)
class _Name:
    display: str
    words: tuple[str, ...]
    joined: str
    owners: int = 0


class NameIndex:
    """Names to find in reviews, looked up by word keys then checked with fuzz.ratio."""

    def __init__(self) -> None:
        self._names: dict[int, _Name] = {}
        self._by_text: dict[str, int] = {}
        # key -> ids of the names with a word of that key (lists: far smaller than sets)
        self._keys: dict[str, list[int]] = {}
        self._next = 0

    def __len__(self) -> int:
        return len(self._names)

    def word_count(self, word: str) -> int:
        """How many names have ``word`` as one of their words."""
        return len(self._keys.get("w:" + word, ()))

    def display(self, name_id: int) -> str:
        return self._names[name_id].display

    def words(self, name_id: int) -> tuple[str, ...]:
        return self._names[name_id].words

    def acquire(self, display: str) -> int | None:
        """Register one more owner of a name; its id, or None if it has no usable word."""
        words = tuple(sys.intern(t.norm) for t in tokenize(display))
        joined = " ".join(words)
        if not words or not any(_is_anchor(w) for w in words):
            return None
        name_id = self._by_text.get(joined)
        if name_id is None:
            name_id = self._next
            self._next += 1
            self._names[name_id] = _Name(display, words, joined)
            self._by_text[joined] = name_id
            for word in words:
                if _is_anchor(word):
                    for key in _keys(word):
                        bucket = self._keys.setdefault(key, [])
                        if not bucket or bucket[-1] != name_id:
                            bucket.append(name_id)
        self._names[name_id].owners += 1
        return name_id

    def release(self, name_id: int) -> None:
        """Drop one owner of a name; the name goes when it has none left."""
        entry = self._names.get(name_id)
        if entry is None:
            return
        entry.owners -= 1
        if entry.owners > 0:
            return
        del self._names[name_id]
        del self._by_text[entry.joined]
        for word in entry.words:
            if _is_anchor(word):
                for key in _keys(word):
                    bucket = self._keys.get(key)
                    if bucket is not None:
                        bucket[:] = [n for n in bucket if n != name_id]
                        if not bucket:
                            del self._keys[key]

    def match(
        self,
        text: str,
        tokens: Sequence[Token],
        cased: Sequence[bool],
        common: Callable[[str], bool] | None = None,
    ) -> list[NameHit]:
        """Every catalog name found in the tokens, best window per name and position.

        ``cased[i]``: token i stands in a text written with capitals, where a name
        must be capitalised to count. ``common(word)``: an everyday word, looked up
        as itself only (not by sound or skeleton): "Media" is no misspelled name.
        """
        hits: dict[tuple[int, int], NameHit] = {}
        for i, token in enumerate(tokens):
            if not _is_anchor(token.norm) or (cased[i] and not token.cap):
                continue
            candidates: set[int] = set()
            if common is not None and common(token.norm):
                candidates.update(self._keys.get("w:" + token.norm, ()))
            else:
                for key in _keys(token.norm):
                    candidates.update(self._keys.get(key, ()))
            for name_id in candidates:
                hit = self._check(name_id, tokens, i, cased[i])
                if hit is not None:
                    slot = (name_id, hit.start)
                    if slot not in hits or hits[slot].ratio < hit.ratio:
                        hits[slot] = hit
        return sorted(hits.values(), key=lambda h: (h.start, -h.ratio))

    def _check(
        self, name_id: int, tokens: Sequence[Token], i: int, case_informative: bool
    ) -> NameHit | None:
        entry = self._names[name_id]
        word = tokens[i].norm
        best: NameHit | None = None
        for p, name_word in enumerate(entry.words):
            if not _is_anchor(name_word):
                continue
            lo, hi = i - p, i - p + len(entry.words)
            if lo >= 0 and hi <= len(tokens) and len(entry.words) > 1:
                window = tokens[lo:hi]
                if not case_informative or all(
                    t.cap or t.norm in _PARTICLES or t.norm in STOPWORDS for t in window
                ):
                    ratio = fuzz.ratio(" ".join(t.norm for t in window), entry.joined)
                    sounds = NAME_RATIO > ratio >= _PHONETIC_RATIO and all(
                        nysiis(t.norm) == nysiis(w)
                        for t, w in zip(window, entry.words, strict=True)
                    )
                    if (ratio >= NAME_RATIO or sounds) and (best is None or ratio > best.ratio):
                        best = NameHit(name_id, window[0].start, window[-1].end, ratio, True)
            if best is not None:
                continue
            ratio = fuzz.ratio(word, name_word)
            phonetic = (
                NAME_RATIO > ratio >= _PHONETIC_RATIO
                and min(len(word), len(name_word)) >= 5
                and nysiis(word) == nysiis(name_word)
            )
            if (ratio >= NAME_RATIO or phonetic) and len(word) >= 3:
                full = len(entry.words) == 1
                if best is None or ratio > best.ratio:
                    best = NameHit(name_id, tokens[i].start, tokens[i].end, ratio, full)
        return best


def _is_anchor(word: str) -> bool:
    """Words long enough and rare enough to look a name up by."""
    return len(word) >= 3 and word.isalpha() and word not in STOPWORDS


def _keys(word: str) -> Iterable[str]:
    yield "w:" + word
    code = nysiis(word)
    if len(code) >= 3:
        yield "n:" + code
    bones = skeleton(word)
    if len(bones) >= 3:
        yield "s:" + bones

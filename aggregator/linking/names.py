"""People and other proper names: phonetic keys, extraction, misspelling-tolerant match.

Reviews misspell names ("Challimachi", "Calimacchi", "Callamachi" for Callimachi;
"Syracusa" for Siracusa). A name from the catalog is found in a review when a window
of review tokens aligned on one of its words scores rapidfuzz ``fuzz.ratio`` >= 88
against it (measured on misspellings of real names: this accepts those three variants
and rejects "Calamari" and "Carmichael"). Candidate names are looked up first by three keys of
single words (the folded word, its NYSIIS code, and its consonant skeleton), so the
fuzzy comparison only runs on a handful of names even with a large catalog.

Why one module of over 500 lines: extracting names, keying them and matching them
fuzzily are one index (``NameIndex``) whose keys must be made the same way at build
time and at match time.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from itertools import chain, compress

from rapidfuzz import fuzz, process

from aggregator.linking.phonetic import nysiis, skeleton
from aggregator.linking.text import STOPWORDS, Token, tokenize, word_set

__all__ = [
    "NAME_RATIO",
    "NameHit",
    "NameIndex",
    "extract_names",
    "nysiis",
    "skeleton",
    "split_credit",
]

# rapidfuzz ratio a window must reach to count as the name (measured: see above).
NAME_RATIO = 88.0
# A name is also accepted with a lower ratio when every word's NYSIIS code agrees
# ("C.G.P. Gray" for "CGP Grey" scores 87.5 but sounds the same; a lone word must then
# have five letters or more, or "Times" would be "Tim").
_PHONETIC_RATIO = 80.0


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
    anchors: tuple[int, ...]  # positions of the words it is looked up by (_is_anchor)
    owners: int = 0


# A review word whose keys pull at least this many names is checked in bulk (_Fan): in
# a catalog of 100k episodes a first name ("John") or a common word pulls thousands of
# guests' names, and checking them one by one was most of the linker's time. Even a
# handful is checked faster in bulk (and the fan, kept per word, serves the word's
# other uses): 4 rather than 32 halved name matching at 10k episodes (same hits).
_BULK = 4
# Fans kept (they are per review word); all are dropped when there are more.
_FANS = 8192


@dataclass(slots=True)
class _Fan:
    """The names one review word pulls out of the index, prepared for bulk checks."""

    members: frozenset[int]
    solo: frozenset[int]  # one-word names: a lone word is the whole name
    # Names of two words or more by length: (length, the positions some name of that
    # length is looked up by, name ids, their joined words).
    groups: list[tuple[int, tuple[int, ...], list[int], list[str]]]
    singles: dict[int, tuple[float, bool] | None]  # memo of _single for this word
    before: int = 0  # the most words a window of its groups reaches before the word
    after: int = 0  # ... and from the word on


_ANCHORS: dict[tuple[int, ...], tuple[int, ...]] = {}


class NameIndex:
    """Names to find in reviews, looked up by word keys then checked with fuzz.ratio."""

    def __init__(self) -> None:
        self._names: dict[int, _Name] = {}
        self._by_text: dict[str, int] = {}
        # key -> ids of the names with a word of that key (lists: far smaller than sets)
        self._keys: dict[str, list[int]] = {}
        self._next = 0
        # By name id, side by side (a fan reads them for hundreds of names at a time,
        # far faster from three flat lists than from the scattered _Name objects):
        # its number of words, the positions it is looked up by, its joined words.
        self._lengths: list[int] = []
        self._anchors: list[tuple[int, ...]] = []
        self._joined: list[str] = []
        self._fans: dict[tuple[str, bool], _Fan] = {}
        self._fans_by_key: dict[str, set[tuple[str, bool]]] = {}

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
        found = tuple(p for p, w in enumerate(words) if _is_anchor(w))
        anchors = _ANCHORS.setdefault(found, found)  # a few shapes shared by 200k names
        if not anchors:
            return None
        joined = " ".join(words)
        name_id = self._by_text.get(joined)
        if name_id is None:
            name_id = self._next
            self._next += 1
            self._names[name_id] = _Name(display, words, joined, anchors)
            self._by_text[joined] = name_id
            self._lengths.append(len(words))
            self._anchors.append(anchors)
            self._joined.append(joined)
            for p in anchors:
                for key in _keys(words[p]):
                    self._forget_fans(key)
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
        self._joined[name_id] = ""  # ids are not reused
        for p in entry.anchors:
            for key in _keys(entry.words[p]):
                self._forget_fans(key)
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
        partial: AbstractSet[int] | None = None,
    ) -> list[NameHit]:
        """Every catalog name found in the tokens, best window per name and position.

        ``cased[i]``: token i stands in a text written with capitals, where a name
        must be capitalised to count. ``common(word)``: an everyday word, looked up
        as itself only (not by sound or skeleton): "Media" is no misspelled name.
        ``partial``: the names whose single-word hits (one word of a longer name) the
        caller wants; None: every name's. The result is the same as with None, less
        the single-word hits of the other names: such a hit still holds its place
        against a weaker whole-name hit at the same position, as it did.
        """
        hits: dict[tuple[int, int], NameHit] = {}

        def keep(hit: NameHit | None) -> None:
            if hit is not None:
                slot = (hit.name_id, hit.start)
                if slot not in hits or hits[slot].ratio < hit.ratio:
                    hits[slot] = hit

        # Bulk-checked positions: start -> (the word's fan, the names checked one by one).
        deferred: dict[int, tuple[Token, _Fan, set[int]]] = {}
        near: dict[tuple[object, ...], set[int]] = {}  # _near by word and its context
        # What a word finds at a position depends on the words around it and their
        # capitals only (a name used again in the same words finds the same): the hits,
        # as (name id, window start and end relative to the position, ratio, whole),
        # by the word, its context and its case.
        found_here: dict[tuple[object, ...], list[tuple[int, int, int, float, bool]]] = {}
        review = _Review(tokens)
        norms, plain = review.norms, review.plain
        # Per review word: how it is looked up, the names it pulls, (for a fan) those
        # whose lone-word hit is wanted, and how far its names' windows reach before
        # the word and from it on.
        pulled: dict[str, tuple[bool, set[int] | _Fan, AbstractSet[int], int, int]] = {}
        for i, token in enumerate(tokens):
            word = norms[i]
            if (cased[i] and not token.cap) or not _is_anchor(word):
                continue
            seen = pulled.get(word)
            if seen is None:
                seen = pulled[word] = self._pull(word, common, partial)
            found_as, found, lone, before, after = seen
            if not found:
                continue
            lo = max(0, i - before)
            context = (word, found_as, i - lo, *norms[lo : i + after])
            key = (context, cased[i], *plain[lo : i + after])
            relative = found_here.get(key)
            checked: set[int] = set()
            if isinstance(found, _Fan):
                # Names that some window here comes near (in C); only those can give
                # more than the lone-word hit, which depends on the word alone (_single).
                checked = near.get(context) or set()
                if context not in near:
                    checked = near[context] = self._near(found, review, i)
                if partial is not None:
                    deferred[token.start] = (token, found, checked)
            if relative is None:
                relative = found_here[key] = []
                for name_id in checked if isinstance(found, _Fan) else found:
                    hit = self._check(name_id, review, i, cased[i])
                    if hit is not None:
                        relative.append((name_id, hit[0] - i, hit[1] - i, hit[2], hit[3]))
                if isinstance(found, _Fan):
                    for name_id in sorted(lone - checked):
                        single = self._single(found, name_id, word)
                        if single is not None:
                            relative.append((name_id, 0, 1, *single))
            for name_id, first, last, ratio, full in relative:
                start, end = tokens[i + first].start, tokens[i + last - 1].end
                keep(NameHit(name_id, start, end, ratio, full))
        if partial is not None:
            self._settle(hits, deferred, partial)
        # Ties: the longer name first, then the older one (not the order found in).
        return sorted(hits.values(), key=lambda h: (h.start, -h.ratio, -h.end, h.name_id))

    def _pull(
        self,
        word: str,
        common: Callable[[str], bool] | None,
        partial: AbstractSet[int] | None,
    ) -> tuple[bool, set[int] | _Fan, AbstractSet[int], int, int]:
        """What ``match`` keeps per review word (see there)."""
        found_as = common is not None and common(word)
        found = self._candidates(word, found_as)
        if isinstance(found, _Fan):
            lone = found.members if partial is None else (found.members & partial) | found.solo
            return found_as, found, lone, found.before, found.after
        before = max((max(self._anchors[n]) for n in found), default=0)
        after = max((self._lengths[n] - min(self._anchors[n]) for n in found), default=1)
        return found_as, found, frozenset(), before, after

    def _candidates(self, word: str, only_word: bool) -> set[int] | _Fan:
        """The names a review word pulls out by its keys: a set, or a fan if many."""
        fan = self._fans.get((word, only_word))
        if fan is not None:
            return fan
        keys = ["w:" + word] if only_word else list(_keys(word))
        members: set[int] = set()
        for key in keys:
            members.update(self._keys.get(key, ()))
        if len(members) < _BULK:
            return members
        # Grouped by length in C (map, compress): a fan has hundreds or thousands of
        # names, and a Python loop over them was most of the cost of a new word.
        ids = sorted(members)
        lengths = list(map(self._lengths.__getitem__, ids))
        groups: list[tuple[int, tuple[int, ...], list[int], list[str]]] = []
        solo: frozenset[int] = frozenset()
        before = after = 0
        distinct = sorted(set(lengths))
        for length in distinct:
            chosen = ids
            if len(distinct) > 1:
                chosen = list(compress(ids, map(length.__eq__, lengths)))
            if length == 1:
                solo = frozenset(chosen)
                continue
            shapes = set(map(self._anchors.__getitem__, chosen))
            positions = tuple(sorted(set(chain.from_iterable(shapes))))
            joined = list(map(self._joined.__getitem__, chosen))
            groups.append((length, positions, chosen, joined))
            before = max(before, positions[-1])
            after = max(after, length - positions[0])
        fan = _Fan(frozenset(members), solo, groups, {}, before, after)
        if len(self._fans) >= _FANS:
            self._fans.clear()
            self._fans_by_key.clear()
        self._fans[(word, only_word)] = fan
        for key in keys:
            self._fans_by_key.setdefault(key, set()).add((word, only_word))
        return fan

    def _forget_fans(self, key: str) -> None:
        for cached in self._fans_by_key.pop(key, ()):
            self._fans.pop(cached, None)

    def _near(self, fan: _Fan, review: _Review, i: int) -> set[int]:
        """The fan's names that a window aligned on token i brings to within reach of
        acceptance (a superset of those ``_check`` accepts as whole names there): for
        each position p a name is looked up by, the window of its length that has
        token i at p."""
        near: set[int] = set()
        norms = review.norms
        anchors = self._anchors
        for length, positions, ids, joined in fan.groups:
            for p in positions:
                lo = i - p
                if lo < 0 or lo + length > len(norms):
                    continue
                window = " ".join(norms[lo : lo + length])
                # One point of slack: the bulk scorer's float may differ in the last digit.
                matches = process.extract(
                    window, joined, scorer=fuzz.ratio, score_cutoff=_PHONETIC_RATIO - 1, limit=None
                )
                # Only names looked up by their word at p (as _check aligns them).
                near.update(ids[k] for _, _, k in matches if p in anchors[ids[k]])
        return near

    def _single(self, fan: _Fan, name_id: int, word: str) -> tuple[float, bool] | None:
        """What ``_check`` gives when no window passes: the first of the name's words
        that the lone review word passes for, as (ratio, full)."""
        if name_id in fan.singles:
            return fan.singles[name_id]
        entry = self._names[name_id]
        found: tuple[float, bool] | None = None
        for p in entry.anchors:
            ratio = _word_ratio(word, entry.words[p])
            if ratio is not None:
                found = (ratio, len(entry.words) == 1)
                break
        fan.singles[name_id] = found
        return found

    def _settle(
        self,
        hits: dict[tuple[int, int], NameHit],
        deferred: dict[int, tuple[Token, _Fan, set[int]]],
        partial: AbstractSet[int],
    ) -> None:
        """Drop the single-word hits of names outside ``partial``, and the whole-name
        hits that such a hit, found first at the same position, would have kept out."""
        for slot, hit in list(hits.items()):
            name_id, start = slot
            if name_id in partial:
                continue
            if not hit.full:
                del hits[slot]
                continue
            held = deferred.get(start)
            if held is None or len(self._names[name_id].words) == 1:
                continue
            token, fan, checked = held
            if name_id in fan.members and name_id not in checked:
                single = self._single(fan, name_id, token.norm)
                if single is not None and single[0] >= hit.ratio:
                    del hits[slot]

    def _check(
        self, name_id: int, review: _Review, i: int, case_informative: bool
    ) -> tuple[int, int, float, bool] | None:
        """The best window of the name aligned on token i, else the lone word's hit:
        (first token, end token, ratio, whether the whole name)."""
        entry = self._names[name_id]
        words = entry.words
        n = len(words)
        norms = review.norms
        best: tuple[int, int, float, bool] | None = None
        for p in entry.anchors:
            lo, hi = i - p, i - p + n
            if (
                lo >= 0
                and hi <= len(norms)
                and n > 1
                and (not case_informative or all(review.plain[lo:hi]))
            ):
                window = norms[lo:hi]
                ratio = fuzz.ratio(" ".join(window), entry.joined)
                sounds = NAME_RATIO > ratio >= _PHONETIC_RATIO and all(
                    nysiis(t) == nysiis(w) for t, w in zip(window, words, strict=True)
                )
                if (ratio >= NAME_RATIO or sounds) and (best is None or ratio > best[2]):
                    best = (lo, hi, ratio, True)
            if best is not None:
                continue
            single = _word_ratio(norms[i], words[p])
            if single is not None:
                best = (i, i + 1, single, n == 1)
        return best


class _Review:
    """A review's tokens as name matching reads them, made once per ``match``."""

    __slots__ = ("norms", "plain", "tokens")

    def __init__(self, tokens: Sequence[Token]) -> None:
        self.tokens = tokens
        self.norms = [t.norm for t in tokens]
        # Words a name may hold in a text written with capitals: capitalised ones,
        # particles ("van", "de") and stopwords.
        self.plain = [t.cap or t.norm in _PARTICLES or t.norm in STOPWORDS for t in tokens]


def _word_ratio(word: str, name_word: str) -> float | None:
    """The ratio of a lone review word that passes for one word of a name, else None."""
    ratio = fuzz.ratio(word, name_word)
    phonetic = (
        NAME_RATIO > ratio >= _PHONETIC_RATIO
        and min(len(word), len(name_word)) >= 5
        and nysiis(word) == nysiis(name_word)
    )
    return ratio if (ratio >= NAME_RATIO or phonetic) and len(word) >= 3 else None


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

"""Number and ordinal phrases, in words and digits, as reviews and titles write them.

A review points at an episode with "episode 4", "ep. 212", "#212", "Chapter Six",
"part two", "the third episode", "S2E3", "C2E100" or "the six hundred and third
numbered show"; it counts a series with "a ten-episode series" or "eight episodes".
Episode titles carry numbers the same ways ("Chapter Six: Paper Trail", "268: A
Tarnished Brass Age", "Sic Semper Tyrannis | 1", "CRE206 Das Ohr"). This module
finds both, on the tokens of ``text.tokenize`` so that spans stay exact.

Why one module of about 500 lines: the number words of four languages, the
nouns that take a number and the grammar of references are one small parser; the
review's references and the titles' numbers must read alike, so they live together.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from aggregator.linking.text import Token, tokenize

__all__ = [
    "EPISODE_NOUNS",
    "NUMBER_WORDS",
    "CountRef",
    "NumberRef",
    "find_counts",
    "find_number_refs",
    "parse_number",
    "roman",
    "title_numbers",
]

_UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19,
}  # fmt: skip
_TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90,
}  # fmt: skip
_ORDINAL_UNITS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13,
    "fourteenth": 14, "fifteenth": 15, "sixteenth": 16, "seventeenth": 17,
    "eighteenth": 18, "nineteenth": 19,
}  # fmt: skip
# German and French ordinals as reviews write them before a noun ("die dritte Folge",
# "der zweiten Staffel", "le troisième épisode"), folded as tokens are. "Première" is
# left out: it is also the premiere (timeref.py).
_GERMAN_ORDINAL_STEMS = {
    "erst": 1, "zweit": 2, "dritt": 3, "viert": 4, "funft": 5, "sechst": 6, "siebt": 7,
    "acht": 8, "neunt": 9, "zehnt": 10,
}  # fmt: skip
_FRENCH_ORDINALS = {
    "deuxieme": 2, "troisieme": 3, "quatrieme": 4, "cinquieme": 5, "sixieme": 6,
    "septieme": 7, "huitieme": 8, "neuvieme": 9, "dixieme": 10,
}  # fmt: skip
_ORDINAL_UNITS.update(
    (stem + ending, value)
    for stem, value in _GERMAN_ORDINAL_STEMS.items()
    for ending in ("e", "en", "er", "es", "em")
)
_ORDINAL_UNITS.update(_FRENCH_ORDINALS)
# Cardinals of the other languages reviews come in, read only right after a noun that
# numbers episodes ("Folge eins", "Teil vier", "Staffel zwei", "aflevering twee",
# "épisode deux"): alone they are too often other words ("elf", "acht", "vier").
_FOREIGN_CARDINALS = {
    "null": 0, "eins": 1, "zwei": 2, "drei": 3, "vier": 4, "funf": 5, "sechs": 6,
    "sieben": 7, "acht": 8, "neun": 9, "zehn": 10, "elf": 11, "zwolf": 12,
    "een": 1, "twee": 2, "drie": 3, "vijf": 5, "zes": 6, "zeven": 7, "negen": 9,
    "tien": 10, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "sept": 7, "huit": 8,
    "neuf": 9, "dix": 10,
}  # fmt: skip
_ORDINAL_TENS = {
    "twentieth": 20, "thirtieth": 30, "fortieth": 40, "fiftieth": 50, "sixtieth": 60,
    "seventieth": 70, "eightieth": 80, "ninetieth": 90,
}  # fmt: skip
# Words a number in words can start with.
_FIRST_WORDS = frozenset([*_UNITS, *_ORDINAL_UNITS, *_TENS, *_ORDINAL_TENS])
NUMBER_WORDS = frozenset(
    [*_UNITS, *_TENS, *_ORDINAL_UNITS, *_ORDINAL_TENS, "hundred", "hundredth", "thousand"]
)
_DIGIT_ORDINAL = re.compile(r"^(\d+)(?:st|nd|rd|th)$")
_SEASON_EPISODE = re.compile(r"^[sc](\d{1,2})e(\d{1,4})$")
# "C2 Episode 68", "S3 Ep. 4": a season (or campaign) code, then the episode's number.
_SEASON_CODE = re.compile(r"^[sc](\d{1,2})$")
_PREFIXED = re.compile(r"^([a-z]{2,})(\d{1,5})$")
_ROMAN = re.compile(r"^(x{0,3})(ix|iv|v?i{0,3})$")
_ROMAN_VALUES = {"i": 1, "v": 5, "x": 10}

# Nouns that count episodes in general, and nouns with a meaning of their own that a
# title may share ("Chapter Six", "Part 3", "Day Four", "Case #3": a feed that numbers
# its cases; as a noun of its own it matches only titles that say "Case").
_GENERIC = {
    "episode": "episode", "episodes": "episode", "ep": "episode", "eps": "episode",
    "epi": "episode", "show": "episode", "installment": "episode", "instalment": "episode",
    "number": "episode", "no": "episode", "nr": "episode", "folge": "episode",
    "one": "episode", "week": "week", "entry": "episode", "episoden": "episode",
    "folgen": "episode", "aflevering": "episode", "afleveringen": "episode",
    "afl": "episode", "episodio": "episode", "episodios": "episode", "episodi": "episode",
    "puntata": "episode", "avsnitt": "episode",
}  # fmt: skip
_SPECIFIC = {
    "chapter": "chapter", "chapters": "chapter", "ch": "chapter", "part": "part",
    "parts": "part", "pt": "part", "class": "class", "day": "day", "hour": "hour",
    "lesson": "class", "session": "episode", "volume": "part", "vol": "part",
    "half": "part", "season": "season", "campaign": "season", "series": "season",
    "teil": "part", "kapitel": "chapter", "staffel": "season", "chapitre": "chapter",
    "partie": "part", "saison": "season", "capitulo": "chapter", "capitolo": "chapter",
    "kapittel": "chapter", "temporada": "season", "seizoen": "season",
    "case": "case", "cases": "case",
}  # fmt: skip
_NOUNS = {**_GENERIC, **_SPECIFIC}
# Every noun that numbers an episode, in the languages above.
EPISODE_NOUNS = frozenset(_NOUNS)
# Nouns after which a Roman numeral is a number ("Part IV") and not the pronoun "I".
_ROMAN_NOUNS = frozenset({"chapter", "part", "season", "volume", "vol"})
_PLURAL_COUNT_NOUNS = {
    "episodes": "episode", "chapters": "chapter", "parts": "part", "installments": "episode",
    "instalments": "episode", "shows": "episode",
}  # fmt: skip
# A "#118" after these words numbers a newsletter issue, not an episode.
_NOT_EPISODE_BEFORE_HASH = frozenset({"issue", "issues", "vol", "volume", "no", "letter", "rank"})
# "No. 1", "number one", "#1" as a rank: "climbed to No. 1", "sitting at number one",
# "number three on Podbay", "the #1 podcast". Charts are what texts about podcasts
# rank, far more often than they number an episode so.
_RANKING_BEFORE = frozenset({
    "hit", "hits", "reached", "reach", "reaches", "climbed", "climbs", "topped", "tops",
    "ranked", "ranks", "enemy", "platz",
})  # fmt: skip
# "to" and "at" only after a word of moving or staying there: "climbed all the way to
# No. 1", "sitting at number one" (not "listen to #213").
_RANKING_PLACE = frozenset({"to", "at", "auf"})
_RANKING_MOVE = frozenset({
    "climbed", "climbing", "went", "way", "straight", "rose", "shot", "jumped", "sitting",
    "sits", "sat", "landed", "peaked", "debuted", "stayed", "remained", "currently",
})  # fmt: skip
# Right after the number: a place ("No. 1 podcast", "#7 spot"), or "on" / "in" before
# a chart ("No. 1 on iTunes", "number one in America"; not "#62 on productivity").
_RANKING_AFTER = frozenset({
    "podcast", "podcasts", "spot", "position", "place", "slot", "bestseller",
    "nonfiction", "chart", "charts", "ranking", "here",
})  # fmt: skip
_RANKING_ON = frozenset({"on", "in", "auf", "im", "bei"})
_CHARTS = frozenset({
    "itunes", "apple", "spotify", "podbay", "stitcher", "chart", "charts", "podcasts",
    "bestseller", "bestsellers", "list", "lists", "ranking", "rankings", "top",
    "america", "britain", "uk", "us", "usa", "australia", "canada", "germany",
    "deutschland", "country", "world",
})  # fmt: skip
_RANK_NOUNS = frozenset({"no", "nr", "number"})
# "the last two episodes" is a reference, not the size of a series.
_NOT_COUNT = frozenset({"last", "next", "final", "previous", "past"})
# Adjectives allowed between an ordinal and its noun: "the first proper episode".
_BETWEEN = frozenset({"proper", "full", "numbered", "regular", "new", "official", "real", "main"})


@dataclass(frozen=True, slots=True)
class NumberRef:
    """A reference to an episode by number: "episode 4", "the fifth chapter", "S2E3"."""

    noun: str  # "episode" (generic) or a noun of its own: "chapter", "part", "day", ...
    value: int
    ordinal: bool  # "the fifth chapter" (True) vs "chapter 5" (False)
    season: int | None
    start: int
    end: int
    together: int = 1  # how many episodes the phrase names at once ("the first five": 5)


@dataclass(frozen=True, slots=True)
class CountRef:
    """A count of a series' episodes: "a ten-episode series", "eight episodes"."""

    noun: str
    value: int
    start: int
    end: int


def roman(word: str) -> int | None:
    """Value of a small Roman numeral (up to 39), else None.

    >>> roman("iv"), roman("XII"), roman("ivy"), roman("")
    (4, 12, None, None)
    """
    lowered = word.lower()
    if not lowered or not _ROMAN.match(lowered):
        return None
    total = 0
    for i, ch in enumerate(lowered):
        value = _ROMAN_VALUES[ch]
        following = _ROMAN_VALUES[lowered[i + 1]] if i + 1 < len(lowered) else 0
        total += -value if value < following else value
    return total


def parse_number(tokens: Sequence[Token], i: int) -> tuple[int, bool, int] | None:
    """Read a number at ``tokens[i]``: (value, is_ordinal, index after it), else None.

    >>> def p(s):
    ...     r = parse_number(tokenize(s), 0)
    ...     return r and r[:2]
    >>> p("212"), p("100th"), p("six hundred and third show"), p("twenty-five")
    ((212, False), (100, True), (603, True), (25, False))
    >>> p("hundredth"), p("Chapter"), p("2,500"), p("one hundred")
    ((100, True), None, (2500, False), (100, False))
    >>> p("Ten: One Year Later"), p("twenty first"), p("one hundred and twelve")
    ((10, False), (21, True), (112, False))
    """
    if i >= len(tokens):
        return None
    word = tokens[i].norm
    if word.isdigit():
        return int(word), False, i + 1
    match = _DIGIT_ORDINAL.match(word)
    if match:
        return int(match.group(1)), True, i + 1
    if word in ("hundredth", "thousandth"):
        return (100 if word == "hundredth" else 1000), True, i + 1
    if word not in _FIRST_WORDS:
        return None  # most words: the loop below would stop at once
    total = current = 0
    j = i
    seen = False
    while j < len(tokens):
        w = tokens[j].norm
        if w in _UNITS or w in _ORDINAL_UNITS:
            rest = current % 100
            if seen and not (rest == 0 or (rest >= 20 and rest % 10 == 0)):
                break  # "Ten: One" is two numbers, "twenty-one" is one
            current += _UNITS.get(w, 0) + _ORDINAL_UNITS.get(w, 0)
            if w in _ORDINAL_UNITS:
                return total + current, True, j + 1
        elif w in _TENS or w in _ORDINAL_TENS:
            if seen and current % 100:
                break
            current += _TENS.get(w, 0) + _ORDINAL_TENS.get(w, 0)
            if w in _ORDINAL_TENS:
                return total + current, True, j + 1
        elif w in ("hundred", "hundredth") and seen:
            current = max(current, 1) * 100
            if w == "hundredth":
                return total + current, True, j + 1
        elif w == "thousand" and seen:
            total += max(current, 1) * 1000
            current = 0
        elif w == "and" and seen and current >= 100 and j + 1 < len(tokens):
            nxt = tokens[j + 1].norm
            if not (nxt in _UNITS or nxt in _TENS or nxt in _ORDINAL_UNITS or nxt in _ORDINAL_TENS):
                break
        else:
            break
        seen = True
        j += 1
    if not seen:
        return None
    return total + current, False, j


def _number_after_noun(tokens: Sequence[Token], i: int, noun: str) -> tuple[int, int] | None:
    """A cardinal right after a noun: "episode 4", "Chapter Six", "Part IV"."""
    parsed = parse_number(tokens, i)
    if parsed is not None and not parsed[1]:
        return parsed[0], parsed[2]
    if i < len(tokens) and tokens[i].norm in _FOREIGN_CARDINALS:
        return _FOREIGN_CARDINALS[tokens[i].norm], i + 1
    if i < len(tokens) and noun in _ROMAN_NOUNS:
        value = roman(tokens[i].norm)
        if value:
            return value, i + 1
    return None


def _rank(text: str, tokens: Sequence[Token], noun: int, end: int) -> bool:
    """Whether the number ending before ``tokens[end]`` (its noun or "#" at ``noun``)
    is a rank: a word of reaching a place before it, or a chart or place right after
    it, with nothing but a space between ("No. 1 on iTunes"; not "number 182, on")."""
    before = tokens[noun - 1].norm if noun > 0 else ""
    if before in _RANKING_BEFORE:
        return True
    if before in _RANKING_PLACE and any(
        t.norm in _RANKING_MOVE for t in tokens[max(0, noun - 4) : noun - 1]
    ):
        return True
    if end >= len(tokens) or text[tokens[end - 1].end : tokens[end].start].strip():
        return False
    after = tokens[end].norm
    if after in _RANKING_AFTER:
        return True
    return after in _RANKING_ON and any(t.norm in _CHARTS for t in tokens[end + 1 : end + 4])


def find_number_refs(text: str, tokens: Sequence[Token] | None = None) -> list[NumberRef]:
    """All references to an episode by number or ordinal in ``text``.

    >>> def refs(s):
    ...     return [(r.noun, r.value, r.ordinal, r.season) for r in find_number_refs(s)]
    >>> refs("ep 8 with the briefcase; the episode '129 Cars'")
    [('episode', 8, False, None)]
    >>> refs("the sixth installment and Chapter Six")
    [('episode', 6, True, None), ('chapter', 6, False, None)]
    >>> refs("SE Radio #241, and S2E3, and C2E100")
    [('episode', 241, False, None), ('episode', 3, False, 2), ('episode', 100, False, 2)]
    >>> refs("C2 Episode 68, s3 ep. 4")
    [('episode', 68, False, 2), ('episode', 4, False, 3)]
    >>> refs("issue #118: the first proper episode, Part IV")
    [('episode', 1, True, None), ('part', 4, False, None)]
    >>> refs("the six hundred and third numbered show")
    [('episode', 603, True, None)]
    >>> refs("The first two episodes of season 3")
    [('episode', 1, True, None), ('episode', 2, True, None), ('season', 3, False, None)]
    >>> refs("die dritte Folge, Teil 2, le cinquième épisode")
    [('episode', 3, True, None), ('part', 2, False, None), ('episode', 5, True, None)]
    >>> [(r.noun, r.value, r.together) for r in find_number_refs("die Folgen 2, 3 und 4")]
    [('episode', 2, 3), ('episode', 3, 3), ('episode', 4, 3)]
    >>> [(r.noun, r.value) for r in find_number_refs("parts 6-8; episode 9 and 10 minutes")]
    [('part', 6), ('part', 7), ('part', 8), ('episode', 9)]
    """
    if tokens is None:
        tokens = tokenize(text)
    refs: list[NumberRef] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        word = token.norm
        match = _SEASON_EPISODE.match(word)
        if match:
            refs.append(
                NumberRef(
                    "episode",
                    int(match.group(2)),
                    False,
                    int(match.group(1)),
                    token.start,
                    token.end,
                )
            )
            i += 1
            continue
        code = _SEASON_CODE.match(word)
        if code and i + 2 < len(tokens) and _NOUNS.get(tokens[i + 1].norm) == "episode":
            after = _number_after_noun(tokens, i + 2, tokens[i + 1].norm)
            if after is not None:
                value, end = after
                season = int(code.group(1))
                refs.append(
                    NumberRef("episode", value, False, season, token.start, tokens[end - 1].end)
                )
                i = end
                continue
        noun = _NOUNS.get(word)
        if noun is not None and word != "one":
            after = _number_after_noun(tokens, i + 1, word)
            # 'the episode "129 Cars"': a number opening a quoted title is the title's.
            quoted = i + 1 < len(tokens) and text[
                tokens[i + 1].start - 1 : tokens[i + 1].start
            ] in ('"', "“", "'", "‘")
            if (
                after is not None
                and not quoted
                and not (word == "no" and not tokens[i + 1].norm.isdigit())
                and not (word in _RANK_NOUNS and _rank(text, tokens, i, after[1]))
            ):
                value, end = after
                values, end = _listed(text, tokens, end, word, value)
                for v in values:
                    span_end = tokens[end - 1].end
                    refs.append(NumberRef(noun, v, False, None, token.start, span_end, len(values)))
                i = end
                continue
        if word.isdigit() and token.start > 0 and text[token.start - 1] == "#":
            before = tokens[i - 1].norm if i > 0 else ""
            if before not in _NOT_EPISODE_BEFORE_HASH and not _rank(text, tokens, i, i + 1):
                refs.append(
                    NumberRef("episode", int(word), False, None, token.start - 1, token.end)
                )
            i += 1
            continue
        parsed = parse_number(tokens, i)
        if parsed is not None and parsed[1]:
            value, _, j = parsed
            found = _ordinal_noun(tokens, j)
            if found is not None:
                noun_index, count = found
                noun = _NOUNS[tokens[noun_index].norm]
                end = tokens[noun_index].end
                for k in range(count):
                    refs.append(NumberRef(noun, value + k, True, None, token.start, end, count))
                i = noun_index + 1
                continue
        i += 1
    return refs


# Words that join numbers into a list after a noun ("Folgen 2, 3 und 4", "episodes 3
# and 5"), and words and marks that make a range ("parts 2 to 4", "Folgen 2 bis 4",
# "episodes 3-5").
_AND = frozenset({"and", "und", "et", "en", "og", "e", "or", "oder", "ou", "of"})
_TO = frozenset({"to", "through", "thru", "bis", "til", "a", "tot"})
# Words after a number that make it a quantity, not one more episode ("episode 4 and 5
# minutes of ads").
_QUANTITY = frozenset({
    "minutes", "minute", "min", "hours", "hour", "seconds", "stars", "star", "years",
    "year", "days", "percent", "times", "people", "minuten", "stunden", "sterne", "jahre",
})  # fmt: skip
_PLURALS = frozenset({"episodes", "eps", "folgen", "episoden", "chapters", "parts"})
# A range wider than this is not a list of episodes someone discusses one by one.
_MAX_RANGE = 10


def _listed(
    text: str, tokens: Sequence[Token], end: int, noun: str, first: int
) -> tuple[list[int], int]:
    """The numbers of a list or range that continues a noun's number: [first, ...] and
    the index after the last one."""
    values = [first]
    while end < len(tokens):
        gap = text[tokens[end - 1].end : tokens[end].start]
        word = tokens[end].norm
        if word in _AND or word in _TO:
            after = end + 1
            is_range = word in _TO
        elif gap.strip() in ("-", "–", "—") or (gap.strip() == "," and noun in _PLURALS):
            # A comma lists only after a plural: in "episode 4, 3 of them ..." it does not.
            after = end
            is_range = gap.strip() != ","
        else:
            break
        parsed = _number_after_noun(tokens, after, noun)
        if parsed is None:
            break
        value, nxt = parsed
        if nxt < len(tokens) and tokens[nxt].norm in _QUANTITY:
            break
        if is_range:
            if not values[-1] < value <= values[-1] + _MAX_RANGE:
                break
            values.extend(range(values[-1] + 1, value + 1))
        elif value in values:
            break
        else:
            values.append(value)
        end = nxt
    return values, end


def _ordinal_noun(tokens: Sequence[Token], j: int) -> tuple[int, int] | None:
    """After an ordinal: the index of its noun, and how many items ("first two episodes")."""
    count = 1
    if j < len(tokens) and tokens[j].norm in _UNITS and tokens[j].norm != "one":
        count = _UNITS[tokens[j].norm]
        j += 1
    for k in range(j, min(j + 3, len(tokens))):
        word = tokens[k].norm
        if word in _NOUNS:
            return k, count
        if word not in _BETWEEN:
            return None
    return None


def find_counts(text: str, tokens: Sequence[Token] | None = None) -> list[CountRef]:
    """Counts of episodes: "a ten-episode series", "Eight episodes", "ten chapters".

    >>> [(c.noun, c.value) for c in find_counts("a ten-episode long series; Eight episodes.")]
    [('episode', 10), ('episode', 8)]
    >>> find_counts("the first two episodes")
    []
    """
    if tokens is None:
        tokens = tokenize(text)
    counts: list[CountRef] = []
    for i in range(len(tokens)):
        if i > 0 and (tokens[i - 1].norm in _ORDINAL_UNITS or tokens[i - 1].norm in _NOT_COUNT):
            continue
        parsed = parse_number(tokens, i)
        if parsed is None or parsed[1] or parsed[0] < 2:
            continue
        if i > 0 and parse_number(tokens, i - 1) is not None:
            continue  # inside a longer number phrase
        value, _, j = parsed
        if j >= len(tokens):
            continue
        noun = tokens[j].norm
        gap = text[tokens[j - 1].end : tokens[j].start]
        if gap == "-" and noun in ("episode", "part", "chapter", "installment", "instalment"):
            counts.append(CountRef(_NOUNS[noun], value, tokens[i].start, tokens[j].end))
        elif gap.strip() == "" and noun in _PLURAL_COUNT_NOUNS:
            counts.append(
                CountRef(_PLURAL_COUNT_NOUNS[noun], value, tokens[i].start, tokens[j].end)
            )
    return counts


@dataclass(frozen=True, slots=True)
class TitleNumbers:
    """The numbers an episode title gives itself."""

    episode: int | None = None  # "Episode 49", "268:", "#214", "CRE206", "C2E100"
    season: int | None = None
    nouns: tuple[tuple[str, int], ...] = ()  # ("chapter", 6), ("part", 3), ("day", 4)
    plain: int | None = None  # a bare trailing number: "Sic Semper Tyrannis | 1"


_NO_NUMBERS = TitleNumbers()


def title_numbers(title: str, skip: int = 0) -> TitleNumbers:
    """Numbers in an episode title; ``skip`` tokens (the show's own name) are ignored.

    >>> title_numbers("Chapter Six: Paper Trail")
    TitleNumbers(episode=None, season=None, nouns=(('chapter', 6),), plain=None)
    >>> title_numbers("268: A Tarnished Brass Age").episode, title_numbers("CRE206 Das Ohr").episode
    (268, 206)
    >>> n = title_numbers("C2E100 Hunted at Sea")
    >>> n.season, n.episode
    (2, 100)
    >>> title_numbers("Sic Semper Tyrannis | 1").plain, title_numbers("UnDeadwood Part IV: X").nouns
    (1, (('part', 4),))
    >>> n = title_numbers("S01 Episode 03: Leakin Park")
    >>> n.season, n.episode
    (1, 3)
    >>> title_numbers("Talks Machina: Discussing C2E19 - The Path").episode is None
    True
    >>> title_numbers("Giant Bombcast Game of the Year 2017: Day Four", skip=2).nouns
    (('day', 4),)
    >>> title_numbers("Three: Mirror Image").episode, title_numbers("Ten Things I Know").episode
    (3, None)
    """
    tokens = tokenize(title)[skip:]
    episode = season = plain = None
    nouns: list[tuple[str, int]] = []
    for ref in find_number_refs(title, tokens):
        if ref.ordinal:
            continue
        if ref.season is not None:
            if tokens and ref.start <= tokens[min(1, len(tokens) - 1)].start:
                season, episode = ref.season, ref.value
        elif ref.noun == "season":
            season = ref.value
        elif ref.noun in ("episode", "week"):
            episode = ref.value if episode is None else episode
        else:
            nouns.append((ref.noun, ref.value))
    if tokens and season is None and re.fullmatch(r"s\d{1,2}", tokens[0].norm):
        season = int(tokens[0].norm[1:])  # "S01 Episode 03: Leakin Park"
    if tokens and episode is None:
        first = tokens[0].norm
        prefixed = _PREFIXED.match(first)
        if first.isdigit() and not _is_year(int(first), title, tokens[0]):
            episode = int(first)
        elif prefixed and len(first) <= 8 and not _SEASON_EPISODE.match(first):
            episode = int(prefixed.group(2))
        else:
            episode = _leading_word_number(title, tokens)
    if len(tokens) >= 2 and tokens[-1].norm.isdigit():
        gap = title[tokens[-2].end : tokens[-1].start]
        value = int(tokens[-1].norm)
        if gap.strip() in ("|", "-", "–", "") and not _is_year(value, title, tokens[-1]):
            plain = value
    if episode is None and season is None and not nouns and plain is None:
        return _NO_NUMBERS  # most titles: one shared value
    return TitleNumbers(episode, season, tuple(nouns), plain)


def _leading_word_number(title: str, tokens: Sequence[Token]) -> int | None:
    """A number written out at the head of a title and set off by a colon, a dash or a
    full stop numbers the episode ("Three: Mirror Image", "Ten. Homecoming"); without
    the mark it is part of the title ("Ten Things I Know")."""
    parsed = parse_number(tokens, 0)
    if parsed is None or parsed[1]:
        return None
    value, _, j = parsed
    if j >= len(tokens):
        return None
    mark = title[tokens[j - 1].end : tokens[j].start].strip()
    return value if mark[:1] in (":", ".", "-", "–", "—", "|") else None


def _is_year(value: int, title: str, token: Token) -> bool:
    """A four-digit number from 1800 to 2099 not followed by a colon is a year."""
    after = title[token.end : token.end + 1]
    return 1800 <= value <= 2099 and after != ":"

"""Text helpers for the linker: folding, tokens with character spans, stopwords.

Every token keeps its span in the original string, so any match found on folded
tokens can be reported as evidence with ``text[start:end]`` exactly as written.
Folding is casefold plus accent stripping ("Hörempfehlung" -> "horempfehlung"),
so a review and a feed that spell a name with and without accents still meet.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

__all__ = [
    "STOPWORDS",
    "Token",
    "case_flags",
    "fold",
    "paragraph_spans",
    "quoted_spans",
    "stem",
    "terms",
    "tokenize",
    "word_set",
]

# Order matters: dotted initials ("C.G.P.") and grouped numbers ("2,000,000") are one
# token each; everything else splits on non-word characters (apostrophes included, so
# "Koenig's" gives "Koenig" and "s", and "O'Donoghue" gives "O" and "Donoghue").
_TOKEN = re.compile(
    r"(?:[^\W\d_]\.){2,}"  # dotted initials
    r"|\d{1,3}(?:,\d{3})+(?![\d,])"  # 2,500 or 2,000,000
    r"|[^\W_]+"
    r"|&",  # a word: "Up & Vanished" is "Up and Vanished"
    re.UNICODE,
)


# A run of digits is cut to this many in a token's folded form.
_MAX_DIGITS = 15
_LONG_DIGITS = re.compile(rf"\d{{{_MAX_DIGITS + 1},}}")


@dataclass(slots=True)
class Token:
    """One word of a text: folded form, span, and how it was capitalised.

    Never changed once made, but not a frozen dataclass: a 5 KB review has about a
    thousand tokens, and a frozen one takes three times as long to make.
    """

    norm: str
    start: int
    end: int
    cap: bool  # starts with an upper-case letter (or is a digit-initial token)
    index: int  # position in the token list


def word_set(words: str) -> frozenset[str]:
    """A set of words written as one whitespace-separated string (for word lists)."""
    return frozenset(words.split())


def fold(value: str) -> str:
    """Casefold and strip accents.

    >>> fold("Hörempfehlung CRE")
    'horempfehlung cre'
    >>> fold("Ærøskøbing")
    'ærøskøbing'
    """
    if value.isascii():
        return value.lower()
    decomposed = unicodedata.normalize("NFKD", value)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return stripped.casefold()


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens with exact spans.

    >>> [t.norm for t in tokenize("C.G.P. Grey's $2,500 ep.3")]
    ['cgp', 'grey', 's', '2500', 'ep', '3']
    >>> [t.norm for t in tokenize("ep. 12345678901234567890th")]
    ['ep', '123456789012345th']
    >>> [t.norm for t in tokenize("Up & Vanished")]
    ['up', 'and', 'vanished']
    >>> t = tokenize("Hi Rukmini")[1]
    >>> "Hi Rukmini"[t.start:t.end], t.cap
    ('Rukmini', True)
    """
    tokens: list[Token] = []
    append = tokens.append
    for match in _TOKEN.finditer(text):
        raw = match.group()
        norm = "and" if raw == "&" else fold(raw.replace(".", "").replace(",", ""))
        if not norm:
            continue
        if len(norm) > _MAX_DIGITS:
            # No episode number or date has that many digits, and int() of 4,301 or
            # more refuses (CPython's guard against quadratic parsing).
            norm = _LONG_DIGITS.sub(lambda m: m.group()[:_MAX_DIGITS], norm)
        first = raw[0]
        start, end = match.span()
        append(Token(norm, start, end, first.isupper() or first.isdigit(), len(tokens)))
    return tokens


def stem(word: str) -> str:
    """A very light English stemmer for retrieval: plurals and possessives only.

    >>> [stem(w) for w in ["episodes", "stories", "boss", "chapters", "news"]]
    ['episode', 'story', 'boss', 'chapter', 'news']
    """
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is", "ews")):
        return word[:-1]
    return word


_TERM = re.compile(r"\d{1,3}(?:,\d{3})+(?![\d,])|[^\W_]+")


def terms(text: str) -> Iterator[str]:
    """Retrieval terms of ``text``: folded, stemmed, stopwords and 1-letter words dropped.

    >>> list(terms("The Episodes of CRE, Hörempfehlung"))
    ['episode', 'cre', 'horempfehlung']
    """
    for word in _TERM.findall(fold(text)):
        if len(word) > 1 and word not in STOPWORDS:
            yield stem(word.replace(",", ""))


_SENTENCE_END = re.compile(r"[.!?:]\s*[\"'“‘(]?\s*$")


def case_flags(text: str, tokens: Sequence[Token]) -> list[bool]:
    r"""For each token, whether its paragraph is written with capitals.

    Forum posts are often all lower case under a capitalised header: there a
    lower-case "sarah koenig" may still be a name, and a lower-case "serial" the show.
    A paragraph counts as capitalised when most of its sentences start with a capital.

    >>> text = "Posted by Ann\ndid you hear it? sarah was great. yes"
    >>> case_flags(text, tokenize(text))
    [True, True, True, False, False, False, False, False, False, False, False]
    """
    flags: list[bool] = []
    paragraph: list[int] = []
    starts: list[bool] = []
    previous_end = 0

    def close() -> None:
        cased = bool(starts) and sum(starts) * 2 >= len(starts)
        flags.extend(cased for _ in paragraph)
        paragraph.clear()
        starts.clear()

    for i, token in enumerate(tokens):
        gap = text[previous_end : token.start]
        if i and "\n" in gap:
            close()
        # Most words follow a single space: no sentence ends there.
        first = not paragraph or (gap != " " and bool(_SENTENCE_END.search(gap)))
        if first and token.norm.isalpha():
            starts.append(text[token.start].isupper())
        paragraph.append(i)
        previous_end = token.end
    close()
    return flags


def paragraph_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the paragraphs (blocks separated by line breaks)."""
    spans: list[tuple[int, int]] = []
    for match in re.finditer(r"[^\n]+", text):
        if match.group().strip():
            spans.append((match.start(), match.end()))
    return spans or [(0, len(text))]


_QUOTED = re.compile(
    r"[\"“”„«»]([^\"“”„«»\n]{1,120})[\"“”„«»]|(?<!\w)['‘’]([^'‘’\n]{1,80})['‘’](?!\w)"
)


def quoted_spans(text: str) -> list[tuple[int, int]]:
    """Spans of the insides of quotations ("...", “...”, '...', ‘...’)."""
    spans: list[tuple[int, int]] = []
    for match in _QUOTED.finditer(text):
        group = 1 if match.group(1) is not None else 2
        spans.append((match.start(group), match.end(group)))
    return spans


# English and German function words: never evidence on their own. German because
# the catalog holds German-language shows and some reviews of them are in German.
STOPWORDS = word_set(
    """
    a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each even ever
    every few for from further get gets got had has have having he her here hers herself him
    himself his how i if in into is it its itself just least less let like made make many may
    me might more most much must my myself no nor not now of off on once one only or other our
    ours ourselves out over own per quite rather really same she should since so some still
    such than that the their theirs them themselves then there these they this those through
    thus to too under until up upon us very was we well were what when where whether which
    while who whom whose why will with within without would yet you your yours yourself
    yourselves s t d ll m re ve don didn doesn isn wasn won aren couldn shouldn wouldn hasn
    haven hadn ok okay lol imo tbh btw etc via vs
    aber als am an auch auf aus bei bin bis da das dass dem den der des die dies diese diesem
    diesen dieser doch dort du durch ein eine einem einen einer eines er es etwas fur hat
    hatte ich ihr im in ist ja jede jeder jetzt kann kein keine man mit nach nicht noch nur
    ob oder ohne sehr sein seine sich sie sind so um und uns unter vom von vor war was weil
    wenn wer wie wir wird wo zu zum zur uber
    """
)

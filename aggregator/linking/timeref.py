"""Time in a review: "the latest", "last week's", "Tuesday's", "the finale", "April 2018".

Relative references are resolved later against the review's own date (the last
episode published before the review, the Tuesday before it); this module only finds
them, with exact spans. Absolute dates ("released in April 2018", "from June
2011", "10/28/2014") are returned as year, month and day when given.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from aggregator.linking.text import Token, tokenize

__all__ = ["DateRef", "RelativeRef", "find_dates", "find_relative", "title_date"]

_WEEKDAYS = {
    "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5,
    "sunday": 6, "montag": 0, "dienstag": 1, "mittwoch": 2, "donnerstag": 3, "freitag": 4,
    "samstag": 5, "sonntag": 6,
}  # fmt: skip
_MONTHS = {
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4,
    "apr": 4, "may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8,
    "september": 9, "sep": 9, "sept": 9, "october": 10, "oct": 10, "november": 11,
    "nov": 11, "december": 12, "dec": 12, "januar": 1, "februar": 2, "marz": 3, "mai": 5,
    "juni": 6, "juli": 7, "oktober": 10, "dezember": 12,
}  # fmt: skip
_EPISODE_WORDS = frozenset(
    {"episode", "ep", "show", "installment", "instalment", "chapter", "one", "folge", "hour",
     "part", "edition", "outing", "entry"}
)  # fmt: skip
_PREMIERE = frozenset({"premiere", "opener", "debut", "pilot", "premier"})
_FINALE = frozenset({"finale"})
# "Season three opens with Koenig in the courthouse", "die Staffel beginnt mit": a
# season's (or a series') opening, described, is its first episode.
_OPENS = frozenset(
    {"opens", "opened", "begins", "began", "starts", "started", "beginnt", "begann",
     "startet", "commence", "empieza", "comienza", "opent", "begint"}
)  # fmt: skip
_OPENS_WITH = frozenset({"with", "mit", "avec", "con", "met"})
_SEASON_NOUNS = frozenset(
    {"season", "series", "staffel", "serie", "saison", "temporada", "seizoen"}
)  # fmt: skip
# How far before the verb its season noun may stand ("Season three opens").
_OPENS_REACH = 3
# "The last two episodes", "die letzten drei Folgen": a finale of several.
_FEW = {"two": 2, "three": 3, "four": 4, "zwei": 2, "drei": 3, "vier": 4, "deux": 2, "trois": 3}
_PLURAL_EPISODE_WORDS = frozenset(
    {"episodes", "eps", "installments", "instalments", "chapters", "parts", "folgen",
     "episoden", "teile", "kapitel"}
)  # fmt: skip
_LATEST = frozenset({"latest", "newest", "neue", "neuste", "neueste", "aktuelle"})
# "The newest series from the Serial team", "the latest iPhone", "das neue Projekt": not
# an episode (the show itself, or something else). "Podcast" is not here: "the latest
# Caliphate podcast" is its latest episode as often as "the newest podcast" is a show.
_NOT_EPISODES = frozenset(
    {"series", "season", "seasons", "book", "novel", "film", "movie", "album", "game",
     "iphone", "ipad", "mac", "version", "release", "trailer", "article", "issue", "news",
     "project", "projects", "projekt", "format", "formats", "formate",
     "thriller", "psychothriller", "documentary", "doku", "production", "produktion",
     "producers", "produzenten", "staffel", "serie", "serien", "reihe", "app", "apps"}
)  # fmt: skip
_SHOW_NOUNS = frozenset({"podcast", "podcasts", "show", "shows", "pod"})
_MADE_BY = frozenset({"from", "by", "von", "de", "van", "di"})
# How far after "the latest" its noun may stand ("the newest true-crime documentary").
_NOUN_REACH = 4
# "A new episode shows up every few days", "eine kleine Premiere": an indefinite article
# says any episode, or a first time, not the one that came out.
_INDEFINITE = frozenset({"a", "an", "ein", "eine", "einen", "einer", "un", "une"})
_NUMERIC_DATE = re.compile(r"\b(\d{1,2})/(\d{1,2})/(\d{4})\b")


@dataclass(frozen=True, slots=True)
class RelativeRef:
    """A reference relative to the review's date.

    ``kind`` is one of "latest", "this_week", "last_week", "fortnight", "weekday", "yesterday",
    "premiere", "finale". ``weekday`` is 0 (Monday) to 6 for "weekday".
    """

    kind: str
    start: int
    end: int
    weekday: int | None = None
    last: bool = False  # "last Friday's": the Friday of the week before, or the last one
    count: int = 1  # "the last two episodes": a finale of two


@dataclass(frozen=True, slots=True)
class DateRef:
    year: int
    month: int | None
    day: int | None
    start: int
    end: int


def find_relative(text: str, tokens: Sequence[Token] | None = None) -> list[RelativeRef]:
    """Relative references to episodes.

    >>> def kinds(s):
    ...     return [(r.kind, r.weekday) for r in find_relative(s)]
    >>> kinds("A plot twist in the last episode")
    [('finale', None)]
    >>> kinds("Last Friday's episode was the funeral; the premiere was better")
    [('weekday', 4), ('premiere', None)]
    >>> kinds("this week's installment, last week's hour, the latest Planet Money")
    [('this_week', None), ('last_week', None), ('latest', None)]
    >>> kinds("Die neue Folge von CRE"), kinds("Tuesday's season finale")
    ([('latest', None)], [('weekday', 1), ('finale', None)])
    >>> kinds("the last strip of land; the last weeks of the siege; the newest series")
    []
    >>> kinds("the newest true-crime documentary; a new episode every week; eine kleine Premiere")
    []
    >>> kinds("S-Town, the newest podcast from the makers of Serial; the latest show by Mills")
    []
    >>> kinds("the latest Caliphate podcast from Callimachi; the latest show was about Mosul")
    [('latest', None), ('latest', None)]
    >>> [(r.kind, r.count) for r in find_relative("the last two episodes; die letzten drei Folgen")]
    [('finale', 2), ('finale', 3)]
    >>> kinds("Season three opens with a courthouse; the story begins with a murder")
    [('premiere', None)]
    """
    if tokens is None:
        tokens = tokenize(text)
    found: list[RelativeRef] = []
    n = len(tokens)
    for i, token in enumerate(tokens):
        word = token.norm
        nxt = tokens[i + 1].norm if i + 1 < n else ""
        nxt2 = tokens[i + 2].norm if i + 2 < n else ""
        prev = tokens[i - 1].norm if i > 0 else ""
        indefinite = prev in _INDEFINITE or (i > 1 and tokens[i - 2].norm in _INDEFINITE)
        if word in ("this", "last", "past") and nxt == "fortnight":
            found.append(RelativeRef("fortnight", token.start, tokens[i + 1].end))
        elif word in ("this", "last", "past") and nxt == "week":
            kind = "this_week" if word == "this" else "last_week"
            end = tokens[i + 2].end if nxt2 == "s" else tokens[i + 1].end
            found.append(RelativeRef(kind, token.start, end))
        elif word in _WEEKDAYS and (
            nxt == "s" or prev in ("on", "last", "am", "letzten") or nxt in ("night", "evening")
        ):
            found.append(
                RelativeRef("weekday", token.start, token.end, _WEEKDAYS[word], last=prev == "last")
            )
        elif word in ("yesterday", "gestern"):
            found.append(RelativeRef("yesterday", token.start, token.end))
        elif (word in _PREMIERE and not indefinite) or (
            word in _OPENS and nxt in _OPENS_WITH and _season_before(tokens, i)
        ):
            found.append(RelativeRef("premiere", token.start, token.end))
        elif word in _FINALE and not indefinite:
            found.append(RelativeRef("finale", token.start, token.end))
        elif word in ("last", "final") and nxt in _EPISODE_WORDS | {"chapter"} and prev == "the":
            found.append(RelativeRef("finale", token.start, tokens[i + 1].end))
        elif (
            word in ("last", "final", "letzten", "derniers")
            and nxt in _FEW
            and nxt2 in _PLURAL_EPISODE_WORDS
        ):
            found.append(RelativeRef("finale", token.start, tokens[i + 2].end, count=_FEW[nxt]))
        elif (
            (word in _LATEST or (word == "new" and nxt in _EPISODE_WORDS))
            and not indefinite
            and not _names_other_thing(tokens, i + 1)
        ) or (word == "most" and nxt == "recent" and not _names_other_thing(tokens, i + 2)):
            found.append(RelativeRef("latest", token.start, token.end))
    return found


def _season_before(tokens: Sequence[Token], verb: int) -> bool:
    """Whether a season's noun stands just before the verb ("Season three opens")."""
    return any(t.norm in _SEASON_NOUNS for t in tokens[max(0, verb - _OPENS_REACH) : verb])


def _names_other_thing(tokens: Sequence[Token], start: int) -> bool:
    """Whether the words after "the latest" name something other than an episode before
    they name an episode ("the newest true-crime documentary", not "die neue Folge")."""
    window = tokens[start : start + _NOUN_REACH]
    for k, token in enumerate(window):
        after = tokens[start + k + 1].norm if start + k + 1 < len(tokens) else ""
        # "the newest podcast from the makers of Serial", "the latest show by Mills": a
        # show credited to its makers is a show, not its newest episode ("the latest
        # Caliphate podcast from Callimachi", with the show's name between, is one).
        if k == 0 and token.norm in _SHOW_NOUNS and after in _MADE_BY:
            return True
        if token.norm in _EPISODE_WORDS:
            return False
        if token.norm in _NOT_EPISODES:
            return True
    return False


def find_dates(text: str, tokens: Sequence[Token] | None = None) -> list[DateRef]:
    """Month-and-year or full dates written in the text.

    >>> [(d.year, d.month, d.day) for d in find_dates("released in April 2018, then 10/28/2014")]
    [(2018, 4, None), (2014, 10, 28)]
    >>> [(d.year, d.month, d.day) for d in find_dates("December 21, 2014 and 9 August 2023")]
    [(2014, 12, 21), (2023, 8, 9)]
    >>> find_dates("you may 2018")
    []
    """
    if tokens is None:
        tokens = tokenize(text)
    found: list[DateRef] = []
    n = len(tokens)
    for i, token in enumerate(tokens):
        month = _MONTHS.get(token.norm)
        if month is None or (token.norm == "may" and not token.cap):
            continue
        j = i + 1
        day = None
        if j < n and re.fullmatch(r"\d{1,2}(st|nd|rd|th)?", tokens[j].norm):
            day = int(re.sub(r"\D", "", tokens[j].norm))
            j += 1
        elif i > 0 and re.fullmatch(r"\d{1,2}", tokens[i - 1].norm):
            day = int(tokens[i - 1].norm)
        if j < n and re.fullmatch(r"(19|20)\d\d", tokens[j].norm):
            start = tokens[i - 1].start if day is not None and j == i + 1 else token.start
            found.append(DateRef(int(tokens[j].norm), month, day, start, tokens[j].end))
    for match in _NUMERIC_DATE.finditer(text):
        month, day, year = (int(g) for g in match.groups())
        if 1 <= month <= 12 and 1 <= day <= 31:
            found.append(DateRef(year, month, day, match.start(), match.end()))
    return sorted(found, key=lambda d: d.start)


def title_date(title: str) -> datetime | None:
    """A full date written in an episode title ("Giant Bombcast 10/28/2014").

    >>> title_date("Episode 600 Sep 11th 2017")
    datetime.datetime(2017, 9, 11, 0, 0, tzinfo=datetime.timezone.utc)
    >>> title_date("Cortex 62: 2018 Yearly Themes") is None
    True
    """
    for ref in find_dates(title):
        if ref.month and ref.day:
            try:
                return datetime(ref.year, ref.month, ref.day, tzinfo=UTC)
            except ValueError:
                continue
    return None

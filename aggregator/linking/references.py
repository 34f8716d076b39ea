"""Episodes a review points at by number, by ordinal, by date or relative to its own
date: "episode 4", "Chapter Six", "the fifth chapter", "S2E3", "the latest", "last
Friday's", "the premiere", "the finale", "released in June 2011".

A number is read every way a series numbers itself (its titles, ``itunes:episode``,
the order within a season); ambiguous matches go to the most recent episode.
"""

from __future__ import annotations

import math
from datetime import datetime

from aggregator.linking.analysis import Analysis
from aggregator.linking.episode_found import DAY, SURE_AHEAD, Found, by_recency, owner_factor
from aggregator.linking.series_index import EpisodeInfo, SeriesInfo
from aggregator.types import Evidence

__all__ = ["match_dates", "match_numbers", "match_relative"]

_PART_LIKE = frozenset({"part", "class", "hour", "day"})
# The most episodes a phrase names one by one ("the first three episodes").
_NAMED_RUN = 3


def match_numbers(
    a: Analysis,
    series: SeriesInfo,
    eligible: list[int],
    found: Found,
    about: int | None = None,
    later: frozenset[int] = frozenset(),
) -> None:
    """``about``: the season the review's words are about, if one stands out (it
    decides between the seasons' "episode 1" where the review names no season).
    ``later``: those of ``eligible`` the feed dates after the review; a number matches
    one of them only in the title's own numbering, and better than every episode out
    by then."""
    seasons = {r.value for r in a.numbers if r.noun == "season"}
    wanted = {r.value for r in a.numbers if r.noun != "season"}
    if not wanted:
        return
    order = _season_order(series, eligible)
    carrying = _by_number(series, eligible, order, wanted)
    for ref in a.numbers:
        if ref.noun == "season":
            continue
        matches: list[tuple[float, int, Evidence]] = []
        for index in carrying.get(ref.value, ()):
            e = series.episodes[index]
            if ref.season is not None and e.season is not None and e.season != ref.season:
                continue
            if seasons and e.season is not None and e.season not in seasons and ref.season is None:
                continue
            strength = _number_strength(ref.noun, ref.value, ref.ordinal, e, order.get(index))
            if ref.season is not None and e.season == ref.season:
                strength = max(strength, 1.0 if e.numbers.episode == ref.value else 0.0)
            if strength <= 0:
                continue
            s, t = a.span(ref.start, ref.end)
            evidence = Evidence(
                "episode-number",
                a.text[ref.start : ref.end],
                s,
                t,
                f"{'ordinal' if ref.ordinal else 'number'} {ref.value} matches {e.title!r}",
            )
            matches.append((strength, index, evidence))
        # "Campaign Three, episode one": an episode the feed puts in a named season
        # is meant before one that has no season ("Exandria Unlimited Episode 1").
        named = {ref.season} if ref.season is not None else seasons
        if named:
            within = [m for m in matches if series.episodes[m[1]].season in named]
            matches = within or matches
        if about is not None and ref.season is None and not seasons:
            chosen = [m for m in matches if series.episodes[m[1]].season == about]
            matches = chosen or matches
        if later:
            out = max((m[0] for m in matches if m[1] not in later), default=0.0)
            # Only the title's own number (0.9), not a count or an order that could be
            # anyone's, and only where it fits better than what was out.
            matches = [
                m for m in matches if m[1] not in later or (m[0] >= SURE_AHEAD and m[0] > out)
            ]
        # "The first two episodes" names each of them; "the first five episodes" says how
        # far the reviewer got more often than which episodes they discuss: a phrase
        # naming a longer run names each less surely.
        run = 1.0 if ref.together <= _NAMED_RUN else math.sqrt(ref.together)
        owner = owner_factor(a, series.id, ref.start) / run
        for strength, index, evidence in by_recency(series, matches):
            found.get_or_add(index).put("number", strength * owner, evidence)


def _number_strength(
    noun: str, value: int, ordinal: bool, e: EpisodeInfo, position: int | None
) -> float:
    numbers = e.numbers
    own = dict(numbers.nouns)
    if noun not in ("episode", "week"):
        if own.get(noun) == value:
            return 1.0
        if noun in _PART_LIKE and any(own.get(n) == value for n in _PART_LIKE):
            return 0.8  # "the second hour" of a two-part "Part Two"
        if noun in _PART_LIKE and numbers.plain == value:
            return 0.6
        if noun == "chapter" and numbers.episode == value:
            return 0.8
        return 0.0
    # A title that numbers itself overrules the feed's count, which often counts a
    # trailer or prologue too: "Three: Mirror Image" is not "episode four" for its
    # itunes:episode, nor "Chapter Seven" episode 8.
    titled = numbers.episode if numbers.episode is not None else own.get("chapter")
    schemes = [
        0.9 if numbers.episode == value else 0.0,
        0.8 if own.get("chapter") == value else 0.0,
        0.8 if numbers.plain == value else 0.0,
        0.7 if e.itunes_number == value and titled in (None, value) else 0.0,
        0.6 if (ordinal or noun == "week") and position == value else 0.0,
    ]
    agreeing = sum(1 for x in schemes if x)
    # Two numbering schemes that agree (a title number and the order) are surer than one.
    return min(1.0, max(schemes) + (0.1 if agreeing > 1 else 0.0))


def _by_number(
    series: SeriesInfo, eligible: list[int], order: dict[int, int], wanted: set[int]
) -> dict[int, list[int]]:
    """The eligible episodes by every ``wanted`` number they carry (title numbers,
    nouns' numbers, ``itunes:episode``, order in the season), in episode order: a
    reference can only match an episode that carries its number (see
    ``_number_strength``)."""
    carrying: dict[int, list[int]] = {}
    for index in eligible:
        e = series.episodes[index]
        numbers = e.numbers
        values = {n for _, n in numbers.nouns if n in wanted}
        for n in (numbers.episode, numbers.plain, e.itunes_number, order.get(index)):
            if n is not None and n in wanted:
                values.add(n)
        for value in values:
            carrying.setdefault(value, []).append(index)
    return carrying


def _season_order(series: SeriesInfo, eligible: list[int]) -> dict[int, int]:
    """Position (1-based) of each full episode within its season, by date."""
    counters: dict[int | None, int] = {}
    order: dict[int, int] = {}
    for index in eligible:
        e = series.episodes[index]
        if e.bonus:
            continue
        counters[e.season] = counters.get(e.season, 0) + 1
        order[index] = counters[e.season]
    return order


def match_relative(
    a: Analysis,
    series: SeriesInfo,
    eligible: list[int],
    published: datetime,
    found: Found,
    about: int | None = None,
) -> None:
    if not a.relative:
        return
    full = [i for i in eligible if not series.episodes[i].bonus and series.episodes[i].published]
    if not full:
        return
    seasons = {r.value for r in a.numbers if r.noun == "season"}
    ages: dict[int, float] = {}  # days from each full episode to the review

    def days(index: int) -> float:
        age = ages.get(index)
        if age is None:
            when = series.episodes[index].published
            assert when is not None
            age = ages[index] = (published - when).total_seconds() / DAY
        return age

    latest = full[-1]
    context = series.episodes[latest].season
    if seasons:
        context = max(seasons) if context is None or context not in seasons else context
    elif about is not None:
        context = about
    in_season = [i for i in full if series.episodes[i].season == context] or full
    for ref in a.relative:
        chosen: list[int] = []
        detail = ""
        if ref.kind == "latest":
            newest = days(latest) + 1
            chosen = [i for i in full if days(i) <= newest]
            detail = "the latest episode before the review"
        elif ref.kind in ("this_week", "yesterday"):
            limit = 8 if ref.kind == "this_week" else 2.5
            chosen = [i for i in full if -1.5 <= days(i) <= limit]
            detail = f"published {ref.kind.replace('_', ' ')} of the review"
        elif ref.kind == "fortnight":
            chosen = [i for i in full if -1.5 <= days(i) <= 15]
            detail = "published in the fortnight before the review"
        elif ref.kind == "last_week":
            chosen = [i for i in full if 4 <= days(i) <= 16]
            detail = "published the week before the review"
        elif ref.kind == "weekday" and ref.weekday is not None:
            limit = 15 if ref.last else 8.5
            chosen = [
                i
                for i in full
                if -1.5 <= days(i) <= limit and _on_weekday(series.episodes[i], ref.weekday)
            ]
            detail = "published on that weekday before the review"
        elif ref.kind == "premiere":
            chosen = in_season[:1]
            detail = "the first episode of its season"
        elif ref.kind == "finale":
            chosen = in_season[-ref.count :]
            detail = (
                "the last episode before the review"
                if ref.count == 1
                else f"the last {ref.count} episodes before the review"
            )
        owner = owner_factor(a, series.id, ref.start)
        # "This week" of a show that put out its whole season that week names the
        # season, not one of its chapters: a reference met by a longer run of episodes
        # names each less surely, as "the first five episodes" does.
        if len(chosen) > _NAMED_RUN:
            owner /= math.sqrt(len(chosen))
        matches: list[tuple[float, int, Evidence]] = []
        # "The premiere" of a show still running that began years before the review is
        # not its first episode; of a show that had ended, binged and reviewed later, it
        # is, as "the finale" of a finished show is its last episode however old.
        running = days(latest) <= 60
        for index in chosen:
            strength = owner
            if ref.kind == "premiere" and running:
                strength *= 1.0 if days(index) <= 60 else 0.5 if days(index) <= 365 else 0.2
            s, e = a.span(ref.start, ref.end)
            when = series.episodes[index].published
            evidence = Evidence(
                "relative",
                a.text[ref.start : ref.end],
                s,
                e,
                f"{detail}: {series.episodes[index].title!r} ({when:%Y-%m-%d})" if when else detail,
            )
            matches.append((strength, index, evidence))
        for strength, index, evidence in by_recency(series, matches):
            found.get_or_add(index).put("relative", strength, evidence)


def _on_weekday(episode: EpisodeInfo, weekday: int) -> bool:
    days = {d.weekday() for d in (episode.published, episode.aired) if d is not None}
    # Shows often go out the day after they are recorded or first aired.
    return weekday in days or (weekday + 1) % 7 in days


def match_dates(a: Analysis, series: SeriesInfo, eligible: list[int], found: Found) -> None:
    for ref in a.dates:
        if ref.month is None:
            continue
        for index in eligible:
            e = series.episodes[index]
            when = e.aired or e.published
            if when is None or when.year != ref.year or when.month != ref.month:
                continue
            if ref.day is not None and abs(when.day - ref.day) > 1:
                continue
            s, t = a.span(ref.start, ref.end)
            evidence = Evidence(
                "date", a.text[ref.start : ref.end], s, t, f"{e.title!r} came out then"
            )
            found.get_or_add(index).put("date", 1.0 if ref.day else 0.5, evidence)

"""Number and ordinal phrases (aggregator.linking.numbers)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aggregator.linking.numbers import (
    find_counts,
    find_number_refs,
    parse_number,
    roman,
    title_numbers,
)
from aggregator.linking.text import tokenize

_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_ORDINAL_ONES = [
    "zeroth",
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
    "eleventh",
    "twelfth",
    "thirteenth",
    "fourteenth",
    "fifteenth",
    "sixteenth",
    "seventeenth",
    "eighteenth",
    "nineteenth",
]
_ORDINAL_TENS = [
    "_",
    "_",
    "twentieth",
    "thirtieth",
    "fortieth",
    "fiftieth",
    "sixtieth",
    "seventieth",
    "eightieth",
    "ninetieth",
]


def in_words(n: int, ordinal: bool = False) -> str:
    """English words for 1..999, written independently of the module under test."""
    parts: list[str] = []
    hundreds, rest = divmod(n, 100)
    if hundreds:
        parts += [_ONES[hundreds], "hundredth" if ordinal and not rest else "hundred"]
        if rest:
            parts.append("and")
    if rest:
        tens, ones = divmod(rest, 10)
        if rest < 20:
            parts.append((_ORDINAL_ONES if ordinal else _ONES)[rest])
        elif ones == 0:
            parts.append((_ORDINAL_TENS if ordinal else _TENS)[tens])
        else:
            parts.append(f"{_TENS[tens]}-{(_ORDINAL_ONES if ordinal else _ONES)[ones]}")
    return " ".join(parts)


@given(st.integers(min_value=1, max_value=999))
def test_cardinals_in_words_read_back(n: int) -> None:
    tokens = tokenize(in_words(n))
    assert parse_number(tokens, 0) == (n, False, len(tokens))


@given(st.integers(min_value=1, max_value=999))
def test_ordinals_in_words_read_back(n: int) -> None:
    tokens = tokenize(in_words(n, ordinal=True))
    assert parse_number(tokens, 0) == (n, True, len(tokens))


@given(st.integers(min_value=1, max_value=5000))
def test_digits_and_digit_ordinals(n: int) -> None:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    assert parse_number(tokenize(str(n)), 0) == (n, False, 1)
    assert parse_number(tokenize(f"{n}{suffix}"), 0) == (n, True, 1)


@given(st.integers(min_value=1, max_value=999), st.sampled_from(["episode", "ep", "Episode"]))
def test_episode_number_phrases(n: int, noun: str) -> None:
    for text in (f"{noun} {n}", f"{noun} {in_words(n)}", f"listen to #{n} now"):
        refs = find_number_refs(text)
        assert [(r.noun, r.value, r.ordinal) for r in refs] == [("episode", n, False)]
        assert text[refs[0].start : refs[0].end].endswith(str(n) if "#" in text else text[-3:])


@given(st.text(max_size=300))
def test_arbitrary_text_never_crashes_and_spans_are_inside(text: str) -> None:
    for ref in find_number_refs(text):
        assert 0 <= ref.start < ref.end <= len(text)
        assert ref.value >= 0
    for count in find_counts(text):
        assert 0 <= count.start < count.end <= len(text)
    title_numbers(text)


def test_references_as_reviews_write_them() -> None:
    def refs(text: str) -> list[tuple[str, int, bool, int | None]]:
        return [(r.noun, r.value, r.ordinal, r.season) for r in find_number_refs(text)]

    assert refs("ep. 212 and #213") == [
        ("episode", 212, False, None),
        ("episode", 213, False, None),
    ]
    assert refs("Chapter Six") == [("chapter", 6, False, None)]
    assert refs("part two, then Part IV") == [("part", 2, False, None), ("part", 4, False, None)]
    assert refs("the third episode") == [("episode", 3, True, None)]
    assert refs("S2E3") == [("episode", 3, False, 2)]
    assert refs("the fourth day of deliberations") == [("day", 4, True, None)]
    assert refs("its 250th episode") == [("episode", 250, True, None)]
    assert refs("class three") == [("class", 3, False, None)]
    # A newsletter's issue number and a number opening a quoted title are not episodes.
    assert refs("THE FRIDAY FEED, issue #118") == []
    assert refs("the December episode '129 Cars'") == []
    # "the premiere" and "the finale" are relative references (timeref), not numbers.
    assert refs("the premiere and the finale") == []


@pytest.mark.parametrize(
    "text",
    [
        "It climbed all the way to No. 1 within a month.",
        "it went straight to number one on iTunes",
        "Sitting at number one was something new called Limetown.",
        "the series, number one on podcast charts in several countries",
        "number one in America for 63 days straight",
        "It has hit No. 1 on the iTunes podcast chart.",
        "already sitting at number three on Podbay",
        "a music podcast (sitting at #7 on the iTunes music chart)",
        "the #1 podcast in America",
    ],
)
def test_a_place_in_the_charts_is_no_episode_number(text: str) -> None:
    # Texts about podcasts rank shows far more often than they number an episode "No.
    # 1": a word of reaching or holding a place before it, or a chart after it.
    assert find_number_refs(text) == []


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("CRE from June 2011, number 182, on electronic money", 182),
        ("listen to #213 now", 213),
        ("Cortex #62 on productivity", 62),
        ("No. 12 in which they argue", 12),
        ("listen to number 5 tonight", 5),
    ],
)
def test_an_episode_number_near_words_of_charts_is_still_one(text: str, value: int) -> None:
    assert [(r.noun, r.value) for r in find_number_refs(text)] == [("episode", value)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Folge eins lässt die Mutter erzählen", ("episode", 1)),
        ("Teil vier des Podcasts", ("part", 4)),
        ("erst in Staffel zwei", ("season", 2)),
        ("es beginnt mit einer Folge Null", ("episode", 0)),
        ("Folge zwölf ist die beste", ("episode", 12)),
        ("in aflevering twee", ("episode", 2)),
        ("dans l'épisode trois", ("episode", 3)),
    ],
)
def test_number_words_of_other_languages_after_a_noun(text: str, expected: tuple[str, int]) -> None:
    # Reviews in German, Dutch and French write small numbers out after the noun.
    assert [(r.noun, r.value) for r in find_number_refs(text)] == [expected]


def test_number_words_of_other_languages_need_a_noun() -> None:
    # Alone they are other words too: "elf", "acht" (eight, and "acht" in "Acht geben").
    assert find_number_refs("Ein Elf und acht Zwerge; vier gewinnt.") == []


def test_counts_of_a_series() -> None:
    counts = find_counts("In a ten-episode long series; a six-part drama; Eight episodes.")
    assert [(c.noun, c.value) for c in counts] == [("episode", 10), ("part", 6), ("episode", 8)]
    assert find_counts("the last two episodes and the first two chapters") == []


def test_title_numbers() -> None:
    assert title_numbers("Chapter Ten: One Year Later").nouns == (("chapter", 10),)
    assert title_numbers("268: A Tarnished Brass Age").episode == 268
    assert title_numbers("#985: Where Do We Get $2,000,000,000,000?").episode == 985
    assert title_numbers("CRE182 Elektronisches Geld").episode == 182
    assert title_numbers("Episode 600 Sep 11th 2017").episode == 600
    numbers = title_numbers("S03 Episode 02: You've Got Some Gauls")
    assert (numbers.season, numbers.episode) == (3, 2)
    assert title_numbers("Booth: All Honorable Men | 15").plain == 15
    assert title_numbers("Giant Bombcast Game of the Year 2017: Day Four Deliberations").nouns == (
        ("day", 4),
    )
    # A year is not an episode number.
    assert title_numbers("Introducing 1865").plain is None
    assert title_numbers("1865").episode is None
    # A number written out heading a title, set off by a mark, numbers the episode;
    # without the mark it is the title's own word.
    assert title_numbers("Three: Mirror Image").episode == 3
    assert title_numbers("Twenty-One - The Return").episode == 21
    assert title_numbers("Ten. Homecoming").episode == 10
    assert title_numbers("Ten Things I Know").episode is None
    assert title_numbers("One Year Later").episode is None
    assert title_numbers("First: The Beginning").episode is None  # an ordinal is a word


def test_roman_numerals() -> None:
    assert [roman(r) for r in ["I", "II", "IV", "ix", "XIV", "xxx"]] == [1, 2, 4, 9, 14, 30]
    assert roman("I'm") is None
    assert roman("mix") is None

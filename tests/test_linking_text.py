"""Tokens, folding, case, quotes, time references (aggregator.linking.text, timeref)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from hypothesis import example, given
from hypothesis import strategies as st

from aggregator.linking.text import case_flags, fold, quoted_spans, terms, tokenize
from aggregator.linking.timeref import find_dates, find_relative, title_date
from aggregator.linking.urls import prefixes, url_key


@given(st.text(max_size=400))
@example("ep. 12345678901234567890th, C.G.P. 2,500 & co")
def test_token_spans_are_exact(text: str) -> None:
    previous = 0
    for token in tokenize(text):
        assert previous <= token.start < token.end <= len(text)
        raw = text[token.start : token.end]
        # Folded, with a run of more than 15 digits cut to its first 15; "&" is "and".
        folded = "and" if raw == "&" else fold(raw.replace(".", "").replace(",", ""))
        assert token.norm == re.sub(r"\d{16,}", lambda m: m.group()[:15], folded)
        previous = token.end
    assert len(case_flags(text, tokenize(text))) == len(tokenize(text))
    for start, end in quoted_spans(text):
        assert 0 < start <= end < len(text)


def test_folding_meets_accents_and_case() -> None:
    assert fold("Hörempfehlung") == "horempfehlung"
    assert fold("CALLIMACHI") == fold("callimachi")
    assert [t.norm for t in tokenize("C.G.P. Grey's $2,500")] == ["cgp", "grey", "s", "2500"]
    assert list(terms("The Episodes of CRE")) == ["episode", "cre"]


def test_case_is_judged_per_paragraph() -> None:
    text = "Subject: Serial Hearing\nsarah and dana did it again. honestly great"
    flags = case_flags(text, tokenize(text))
    assert flags[:3] == [True, True, True]
    assert set(flags[3:]) == {False}


def test_quotes() -> None:
    text = 'The episode "You in the Red Shirt" and ‘Pleas Baby Pleas’ but not don\'t'
    found = [text[s:e] for s, e in quoted_spans(text)]
    assert found == ["You in the Red Shirt", "Pleas Baby Pleas"]


def test_relative_references() -> None:
    def kinds(text: str) -> list[tuple[str, int | None, bool]]:
        return [(r.kind, r.weekday, r.last) for r in find_relative(text)]

    assert kinds("A plot twist in the last episode") == [("finale", None, False)]
    assert kinds("Last Friday's episode was the funeral") == [("weekday", 4, True)]
    assert kinds("this week's installment") == [("this_week", None, False)]
    assert kinds("last week's This American Life") == [("last_week", None, False)]
    assert kinds("the latest Planet Money") == [("latest", None, False)]
    assert kinds("Tuesday's season finale") == [("weekday", 1, False), ("finale", None, False)]
    assert kinds("The premiere drops you in; the opener was better") == [
        ("premiere", None, False),
        ("premiere", None, False),
    ]
    assert kinds("Die neue Folge von CRE") == [("latest", None, False)]
    assert kinds("the past fortnight") == [("fortnight", None, False)]
    # Not about an episode: the newest series, the last weeks of a siege.
    assert kinds("The newest series from the team; the last weeks of the siege") == []


def test_dates() -> None:
    found = find_dates("released in April 2018, from June 2011, posted 10/28/2014, May 5, 2014")
    assert [(d.year, d.month, d.day) for d in found] == [
        (2018, 4, None),
        (2011, 6, None),
        (2014, 10, 28),
        (2014, 5, 5),
    ]
    assert find_dates("you may 2018") == []
    assert title_date("Giant Bombcast 10/28/2014") == datetime(2014, 10, 28, tzinfo=UTC)
    assert title_date("Episode 600 Sep 11th 2017") == datetime(2017, 9, 11, tzinfo=UTC)


def test_url_keys() -> None:
    assert url_key("https://www.Relay.fm/cortex/") == url_key("http://relay.fm/cortex")
    assert url_key("https://serialpodcast.org/season-three/6/you-in-the-red-shirt?ref=x#top") == (
        "serialpodcast.org/season-three/6/you-in-the-red-shirt"
    )
    # A tracking prefix is unwrapped to the file it forwards to.
    wrapped = (
        "https://www.podtrac.com/pts/redirect.mp3/traffic.libsyn.com/connected/Connected_185.mp3"
    )
    assert url_key(wrapped) == "traffic.libsyn.com/connected/connected_185.mp3"
    assert url_key("#comments") is None
    assert url_key("mailto:someone@example.com") is None
    assert prefixes("relay.fm/cortex/62") == ["relay.fm/cortex", "relay.fm"]

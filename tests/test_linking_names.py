"""People's names: NYSIIS, extraction from descriptions, fuzzy matching (linking.names)."""

from __future__ import annotations

import pytest
from rapidfuzz import fuzz

from aggregator.linking import names as names_module
from aggregator.linking.names import NAME_RATIO, NameIndex, extract_names, nysiis, split_credit
from aggregator.linking.text import case_flags, tokenize

# Codes checked against jellyfish 1.3 (jellyfish.nysiis), a well-kept implementation.
_JELLYFISH = {
    "Callimachi": "CALANAC",
    "Challimachi": "CALANAC",
    "Calimacchi": "CALANAC",
    "Callamachi": "CALANAC",
    "Kallimachi": "CALANAC",
    "Calamari": "CALANAR",
    "Carmichael": "CARNACAL",
    "Knight": "NAGT",
    "Macintosh": "MCANT",
    "Phillips": "FALAP",
    "Lewis": "LAE",
    "Falah": "FAL",
    "Schmidt": "SNAD",
    "Gerstmann": "GARSTNAN",
    "Huzayfah": "HASAYF",
}


def test_nysiis_matches_a_reference_implementation() -> None:
    for word, code in _JELLYFISH.items():
        assert nysiis(word) == code, word


def test_ratio_threshold_accepts_misspellings_and_rejects_lookalikes() -> None:
    # The measurement NAME_RATIO was chosen by, repeated: fuzz.ratio >= 88 on the name
    # takes the misspellings reviewers wrote and leaves the other names alone.
    for variant in ("Challimachi", "Calimacchi", "Callamachi"):
        assert fuzz.ratio(variant.lower(), "callimachi") >= NAME_RATIO
    for other in ("Calamari", "Carmichael"):
        assert fuzz.ratio(other.lower(), "callimachi") < NAME_RATIO


def _index(*names: str) -> tuple[NameIndex, dict[str, int]]:
    index = NameIndex()
    ids = {}
    for name in names:
        name_id = index.acquire(name)
        assert name_id is not None
        ids[name] = name_id
    return index, ids


def _found(index: NameIndex, text: str) -> list[tuple[str, str]]:
    tokens = tokenize(text)
    hits = index.match(text, tokens, case_flags(text, tokens))
    return [(text[h.start : h.end], index.display(h.name_id)) for h in hits]


def test_misspelled_names_are_found_with_their_spans() -> None:
    index, _ = _index("Rukmini Callimachi", "Andy Mills", "CGP Grey")
    text = (
        "Challimachi puts a voice to it. - Rukmini Calimacchi. Later Callamachi, and "
        "the producer Andy Mils. Also C.G.P. Gray. Not Calamari, not Carmichael."
    )
    found = _found(index, text)
    assert ("Challimachi", "Rukmini Callimachi") in found
    assert ("Rukmini Calimacchi", "Rukmini Callimachi") in found
    assert ("Callamachi", "Rukmini Callimachi") in found
    assert ("Andy Mils", "Andy Mills") in found
    assert ("C.G.P. Gray", "CGP Grey") in found
    assert not any(span in ("Calamari", "Carmichael") for span, _ in found)


def test_names_must_be_capitalised_where_the_writer_uses_capitals() -> None:
    index, _ = _index("Dave Jones")
    assert _found(index, "It was Dave Jones who said so.") == [("Dave Jones", "Dave Jones")]
    assert _found(index, "It was dave jones who said so. Really.") == []
    # ... but a forum post in lower case still names him.
    assert _found(index, "lol dave jones again. so good") == [("dave jones", "Dave Jones")]


def test_a_name_used_again_is_found_again_where_its_words_and_capitals_allow() -> None:
    # Few names (checked one by one) and many sharing a word (checked in bulk): a name
    # used again in the same words is found at each place, with its own span; the
    # same words with a lower-case surname give only the lone first name.
    many = [f"Rukmini {s}" for s in _SURNAMES]
    for names in (["Rukmini Callimachi"], [*many, "Rukmini Callimachi"]):
        index, _ = _index(*names)
        text = (
            "Rukmini Callimachi reports. Rukmini Callimachi reports. "
            "Rukmini callimachi reports. Rukmini Callimachi reports."
        )
        tokens = tokenize(text)
        hits = [
            (h.start, text[h.start : h.end], h.full)
            for h in index.match(text, tokens, case_flags(text, tokens))
            if index.display(h.name_id) == "Rukmini Callimachi"
        ]
        starts = [m for m in range(len(text)) if text.startswith("Rukmini", m)]
        assert hits == [
            (starts[0], "Rukmini Callimachi", True),
            (starts[1], "Rukmini Callimachi", True),
            (starts[2], "Rukmini", False),
            (starts[3], "Rukmini Callimachi", True),
        ]


def test_names_leave_the_index_with_their_last_owner() -> None:
    index, ids = _index("Sarah Koenig")
    again = index.acquire("Sarah Koenig")
    assert again == ids["Sarah Koenig"]
    index.release(again)
    assert _found(index, "Sarah Koenig narrates.") == [("Sarah Koenig", "Sarah Koenig")]
    index.release(again)
    assert len(index) == 0
    assert _found(index, "Sarah Koenig narrates.") == []


def test_names_in_descriptions() -> None:
    text = (
        "Michael Barbaro talks with the executive editor, Dean Baquet, and with Mark "
        "Mazzetti. Hosted by Daniel J. Lewis. The New York Times and the Islamic State."
    )
    assert extract_names(text) == [
        "Michael Barbaro",
        "Dean Baquet",
        "Mark Mazzetti",
        "Daniel J Lewis",
    ]
    assert split_credit("Adam Curry & John C. Dvorak") == ["Adam Curry", "John C. Dvorak"]
    assert split_credit("Airship / Wondery") == ["Airship", "Wondery"]


# Surnames for the many-names tests: 40 "John <surname>" guests make "John" pull more
# names than the index checks one by one.
_SURNAMES = [
    "Abbott",
    "Barker",
    "Carver",
    "Dalton",
    "Ellison",
    "Fenwick",
    "Garrity",
    "Holloway",
    "Ingram",
    "Jessup",
    "Kendrick",
    "Lockhart",
    "Marlowe",
    "Norwood",
    "Oakley",
    "Pemberton",
    "Quinlan",
    "Radcliffe",
    "Stanton",
    "Thornbury",
    "Upton",
    "Vance",
    "Whitaker",
    "Yardley",
    "Ashworth",
    "Blakely",
    "Crawley",
    "Draper",
    "Eastwood",
    "Fairbanks",
    "Goodwin",
    "Hartley",
    "Irving",
    "Jarvis",
    "Kirkland",
    "Langley",
    "Merriweather",
    "Nettleton",
    "Osborne",
    "Prescott",
]


def test_a_word_many_names_share_finds_the_same_names_as_few() -> None:
    few, _ = _index("John Whitaker", "Rukmini Callimachi")
    many, _ = _index(*(f"John {s}" for s in _SURNAMES), "Rukmini Callimachi")
    text = "Jon Whitacker told John Lockhart, then Calimacchi; later John again."
    from_few = _found(few, text)
    assert ("Jon Whitacker", "John Whitaker") in from_few
    assert ("Calimacchi", "Rukmini Callimachi") in from_few
    from_many = _found(many, text)
    assert ("Jon Whitacker", "John Whitaker") in from_many
    assert ("John Lockhart", "John Lockhart") in from_many
    # A lone "John" is one word of each of the 40 names (and the first "John" is one
    # word of the 39 other names, besides the start of "John Lockhart").
    assert sum(1 for span, _ in from_many if span == "John") == 39 + 40


def test_single_word_hits_only_for_the_names_asked_for() -> None:
    index, ids = _index(*(f"John {s}" for s in _SURNAMES), "Rukmini Callimachi", "Serial")
    text = "John Lockhart and John met Callimachi, of Serial."
    tokens = tokenize(text)
    wanted = {ids["Rukmini Callimachi"]}
    hits = index.match(text, tokens, case_flags(text, tokens), partial=wanted)
    found = [(text[h.start : h.end], index.display(h.name_id), h.full) for h in hits]
    assert found == [
        ("John Lockhart", "John Lockhart", True),
        ("Callimachi", "Rukmini Callimachi", False),
        ("Serial", "Serial", True),  # a one-word name is whole when found alone
    ]


def test_bulk_checks_give_what_one_by_one_checks_give(monkeypatch: pytest.MonkeyPatch) -> None:
    names = [f"John {s}" for s in _SURNAMES] + [f"Jon {s}" for s in _SURNAMES[:20]]
    names += [f"{s} Johnson" for s in _SURNAMES[20:]] + ["Johns", "Rukmini Callimachi"]
    # Names with a word they are not looked up by ("de", "al"): their windows are
    # aligned only on the others.
    names += ["John de Vries", "Ali al John", "Jon de Wit"]
    text = (
        "John Whitacker and Jon Lockheart met john. JOHN DALTON, Johnson and Jonh Upton.\n"
        "later johns and jon osborne talked to Prescott Johnsen and Calimacchi.\n"
        "Ashworth, Goodwin Jonson; John Kirklands, John. Jon de Vries, Ali al Jon, John de Wit."
    )
    tokens = tokenize(text)
    cased = case_flags(text, tokens)
    index, ids = _index(*names)
    for partial in (None, {ids["John Dalton"], ids["Prescott Johnson"]}):
        bulk = index.match(text, tokens, cased, partial=partial)
        monkeypatch.setattr(names_module, "_BULK", 10**9)
        fresh, _ = _index(*names)
        one_by_one = fresh.match(text, tokens, cased, partial=partial)
        monkeypatch.undo()
        assert len(bulk) > 10
        assert [(h.name_id, h.start, h.end, h.ratio, h.full) for h in bulk] == [
            (h.name_id, h.start, h.end, h.ratio, h.full) for h in one_by_one
        ]

"""The linker on a small hand-built catalog: each signal, abstention, relations."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aggregator.linking import Catalog, Linker
from aggregator.linking.analysis import analyse
from aggregator.linking.linker import Scored
from aggregator.types import (
    CatalogEpisode,
    CatalogSeries,
    HyperLink,
    LinkProposal,
    Person,
    Relation,
    ReviewDocument,
)

CHAPTERS = ["Prologue: The Mission", "Chapter One: The Reporter", "Chapter Two: Recruitment",
            "Chapter Three: The Arrival", "Chapter Four: Us vs. Them"]  # fmt: skip
CHAPTER_NOTES = [
    "A man describes how the Islamic State taught its recruits to kill.",
    "Rukmini Callimachi follows coalition troops into buildings in Iraq and collects paperwork.",
    "A young Canadian man explains how he was recruited online by the group.",
    "He arrives in Syria, crosses the border and is taken in by the group.",
    "He is summoned to a secret meeting and describes the first killing.",
]
START = datetime(2018, 4, 19, 10, tzinfo=UTC)


def caliphate() -> CatalogSeries:
    episodes = tuple(
        CatalogEpisode(
            id=100 + i,
            series_id=1,
            guid=f"cal-{i}",
            title=title,
            description_text=CHAPTER_NOTES[i],
            published=START + timedelta(weeks=max(0, i - 1)),
            number=i + 1,  # itunes:episode counts the prologue, as the real feed does
            episode_type="full",
            enclosure_url=f"https://audio.example.com/caliphate/{i}.mp3",
        )
        for i, title in enumerate(CHAPTERS)
    )
    return CatalogSeries(
        id=1,
        title="Caliphate",
        feed_url="https://feeds.example.com/caliphate.xml",
        author="The New York Times",
        description_text=(
            "Who are the people who join the Islamic State? Rukmini Callimachi, who covers "
            "terrorism for The New York Times, sets out to answer that with Andy Mills."
        ),
        link="https://www.nytimes.com/caliphate",
        persons=(Person("Rukmini Callimachi", "host"), Person("Andy Mills", "producer")),
        episodes=episodes,
    )


def serial() -> CatalogSeries:
    titles = ["The Alibi", "The Breakup", "Leakin Park", "Inconsistencies"]
    notes = [
        "Hae Min Lee disappears after school; Adnan Syed is arrested.",
        "Their relationship began like a storybook high-school romance.",
        "A man stops his car in Leakin Park and finds a body.",
        "Jay's story changes again between interviews.",
    ]
    episodes = tuple(
        CatalogEpisode(
            id=200 + i,
            series_id=2,
            guid=f"s01-e{i + 1:02}",
            title=f"S01 Episode {i + 1:02}: {title}",
            description_text=notes[i],
            published=datetime(2014, 10, 3, 10, tzinfo=UTC) + timedelta(weeks=i),
            link=f"https://serialpodcast.org/season-one/{i + 1}/{title.lower().replace(' ', '-')}",
        )
        for i, title in enumerate(titles)
    )
    return CatalogSeries(
        id=2,
        title="Serial",
        feed_url="https://feeds.example.com/serial.xml",
        author="This American Life",
        description_text="Serial is a podcast hosted by Sarah Koenig. One story, week by week.",
        link="https://serialpodcast.org",
        episodes=episodes,
    )


def connected() -> CatalogSeries:
    titles = ["Mindset of 2001", "The Pasta and The Pizza", "Double Secret Briefing Area"]
    episodes = tuple(
        CatalogEpisode(
            id=300 + i,
            series_id=3,
            guid=f"http://relay.fm/connected/{i + 1}",
            title=f"Connected {i + 1}: {title}",
            description_text="Federico, Myke and Stephen discuss the iPod and apps.",
            published=datetime(2014, 8, 18, 7, tzinfo=UTC) + timedelta(weeks=i),
            link=f"http://relay.fm/connected/{i + 1}",
        )
        for i, title in enumerate(titles)
    )
    return CatalogSeries(
        id=3,
        title="Connected",
        feed_url="https://www.relay.fm/connected/feed",
        author="Relay FM",
        description_text=(
            "Connected is a weekly panel discussion on Apple. Hosted by Federico Viticci, "
            "Myke Hurley, and Stephen Hackett."
        ),
        link="https://www.relay.fm/connected",
        episodes=episodes,
    )


@pytest.fixture(scope="module")
def linker() -> Linker:
    return Linker(Catalog.build([caliphate(), serial(), connected()]))


def review(text: str, published: str, **extra: object) -> ReviewDocument:
    when = datetime.fromisoformat(published).replace(tzinfo=UTC)
    return ReviewDocument(text=text, published=when, **extra)  # type: ignore[arg-type]


def reviewed(proposals: list[LinkProposal]) -> set[int]:
    return {p.series_id for p in proposals if p.relation is Relation.REVIEWS and not p.episode_id}


def episodes(proposals: list[LinkProposal]) -> set[int]:
    return {p.episode_id for p in proposals if p.episode_id and p.relation is Relation.REVIEWS}


def scored_for(linker: Linker, text: str, published: str, series_id: int) -> Scored:
    """The one candidate ``linker`` scores for ``series_id`` in a review of ``text``."""
    [scored] = [
        s for s in linker.score(review(text, published)) if s.signals.series.id == series_id
    ]
    return scored


def assert_evidence_spans(text: str, proposals: list[LinkProposal]) -> None:
    for proposal in proposals:
        assert 0.0 <= proposal.score <= 1.0
        assert proposal.evidence
        for e in proposal.evidence:
            if e.start >= 0:
                assert text[e.start : e.end] == e.text


CALIPHATE_REVIEW = (
    "Listening to the enemy\n\n"
    "Caliphate, the New York Times podcast, is the most unsettling thing I have heard "
    "this year. Challimachi travels to Iraq and collects the paperwork the group left "
    "behind; later Calimacchi sits down with a young Canadian man who says he was "
    "recruited online. Callamachi keeps him talking. The producer, Andy Mils, asks the "
    "naive questions. It is as gripping as Serial, though it is a different animal."
)


def test_misspelled_host_links_the_series_with_the_misspellings_as_evidence(
    linker: Linker,
) -> None:
    proposals = linker.link(review(CALIPHATE_REVIEW, "2018-05-20"))
    assert reviewed(proposals) == {1}
    series = next(p for p in proposals if p.series_id == 1 and p.episode_id is None)
    people = {e.text for e in series.evidence if e.kind == "person"}
    assert {"Challimachi", "Calimacchi", "Callamachi", "Andy Mils"} <= people
    assert any(e.kind == "series-title" and e.text == "Caliphate" for e in series.evidence)
    assert_evidence_spans(CALIPHATE_REVIEW, proposals)


def test_a_show_named_as_a_comparison_is_a_mention(linker: Linker) -> None:
    proposals = linker.link(review(CALIPHATE_REVIEW, "2018-05-20"))
    assert 2 not in reviewed(proposals)
    mentions = [p for p in proposals if p.series_id == 2]
    assert [p.relation for p in mentions] == [Relation.MENTIONS]
    assert mentions[0].evidence[0].text == "Serial"


@pytest.mark.parametrize(
    ("sentence", "defined"),
    [
        ("Caliphate, the New York Times podcast, is unsettling.", True),
        ("I listened to the podcast Caliphate twice.", True),
        ("Caliphate, a word with a long history, is on my mind.", False),
        ("Caliphate is unsettling, and the podcast knows it.", False),
    ],
)
def test_a_name_defined_as_a_podcast_is_a_name(
    linker: Linker, sentence: str, defined: bool
) -> None:
    # An apposition or the noun before it says the word is a podcast's name as clearly
    # as quotes do; a one-word name at a sentence's start otherwise says little.
    text = f"Notes\n\nA long week. {sentence} More soon."
    scored = {c.signals.series.id: c for c in linker.score(review(text, "2018-05-20"))}
    assert (scored[1].signals.features.name >= 0.9) is defined


def test_a_show_named_as_someones_credit_is_not_what_the_text_is_about(linker: Linker) -> None:
    # A profile of a host names the show for who she is ("host of", "the reporter
    # behind"), as a comparison names a show for what another is like: such uses do not
    # make the show the text's subject (``compare`` is their share of the name's uses).
    profile = (
        "Rukmini Callimachi, host of Caliphate, on her new book\n\n"
        "The reporter behind Caliphate has turned to a family story. Her book follows "
        "her grandmother's flight from Romania. Caliphate producers helped with the "
        "research, she says."
    )
    scored = {c.signals.series.id: c for c in linker.score(review(profile, "2024-05-01"))}
    assert scored[1].signals.features.compare == 1.0
    assert reviewed(linker.link(review(profile, "2024-05-01"))) == set()
    subject = (
        profile.replace("host of Caliphate", "on Caliphate")
        .replace("The reporter behind Caliphate", "Caliphate")
        .replace("Caliphate producers", "Its producers")
    )
    scored = {c.signals.series.id: c for c in linker.score(review(subject, "2024-05-01"))}
    assert scored[1].signals.features.compare == 0.0


def test_news_about_the_caliphate_links_nothing(linker: Linker) -> None:
    text = (
        "Last IS enclave falls in eastern Syria\n\n"
        "Kurdish-led forces said on Saturday they had taken Baghuz, the final scrap of "
        "territory held by the Islamic State, ending the physical caliphate that the group "
        "proclaimed five years ago across Syria and Iraq. Thousands of fighters surrendered."
    )
    assert reviewed(linker.link(review(text, "2019-03-23"))) == set()


def test_news_of_the_show_itself_is_a_mention_not_a_review(linker: Linker) -> None:
    # Named in the headline and throughout, with its host and its episodes, as a review
    # names it; but the text reports (said, prosecutors, statement, court) and judges
    # nothing. ``report`` weighs that end of ``opinion`` on its own.
    title = "Times returns Peabody for Caliphate podcast"
    body = (
        "The New York Times said on Friday it would return the Peabody award for Caliphate, "
        "its podcast on the Islamic State, after prosecutors charged the man at the centre of "
        "the series with a hoax. Rukmini Callimachi has been reassigned, the paper said in a "
        "statement. Caliphate's ten episodes stay online with an editors' note. A lawyer for "
        "the man said he would plead not guilty in court."
    )
    news = review(body, "2020-12-18", title=title)
    scored = {c.signals.series.id: c for c in linker.score(news)}
    assert scored[1].signals.features.report == pytest.approx(scored[1].signals.features.name)
    proposals = linker.link(news)
    assert reviewed(proposals) == set()
    assert {p.relation for p in proposals if p.series_id == 1} == {Relation.MENTIONS}
    # A review that judges has nothing on that end.
    judged = {c.signals.series.id: c for c in linker.score(review(CALIPHATE_REVIEW, "2018-05-20"))}
    assert judged[1].signals.features.report == 0.0


def test_a_reporter_in_a_book_review_links_nothing(linker: Linker) -> None:
    text = (
        "Review: inside the minds of the men who joined\n\n"
        "Graeme Wood's book on the Islamic State is a series of conversations with "
        "believers. Readers who followed the group through newspaper reporting -- Rukmini "
        "Callimachi's dispatches from Iraq among them -- will find the ideology laid out here."
    )
    assert reviewed(linker.link(review(text, "2017-01-15"))) == set()


def test_a_chapter_number_follows_the_title_not_the_itunes_number(linker: Linker) -> None:
    text = (
        "Caliphate, Chapter 4. In this week's instalment of the New York Times podcast the "
        "young Canadian is summoned to a secret meeting. Callimachi does not editorialise."
    )
    proposals = linker.link(review(text, "2018-05-12"))
    assert reviewed(proposals) == {1}
    assert episodes(proposals) == {104}  # "Chapter Four", whose itunes:episode is 5
    assert_evidence_spans(text, proposals)


def test_the_last_episode_is_the_last_one_before_the_review(linker: Linker) -> None:
    text = (
        "Rukmini Callimachi's Caliphate podcast keeps getting darker. A plot twist in the "
        "last episode made me rethink everything the young Canadian had said."
    )
    for published, expected in (("2018-05-05", 103), ("2018-05-12", 104)):
        scored = linker.score(review(text, published))
        best = max(scored[0].episodes, key=lambda item: item[1])[0]
        assert best.episode.id == expected  # Chapter Three, then Chapter Four
        assert best.features.relative == 1.0
        assert [e.text for e in best.evidence if e.kind == "relative"] == ["last episode"]


def test_an_episode_title_and_a_link_to_its_page(linker: Linker) -> None:
    text = "Serial, week three: Leakin Park is where Sarah Koenig's map starts to matter."
    proposals = linker.link(review(text, "2014-10-19"))
    assert reviewed(proposals) == {2}
    assert episodes(proposals) == {202}
    linked_text = "This week's Serial is the best yet, says everyone. Go listen to it."
    start = linked_text.index("Serial")
    link = HyperLink(
        "https://serialpodcast.org/season-one/2/the-breakup", "Serial", start, start + 6
    )
    proposals = linker.link(review(linked_text, "2014-10-12", links=(link,)))
    assert episodes(proposals) == {201}
    episode = next(p for p in proposals if p.episode_id == 201)
    assert episode.evidence[0].kind == "hyperlink"


def test_hosts_by_first_name_name_a_show_with_a_common_word_title(linker: Linker) -> None:
    text = (
        "New on the dial: Connected. The debut of Relay's new weekly show has Federico, "
        "Myke and Stephen talking about the history of the iPod for an hour."
    )
    proposals = linker.link(review(text, "2014-08-22"))
    assert reviewed(proposals) == {3}
    assert episodes(proposals) == {300}  # "the debut"
    text = "We are all connected now, said the minister, announcing a new broadband plan."
    assert reviewed(linker.link(review(text, "2014-08-22"))) == set()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    text=st.lists(
        st.sampled_from(
            [
                "Caliphate",
                "Serial",
                "Callimachi",
                "episode",
                "Chapter",
                "4",
                "the last",
                "#2",
                "Leakin Park",
                '"',
                "\n",
                ". ",
                "x",
                "Myke",
                "this week's",
                "premiere",
                "ten-part",
            ]
        )
        | st.text(max_size=8),
        max_size=60,
    ).map(" ".join)
)
def test_arbitrary_text_never_crashes_and_stays_in_bounds(linker: Linker, text: str) -> None:
    proposals = linker.link(review(text, "2018-06-01"))
    assert_evidence_spans(text, proposals)


def _tech_show(first_number: int) -> CatalogSeries:
    """A weekly show whose feed starts at ``first_number`` (1: the whole show; later:
    a feed that keeps only its latest episodes, as long-running shows' feeds do)."""
    start = datetime(2016, 5, 13, 1, tzinfo=UTC)
    episodes = tuple(
        CatalogEpisode(
            id=400 + i,
            series_id=4,
            guid=f"atp-{first_number + i}",
            title=f"{first_number + i}: Keyboards, Part {chr(65 + i)}",
            description_text="Marco, Casey and John talk about Apple.",
            published=start + timedelta(weeks=i),
        )
        for i in range(3)
    )
    return CatalogSeries(
        id=4,
        title="Accidental Tech Podcast",
        feed_url="https://atp.example.com/rss",
        author="Marco Arment, Casey Liss, John Siracusa",
        description_text="Three nerds discussing tech, Apple and programming.",
        episodes=episodes,
    )


@pytest.mark.parametrize(("first_number", "predates"), [(1, True), (0, True), (169, False)])
def test_a_review_older_than_a_feed_predates_the_show_only_if_the_feed_starts_it(
    first_number: int, predates: bool
) -> None:
    text = (
        "Accidental Tech Podcast review: I love the Accidental Tech Podcast. Marco Arment "
        "and John Siracusa argue about everything and I recommend every episode."
    )
    linker = Linker(Catalog.build([_tech_show(first_number)]))
    scored = scored_for(linker, text, "2015-02-15", 4)
    assert (scored.signals.features.before_start == 1.0) is predates
    if not predates:
        # The feed keeps only its latest episodes: the show is older than its feed.
        assert 4 in reviewed(linker.link(review(text, "2015-02-15")))


def test_an_episode_title_in_a_tv_recap_is_the_tv_series_episode(linker: Linker) -> None:
    # An adaptation takes over the podcast's episode titles: in a text about watching,
    # "Leakin Park" is the TV episode, however well it matches the podcast's.
    watched = (
        'Serial on TV, episode recap: "Leakin Park". The actors carry this hour of '
        "television; I watched it twice on the streaming service and the cast, the "
        "director and the cinematography make the screen version worth watching."
    )
    listened = (
        'Serial, episode review: "Leakin Park". Sarah Koenig\'s narration carries this '
        "hour of audio; I listened to it twice on my headphones and the podcast's "
        "sound design makes it worth a listen."
    )
    when = "2014-11-20"
    assert 202 not in episodes(linker.link(review(watched, when)))
    assert 202 in episodes(linker.link(review(listened, when)))


def test_a_short_run_names_each_episode_a_long_run_less_surely(linker: Linker) -> None:
    # "The first three episodes" names each of the three as surely as "the second
    # episode" names one; "the first five episodes" is how far a reviewer got at least
    # as often as what they discuss.
    def number_strength(text: str, episode_id: int) -> float:
        scored = scored_for(linker, text, "2014-12-01", 2)
        [found] = [e for e, _ in scored.episodes if e.episode.id == episode_id]
        return found.features.number

    three = "Serial, the podcast: I listened to the first three episodes of Serial."
    five = "Serial, the podcast: I listened to the first five episodes of Serial."
    one = "Serial, the podcast: I listened to the second episode of Serial."
    assert number_strength(three, 201) == pytest.approx(number_strength(one, 201))
    assert number_strength(three, 202) == pytest.approx(number_strength(one, 201))  # the third
    assert number_strength(five, 201) == pytest.approx(number_strength(one, 201) / 5**0.5)


def test_the_newest_podcast_from_its_makers_is_the_show_not_an_episode(linker: Linker) -> None:
    # Said of the show, "the newest podcast from the makers of This American Life" does
    # not point at the show's latest episode; "the latest Serial episode" does.
    show = (
        "Serial, the newest podcast from the makers of This American Life, is the best "
        "thing I have heard this year. Sarah Koenig's reporting is superb."
    )
    episode = (
        "Serial, the podcast: the latest Serial episode is the best thing I have heard "
        "this year. Sarah Koenig's reporting is superb."
    )

    def relative(text: str) -> float:
        scored = scored_for(linker, text, "2014-12-01", 2)
        return max((e.features.relative for e, _ in scored.episodes), default=0.0)

    assert relative(show) == 0.0
    assert relative(episode) > 0.0


def test_a_review_on_a_shows_own_chart_page_reviews_that_show(linker: Linker) -> None:
    # App-store and chart-site reviews sit on the show's page and seldom name it.
    text = (
        "Five stars. I could not stop listening: every chapter pulls another thread "
        "and the reporting is careful. Highly recommended."
    )
    on_page = review(
        text, "2018-07-01", url="https://charts.example.org/itunes/podcast/1379959217-caliphate"
    )
    elsewhere = review(text, "2018-07-01", url="https://blog.example.org/2018/07/five-stars")
    assert reviewed(linker.link(on_page)) == {1}
    assert reviewed(linker.link(elsewhere)) == set()


def _story_show() -> CatalogSeries:
    """A narrative show whose feed opens with a trailer (``itunes:episode`` 1) and whose
    titles number their episodes in words, as such shows' feeds do."""
    titles = ["Start Here", "One: Wonderland", "Two: Open Doors", "Three: Mirror Image",
              "Four: Headquarters", "Five: The Emperor"]  # fmt: skip
    episodes = tuple(
        CatalogEpisode(
            id=500 + i,
            series_id=5,
            guid=f"story-{i}",
            title=title,
            description_text="Kevin Roose follows a young man down the video site's paths.",
            published=datetime(2020, 4, 16, 10, tzinfo=UTC) + timedelta(weeks=i),
            number=i + 1,
            episode_type="trailer" if i == 0 else "full",
        )
        for i, title in enumerate(titles)
    )
    return CatalogSeries(
        id=5,
        title="Down the Burrow",
        feed_url="https://feeds.example.com/burrow.xml",
        author="The Daily Paper",
        description_text="Kevin Roose on what the internet is doing to us.",
        persons=(Person("Kevin Roose", "host"),),
        episodes=episodes,
    )


def test_a_title_that_numbers_itself_overrules_the_feeds_count() -> None:
    # itunes:episode 4 is "Three" (the trailer is counted); the review's "episode four"
    # is the episode titled "Four".
    linker = Linker(Catalog.build([_story_show()]))
    text = (
        "Down the Burrow review: Kevin Roose's podcast Down the Burrow is gripping. "
        "Episode four, the one about the company and its boss, is the "
        "best hour of the series and I recommend it."
    )
    proposals = linker.link(review(text, "2020-06-01"))
    assert 5 in reviewed(proposals)
    linked = {p.episode_id for p in proposals if p.episode_id is not None}
    assert 504 in linked  # "Four: Headquarters"
    assert 503 not in linked  # "Three: Mirror Image", itunes:episode 4


def test_each_episode_of_a_list_of_favourites_is_linked(linker: Linker) -> None:
    # Titles matched by different words are different references: the older episodes
    # of a list are not discounted as ambiguous matches of the newest one.
    text = (
        "My favourite Serial episodes, a review. Sarah Koenig's podcast Serial is "
        'the best thing I listened to this year. My favourites: "The Alibi", for the '
        'timeline; "The Breakup", for the letters; and "Inconsistencies", for '
        "Jay's interviews."
    )
    show = scored_for(linker, text, "2014-12-20", 2)
    titled = {e.episode.id: e.features.title for e, _ in show.episodes}
    # Each title is quoted whole: each is as sure as the others, the oldest included.
    assert titled[200] == titled[201] == titled[203] == 1.0
    assert titled.get(202, 0.0) == 0.0  # "Leakin Park" is not in the list


def test_one_phrase_matching_several_titles_is_one_reference() -> None:
    # The same words matching two titles are one reference that either could answer:
    # the older episode keeps half of what the newer one gets.
    two_parts = _weekly_show(
        6,
        "Radio Stories",
        ["Harper High School - Part One", "Harper High School - Part Two"],
        notes="Five months inside a school in Chicago.",
        start=datetime(2013, 2, 15, tzinfo=UTC),
    )
    linker = Linker(Catalog.build([two_parts]))
    text = "Radio Stories review: the podcast Radio Stories went to Harper High School."
    [show] = linker.score(review(text, "2013-04-01"))
    titled = {e.episode.id: e.features.title for e, _ in show.episodes}
    assert titled[601] > 0.0
    assert titled[600] == pytest.approx(titled[601] / 2, abs=0.01)


def _weekly_show(
    series_id: int, title: str, titles: list[str], notes: str, start: datetime
) -> CatalogSeries:
    """A show of one episode a week, each titled as ``titles`` says, ids from
    ``series_id`` * 100."""
    return CatalogSeries(
        id=series_id,
        title=title,
        feed_url=f"https://feeds.example.com/{series_id}.xml",
        description_text="Stories from around the country, every week.",
        episodes=tuple(
            CatalogEpisode(
                id=series_id * 100 + i,
                series_id=series_id,
                guid=f"{series_id}-{i}",
                title=episode_title,
                description_text=notes,
                published=start + timedelta(weeks=i),
            )
            for i, episode_title in enumerate(titles)
        ),
    )


def _strand_show() -> CatalogSeries:
    """A show whose feed holds a four-part strand ("Small Town Saints - Ep. N") beside
    its own stories, one of them published three times (reruns keep their title)."""
    titles = [*(f"Small Town Saints - Ep. {n}" for n in range(1, 5)),
              "#286: Summer Camp", "#286: Summer Camp", "#286: Summer Camp (2019)",
              "Folge 1: Der Anfang", "Folge 2: Das Ende", "Folge 3: Die Rückkehr",
              # A strand is a few of a feed's many stories: its words are rare in it.
              *(f"{place} Harbour" for place in ("North", "South", "East", "West", "Old",
                "New", "Deep", "Blue", "Green", "Stone", "Iron", "Silver", "Golden",
                "Quiet", "Windy", "Far", "Near", "High", "Low", "Long"))]  # fmt: skip
    return _weekly_show(
        7, "Weekly Stories", titles, "A story from somewhere.", datetime(2019, 1, 10, tzinfo=UTC)
    )


def test_a_strand_of_the_show_names_none_of_its_episodes() -> None:
    # Reviewers name a strand of a feed as a show, for the whole of it: its name is in
    # four titles and is a title match for none. A rerun's title is still one title,
    # and "Folge 1", "Folge 2" number episodes rather than name a strand.
    linker = Linker(Catalog.build([_strand_show()]))
    text = (
        "Weekly Stories review: the podcast Weekly Stories made Small Town Saints, and "
        'I loved it. Their old "Summer Camp" story is still the best. And "Das Ende"!'
    )
    [show] = linker.score(review(text, "2019-06-01"))
    titled = {e.episode.id: e.features.title for e, _ in show.episodes}
    assert all(titled.get(700 + i, 0.0) == 0.0 for i in range(4))
    assert titled[704] > 0.0 and titled[706] > 0.0  # "Summer Camp", a rerun too
    assert titled[708] == 1.0  # "Folge 2: Das Ende"


@pytest.mark.parametrize(
    ("title", "written"),
    [("Gone and Forgotten", "Gone & Forgotten"), ("Salt & Silver", "Salt and Silver")],
)
def test_an_ampersand_is_the_word_and_in_a_shows_name(title: str, written: str) -> None:
    # Reviewers write the "and" of a title as "&" and the reverse ("Up & Vanished").
    show = _weekly_show(
        8, title, [f"Chapter {n}" for n in range(1, 7)], "A cold case.",
        datetime(2017, 1, 9, tzinfo=UTC),
    )  # fmt: skip
    text = (
        f"{written}: a podcast review. I binged all of {written} this week and loved it. "
        "The host is dogged and the ending surprised me. Highly recommended."
    )
    proposals = Linker(Catalog.build([show])).link(review(text, "2017-06-01"))
    assert 8 in reviewed(proposals)


def test_a_feed_that_numbers_its_cases_is_found_by_case_number() -> None:
    # "Case #3" is how a feed titled "Case #3 Silver Key" numbers its episodes, and
    # "case" is no name of the show: a text about a court case does not name it.
    cases = ["Lost Ring", "Old Photo", "Silver Key", "Blue Door", "Red Kite"]
    show = _weekly_show(
        9, "Small Mysteries", [f"Case #{n} {name}" for n, name in enumerate(cases, 1)],
        "A small mystery solved.", datetime(2015, 5, 4, tzinfo=UTC),
    )  # fmt: skip
    linker = Linker(Catalog.build([show]))
    text = (
        "Small Mysteries, a podcast review: I gave up after four episodes. Case #3 is "
        "the only one I cared about; case #4 lost me again."
    )
    [scored] = linker.score(review(text, "2015-07-01"))
    numbered = {e.episode.id: e.features.number for e, _ in scored.episodes}
    assert numbered[902] >= 0.9 and numbered[903] >= 0.9
    assert not any(a.kind == "prefix" for a in scored.signals.series.aliases)
    court = "The Case against the mayor went to court; the case ended in a plea deal."
    assert all(s.signals.features.name == 0.0 for s in linker.score(review(court, "2015-07-01")))


def test_a_shows_place_in_the_charts_is_not_its_first_episode() -> None:
    # "climbed all the way to No. 1" ranks the show; it does not discuss episode 1.
    show = _weekly_show(
        10, "Desert Radio", ["1 - Pilot", "2 - Glow", "3 - Station Management", "4 - The Drawing"],
        "News from a small desert town.", datetime(2012, 6, 15, tzinfo=UTC),
    )  # fmt: skip
    linker = Linker(Catalog.build([show]))
    ranked = (
        "Desert Radio: why everyone is talking about this podcast. It first launched a "
        "year ago, but this summer it climbed all the way to No. 1 on iTunes. I love it."
    )
    proposals = linker.link(review(ranked, "2013-09-13"))
    assert 10 in reviewed(proposals)
    assert episodes(proposals) == set()
    numbered = ranked.replace("climbed all the way to No. 1 on iTunes", "No. 1 won me over")
    by_number = {
        e.episode.id: e.features.number
        for text in (ranked, numbered)
        for e, _ in scored_for(linker, text, "2013-09-13", 10).episodes
        if e.features.number
    }
    assert by_number == {1000: pytest.approx(1.0, abs=0.35)}  # from the second text only


def _show(series_id: int, title: str, host: str, notes: list[str]) -> CatalogSeries:
    episodes = tuple(
        CatalogEpisode(
            id=series_id * 100 + i,
            series_id=series_id,
            guid=f"{series_id}-{i}",
            title=f"Chapter {i + 1}",
            description_text=note,
            published=datetime(2019, 1, 23, 10, tzinfo=UTC) + timedelta(weeks=i),
        )
        for i, note in enumerate(notes)
    )
    return CatalogSeries(
        id=series_id,
        title=title,
        feed_url=f"https://feeds.example.com/{series_id}.xml",
        author="ABC Audio",
        description_text=f"{host} tells the story over {len(notes)} chapters.",
        persons=(Person(host, "host"),),
        episodes=episodes,
    )


@pytest.fixture(scope="module")
def spaced() -> Linker:
    dropout = _show(7, "The Dropout", "Rebecca Jarvis", ["A startup promises a blood test."])
    stown = _show(8, "S-Town", "Brian Reed", ["A clockmaker writes to a reporter."])
    return Linker(Catalog.build([dropout, stown, serial()]))


def test_a_show_named_with_its_words_spaced_otherwise_is_found(spaced: Linker) -> None:
    text = (
        "Podcast review: The Drop Out\n\n"
        "I finally listened to The Drop Out, and I could not stop. Rebecca Jarvis lays out "
        "how a startup sold a blood test that never worked. Highly recommended."
    )
    assert reviewed(spaced.link(review(text, "2019-06-01"))) == {7}
    run_together = (
        "Stown is the best podcast I heard this year: Brian Reed spends hours with a "
        "clockmaker in Alabama, and you will not forget him."
    )
    proposals = spaced.link(review(run_together, "2019-06-01", title="Stown, reviewed"))
    assert reviewed(proposals) == {8}


def test_the_words_of_a_spaced_name_in_plain_prose_are_not_the_show(spaced: Linker) -> None:
    text = (
        "Why students drop out\n\n"
        "Many students drop out in their first year. Counsellors in the city say the cost "
        "of rent is the main reason, and that schools should say so early."
    )
    assert spaced.link(review(text, "2019-06-01")) == []


def test_a_review_of_what_was_adapted_from_the_show_links_nothing(linker: Linker) -> None:
    # Written as reviews of adaptations are: the show's name in the headline, its people,
    # the podcast named as the source, and few words that say "screen".
    text = (
        "Caliphate review: a tense series about a reporter and her source\n\n"
        "Caliphate, based on the New York Times podcast, follows Rukmini Callimachi as "
        "she chases a young Canadian man who says he was recruited online. The series "
        "is gripping for four hours and then loses its nerve. I liked it anyway, and "
        "Andy Mills is better than you would expect."
    )
    assert reviewed(linker.link(review(text, "2020-03-20"))) == set()


@pytest.mark.parametrize(
    "adaptation",
    [
        "Amazon's podcast-turned-series",
        "the drama since they turned the podcast into a series",
        "the television version of the podcast",
    ],
)
def test_a_text_that_calls_itself_about_an_adaptation_is_about_watching(
    linker: Linker, adaptation: str
) -> None:
    # Said once, it outweighs a word of listening about the source.
    def medium(what: str) -> float:
        text = f"Caliphate review: {what} is tense, and I liked the podcast too."
        return analyse(review(text, "2020-03-20"), linker.catalog).audio

    assert medium(adaptation) < 0 < medium("the podcast")


def test_a_title_written_in_its_own_lower_case_words_is_the_shows_name() -> None:
    # German titles keep adjectives and verbs in lower case; a review that writes the
    # title as the feed does names the show, though not every long word is capitalised.
    slow = _show(9, "Langsam gesprochene Nachrichten", "Anna Berger", ["Die Woche in Kürze."])
    linker = Linker(Catalog.build([slow, serial()]))
    text = (
        "Guter Podcast zum Deutschlernen, aber die Texte wären getrennt viel besser. "
        "Bitte teilt die Abschnitte auf, das wäre einfach und hilfreich. Danke!"
    )
    title = "Langsam gesprochene Nachrichten | Deutsch lernen — Bewertungen"
    assert reviewed(linker.link(review(text, "2019-06-01", title=title))) == {9}


def test_a_hyphenated_name_is_capitalised_at_its_head(spaced: Linker) -> None:
    # Dutch and German write compounds with one capital: "S-town" names S-Town.
    text = (
        "Vrienden zeiden dat de podcast S-town echt de moeite waard was. Vanaf de eerste "
        "aflevering zaten we eraan vast: een klokkenmaker in Alabama en zijn stadje."
    )
    proposals = spaced.link(review(text, "2019-06-01", title="De opkomst van de podcast"))
    assert reviewed(proposals) == {8}


def test_a_headline_below_a_pages_furniture_is_the_headline(linker: Linker) -> None:
    text = (
        "Exclusive to Example News:\n\nArts 6/24/21\n\nPODCAST REVIEW: Caliphate\n\n"
        "I listened to all of it over one weekend. The reporting is careful."
    )
    a = analyse(review(text, "2018-07-01", title="PODCAST REVIEW: Caliphate"), linker.catalog)
    assert a.text[a.title_start : a.title_end] == "PODCAST REVIEW: Caliphate"
    first_line = review(
        "Caliphate, reviewed\n\nIt is careful.", "2018-07-01", title="Caliphate, reviewed"
    )
    b = analyse(first_line, linker.catalog)
    assert b.text[b.title_start : b.title_end] == "Caliphate, reviewed"
    prefixed = analyse(review("It is careful.", "2018-07-01", title="On Caliphate"), linker.catalog)
    assert prefixed.text[prefixed.title_start : prefixed.title_end] == "On Caliphate\n\n"


def _two_seasons() -> CatalogSeries:
    first = [
        ("The Alibi", "Hae Min Lee disappears after school; Adnan Syed is arrested."),
        ("The Breakup", "Adnan and Hae: a storybook high-school romance ends."),
    ]
    second = [
        ("DUSTWUN", "Bowe Bergdahl walks off his post in Afghanistan."),
        ("The Golden Chicken", "The Taliban hold Bergdahl for five years."),
    ]
    episodes = tuple(
        CatalogEpisode(
            id=500 + 10 * season + i,
            series_id=5,
            guid=f"s{season}-e{i + 1}",
            title=f"S0{season} Episode 0{i + 1}: {title}",
            description_text=note,
            published=datetime(2014 if season == 1 else 2015, 10, 3, tzinfo=UTC)
            + timedelta(weeks=i),
            season=season,
            number=i + 1,
        )
        for season, notes in ((1, first), (2, second))
        for i, (title, note) in enumerate(notes)
    )
    return CatalogSeries(
        id=5,
        title="Serial",
        feed_url="https://feeds.example.com/serial-two.xml",
        description_text="One story, told week by week, by Sarah Koenig.",
        episodes=episodes,
    )


def test_episode_one_of_a_late_review_is_of_the_season_it_talks_about() -> None:
    # Written after the second season came out, about the first without saying so:
    # its "episode 1" and "the finale" are the first season's, whose story its words
    # tell, not the newest season's.
    linker = Linker(Catalog.build([_two_seasons()]))

    def references(text: str) -> dict[int, tuple[float, float]]:
        [scored] = linker.score(review(text, "2016-02-01"))
        return {e.episode.id: (e.features.number, e.features.relative) for e, _ in scored.episodes}

    first = references(
        "Serial, the podcast: I binged it this winter. Episode 1 sets out how Hae Min Lee "
        "disappeared and Adnan Syed was arrested, and by the finale I still could not "
        "decide about Adnan. Highly recommended."
    )
    assert first[510][0] == 1.0 and first.get(520, (0.0, 0.0))[0] == 0.0
    assert first[511][1] > 0.0 and first.get(521, (0.0, 0.0))[1] == 0.0
    second = references(
        "Serial, the podcast: episode 1 follows Bowe Bergdahl, who walked off his post "
        "in Afghanistan, and the finale was a letdown. Highly recommended."
    )
    assert second[520][0] == 1.0 and second.get(510, (0.0, 0.0))[0] == 0.0
    assert second[521][1] > 0.0 and second.get(511, (0.0, 0.0))[1] == 0.0


def test_this_week_of_a_season_released_at_once_names_no_one_chapter() -> None:
    # A show that put out all its chapters the same day: "this week" names them all,
    # so each less surely, as "the first five episodes" does; a show that put out one
    # chapter that week is named by it outright.
    notes = [f"Chapter {n} of the clockmaker's story." for n in range(1, 6)]
    at_once = _show(8, "S-Town", "Brian Reed", notes)
    at_once = replace(
        at_once,
        episodes=tuple(
            replace(e, published=datetime(2017, 3, 28, 10, tzinfo=UTC)) for e in at_once.episodes
        ),
    )
    weekly = _show(8, "S-Town", "Brian Reed", notes)  # one chapter a week
    text = "S-Town, the podcast from Brian Reed: this week's chapters are all I listened to."

    def relative(show: CatalogSeries, when: str) -> dict[int, float]:
        [scored] = Linker(Catalog.build([show])).score(review(text, when))
        return {e.episode.id: e.features.relative for e, _ in scored.episodes}

    each = relative(at_once, "2017-03-31")
    assert set(each) == {800, 801, 802, 803, 804}
    assert all(v == pytest.approx(1 / 5**0.5) for v in each.values())
    assert relative(weekly, "2019-02-22").get(804) == pytest.approx(1.0)


def _streamed_show() -> CatalogSeries:
    notes = [
        f"Watch live on Twitch every Thursday: the cast of Dice Night plays chapter {i + 1} "
        f"of the campaign, {topic}. The VOD follows on YouTube."
        for i, topic in enumerate(
            ["a heist in the harbour", "the road to the mountain", "a duel at dawn"]
        )
    ]
    return _show(11, "Dice Night", "Maya Ortiz", notes)


def test_words_a_show_uses_of_itself_are_not_another_medium() -> None:
    # A show streamed as video is watched: a review of it speaks of watching and of
    # its cast as its feed does, and is still a review of the show. The same words
    # about a show that never uses them (Caliphate) still say "screen".
    linker = Linker(Catalog.build([_streamed_show(), caliphate()]))
    text = (
        "Dice Night is the best thing to watch on a Thursday\n\n"
        "I have watched every stream since the first campaign. The cast are funny and "
        "generous with each other, and Maya Ortiz runs the table like nobody else."
    )
    assert reviewed(linker.link(review(text, "2019-03-01"))) == {11}
    about_caliphate = text.replace("Dice Night", "Caliphate").replace("Maya Ortiz", "Andy Mills")
    assert reviewed(linker.link(review(about_caliphate, "2019-03-01"))) == set()


def test_an_episode_number_written_out_in_german_finds_it() -> None:
    titles = ["Folge 1: Der Anruf", "Folge 2: Die Spur", "Folge 3: Das Ende"]
    show = _weekly_show(17, "Stille Wasser", titles, "Ein Fall.", datetime(2020, 3, 2, tzinfo=UTC))
    linker = Linker(Catalog.build([show]))
    text = "Stille Wasser, der Podcast: Folge zwei ist die beste, ich habe sie zweimal gehört."
    scored = scored_for(linker, text, "2020-06-01", 17)
    numbered = {e.episode.id: e.features.number for e, _ in scored.episodes if e.features.number}
    assert numbered == {1701: pytest.approx(1.0, abs=0.1)}


def test_a_title_is_also_written_without_its_hosts_possessive() -> None:
    # "Dan Carlin's Hardcore History" is "Hardcore History" to most who review it; a
    # possessive that is not the host's ("The Teacher's Pet") stays part of the name.
    owned = replace(
        _show(13, "Ann Doe's Night Archive", "Ann Doe", ["The fall of a city."]), author="Ann Doe"
    )
    pet = _show(14, "The Gardener's Dog", "Sam Roe", ["A dog that digs up a case."])
    linker = Linker(Catalog.build([owned, pet]))
    assert ("night", "archive") in {a.tokens for a in linker.catalog.series(13).aliases}
    assert ("dog",) not in {a.tokens for a in linker.catalog.series(14).aliases}
    text = (
        "Night Archive\n\n"
        "I have listened to Night Archive for years: six hours on one war, and I still "
        "want more. The best history podcast there is."
    )
    assert reviewed(linker.link(review(text, "2019-06-01"))) == {13}


def test_initials_and_a_word_of_a_long_title_are_its_name() -> None:
    # "SE Radio" for "Software Engineering Radio": the initials are written in capitals,
    # the word after them as a name is, capitalised; all in capitals is not required.
    show = _show(15, "Software Engineering Radio", "Ann Doe", ["Ann talks about caches."])
    linker = Linker(Catalog.build([show, caliphate()]))
    for written in ("SE Radio", "SE-Radio"):
        text = f"{written} is the podcast I recommend to every developer. Great interviews."
        assert reviewed(linker.link(review(text, "2019-06-01"))) == {15}, written
    # Initials not in capitals in a capitalised text are a word, not the show.
    text = "I will see Radio tomorrow, and se Radio is not a thing. Great interviews."
    assert reviewed(linker.link(review(text, "2019-06-01"))) == set()


def test_a_title_with_a_letter_doubled_or_single_is_the_title() -> None:
    # Reviewers write a doubled letter as they hear it: "Uh Yeah Dude" for "Uhh Yeah
    # Dude". The bent title still needs a word kept as it is.
    show = _show(16, "Ohh Fine Morning", "Ann Doe", ["Two friends talk about the week."])
    linker = Linker(Catalog.build([show, caliphate()]))
    for written in ("Oh Fine Morning", "Ohhh Fine Morning", "Ohh Fine Mornning"):
        text = f"{written} is the funniest podcast I know. I listen to it every week."
        assert reviewed(linker.link(review(text, "2019-06-01"))) == {16}, written
    text = "Oh Fine Mourning is the funniest podcast I know. I listen to it every week."
    assert reviewed(linker.link(review(text, "2019-06-01"))) == set()


def test_a_former_name_the_description_gives_is_the_shows_name() -> None:
    # A renamed show says so in its description; reviews of its early years use the
    # old name ("mobileMacs" for Freak Show).
    show = replace(
        _show(17, "Night Desk", "Ann Doe", ["Gadgets, apps and the week's news."]),
        description_text="Three friends talk tech. Until 2013 the show ran under the "
        "name deskTalk; formerly known as The Late Bench before that.",
    )
    linker = Linker(Catalog.build([show, caliphate()]))
    for written in ("deskTalk", "The Late Bench"):
        text = f"{written} is the podcast I never miss: three friends, great banter, every week."
        assert reviewed(linker.link(review(text, "2019-06-01"))) == {17}, written


def test_a_word_of_another_medium_inside_a_hosts_name_is_the_name() -> None:
    # "Roman" is German for a novel, a word of reading; in "Roman Quill", a host's name,
    # it is a name. A German text about a novel still reads as one.
    show = _show(12, "Quiet Streets", "Roman Quill", ["A walk through a city's drains."])
    catalog = Catalog.build([show])
    text = (
        "Roman Quill is the voice I wish I had\n\n"
        "Roman Quill makes every street corner sound like a secret. Roman Quill's show "
        "Quiet Streets is short, and Roman Quill never wastes a second of it."
    )
    [scored] = Linker(catalog).score(review(text, "2019-06-01"))
    assert scored.signals.features.medium >= 0.0
    assert scored.signals.features.screen == 0.0
    novel = "Der neue Roman von Quiet Streets: ein Roman über die Stadt, als Buch."
    assert analyse(review(novel, "2019-06-01"), catalog).viewing["roman"] == 2


def test_a_review_of_a_streamed_shows_cartoon_is_about_watching() -> None:
    linker = Linker(Catalog.build([_streamed_show(), caliphate()]))
    text = (
        "Dice Night's animated series gets a second season\n\n"
        "The animated Dice Night returns next month with the cast voicing their "
        "characters again. The animation looks better than in the first season."
    )
    assert reviewed(linker.link(review(text, "2019-03-01"))) == set()


def test_a_post_in_a_shows_own_forum_is_about_the_show(linker: Linker) -> None:
    # Forum posts seldom name the show their forum is for: the forum's name does.
    text = (
        "Just finished the latest one and I can't stop thinking about it\n\n"
        "The part with the phone call at the end had me talking to my car radio. "
        "Honestly the best thing I've listened to all year, and I can't wait for more."
    )
    url = "https://www.reddit.com/r/serialpodcast/comments/2lhhe2/just_finished/"
    assert reviewed(linker.link(review(text, "2014-11-10", url=url))) == {2}
    elsewhere = url.replace("/r/serialpodcast/", "/r/books/")
    assert reviewed(linker.link(review(text, "2014-11-10", url=elsewhere))) == set()


def test_a_seasons_opening_described_is_its_first_episode() -> None:
    # "Season two opens with ..." tells what happens in the season's first episode
    # without calling it one; "the story begins with ..." tells the story, not a show.
    linker = Linker(Catalog.build([_two_seasons()]))
    opens = (
        "Serial returns, and Season two opens with Sarah Koenig on the phone to a soldier "
        "who walked off his post. Highly recommended."
    )

    def relative(text: str) -> dict[int, float]:
        [scored] = linker.score(review(text, "2015-12-20"))
        return {e.episode.id: e.features.relative for e, _ in scored.episodes}

    assert relative(opens).get(520, 0.0) == 1.0
    story = relative(opens.replace("Season two opens with", "the story begins with"))
    assert all(value == 0.0 for value in story.values())


def test_one_announcement_does_not_make_a_word_the_shows_own() -> None:
    # A short show announcing its TV series in a bonus episode does not become a show
    # one watches: a review of that TV series is still about watching.
    notes = [
        "A nurse at a company clinic starts to ask questions about the soldiers she treats.",
        "Bonus: the TV series, starring Nina Vale, comes to Hulu. Watch the trailer.",
    ]
    clinic = _show(12, "The Clinic", "Ada Brooks", notes)
    linker = Linker(Catalog.build([clinic, caliphate()]))
    text = (
        "The Clinic review: the Hulu TV series is worth watching\n\n"
        "The Clinic, starring Nina Vale, is a handsome thriller. I watched all of it in one "
        "weekend and loved it, though Ada Brooks's story is stretched thin on TV."
    )
    assert reviewed(linker.link(review(text, "2019-03-01"))) == set()


def test_a_title_written_with_its_words_bent_is_the_shows_name() -> None:
    # Reviewers write a title as they remember it: "Fake Hitler" for Faking Hitler.
    # The bent words must still be capitalised as a name, and a word kept as it is.
    faking = _show(13, "Faking Hitler", "Rebecca Lind", ["A magazine buys forged diaries."])
    linker = Linker(Catalog.build([faking, caliphate()]))
    text = (
        "Podcast tip: Fake Hitler\n\n"
        "Fake Hitler tells how a magazine bought sixty forged diaries, from its own tapes "
        "of the time. I could not stop listening, and recommend it to anyone."
    )
    assert reviewed(linker.link(review(text, "2019-03-01"))) == {13}
    plain = text.replace("Fake Hitler", "the fake diaries")
    assert reviewed(linker.link(review(plain, "2019-03-01"))) == set()
    lower = text.replace("Fake Hitler", "fake hitler")
    scored = scored_for(linker, lower, "2019-03-01", 13)
    assert scored.signals.features.name < 0.3


def test_an_episode_the_feed_dates_after_the_review_is_found_by_its_number() -> None:
    # Streamed a week before its feed carried it: "Campaign Three, Episode One" is the
    # third season's first episode, not the first of a side series with no season.
    items = [
        ("Side Quest Episode 1: The Lantern", "A one-off adventure.", datetime(2021, 9, 1)),
        ("C3E1 The Draw of Destiny", "The third campaign begins.", datetime(2021, 10, 28)),
        ("C3E2 Trial by Firelight", "The party sets out.", datetime(2021, 11, 4)),
    ]
    episodes = tuple(
        CatalogEpisode(
            id=1400 + i,
            series_id=14,
            guid=f"14-{i}",
            title=title,
            description_text=note,
            published=day.replace(hour=10, tzinfo=UTC),
        )
        for i, (title, note, day) in enumerate(items)
    )
    show = CatalogSeries(
        id=14,
        title="Dice Night",
        feed_url="https://feeds.example.com/14.xml",
        description_text="Maya Ortiz runs a table of actors playing a fantasy game.",
        episodes=episodes,
    )
    linker = Linker(Catalog.build([show]))

    def numbers(text: str, when: str) -> dict[int, float]:
        [scored] = linker.score(review(text, when))
        return {e.episode.id: e.features.number for e, _ in scored.episodes}

    text = "Dice Night Campaign Three Episode One: a review of the podcast"
    found = numbers(text, "2021-10-22")
    assert found.get(1401, 0.0) >= 0.9 and found.get(1400, 0.0) == 0.0
    # Two months before the feed had it, it is not the episode the review saw.
    assert numbers(text, "2021-08-20").get(1401, 0.0) == 0.0
    # Spoken of as still to come, it is awaited, not heard.
    awaited = (
        "Dice Night is back: I loved the trailer. Campaign Three Episode One is out next week."
    )
    assert numbers(awaited, "2021-10-22").get(1401, 0.0) == 0.0
    # A number an episode out by then carries keeps to that episode.
    side = numbers("Dice Night's Side Quest Episode 1 is a delight", "2021-10-22")
    assert side.get(1400, 0.0) >= 0.9 and side.get(1401, 0.0) == 0.0


def test_a_number_next_to_a_shows_host_is_that_shows() -> None:
    # "In the second chapter Reed ..." sits nearer another show's name (Serial) than
    # its own show's, but next to its own host: the chapter is S-Town's.
    notes = [f"Chapter {n}: a clockmaker writes to a reporter." for n in range(1, 5)]
    stown = _show(8, "S-Town", "Brian Reed", notes)
    linker = Linker(Catalog.build([stown, serial()]))
    text = (
        "S-Town, hosted by Brian Reed, is out in full this week.\n\n"
        "The story takes its time and the town is vividly drawn; I was hooked from the "
        "start, and the music and the pacing are as good as anything on the radio.\n\n"
        "In the second chapter Reed finds the hedge maze, and the show settles into the "
        "Serial mould without ever feeling like a copy."
    )
    scored = scored_for(linker, text, "2019-03-01", 8)
    numbers = {e.episode.id: e.features.number for e, _ in scored.episodes}
    assert numbers.get(801, 0.0) >= 0.9
    # Without the host's name the nearer show's name still owns the reference.
    anonymous = text.replace("chapter Reed finds", "chapter one finds")
    scored = scored_for(linker, anonymous, "2019-03-01", 8)
    numbers = {e.episode.id: e.features.number for e, _ in scored.episodes}
    assert numbers.get(801, 0.0) < 0.5

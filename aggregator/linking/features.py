"""The features the linker weighs, declared once.

``SeriesFeatures`` describes one candidate series of a review, ``EpisodeFeatures`` one
candidate episode. The producers (``candidates.py``, ``episodes.py`` and the modules
behind it) fill them in; ``score.py`` holds its weights as values of the same classes,
and ``evaluation/fit.py`` its signs and priors, so a feature cannot be produced and
then forgotten by the scorer or the fitter (a test checks that the three agree).

Fewer, stronger signals: a series' score rests on whether the review names the show as
a show, how much of the review is about it rather than about other shows, links and
credited people; episodes are supporting evidence, never a requirement, because many
reviews judge a whole series.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass, fields
from typing import Literal, Self

__all__ = [
    "EpisodeFeature",
    "EpisodeFeatures",
    "SeriesFeatures",
    "feature_names",
]


@dataclass(slots=True)
class SeriesFeatures:
    """What a review says about one candidate series. Each value is 0 when absent."""

    link: float = 0.0  # a hyperlink to the show's site, feed, episodes or directory page, 0..1
    name: float = 0.0  # best "nameness" of the show's name in the text, 0..1
    name_count: float = 0.0  # log(1 + uses of the name as a name)
    headline: float = 0.0  # 1 when the headline or the review's URL names the show
    share: float = 0.0  # the show's uses of a name over all shows' uses (the subject?), 0..1
    people: float = 0.0  # credited hosts and authors found, misspellings included, 0..3
    first_names: float = 0.0  # several hosts' first names together, 0..1
    guests: float = 0.0  # guests of its episodes named in full, 0..3
    content: float = 0.0  # BM25 of the review's best terms, over the attainable score
    episode: float = 0.0  # best episode score within the show
    count: float = 0.0  # "a ten-episode series" agrees (+1) or disagrees (-1)
    month: float = 0.0  # "released in April 2018": episodes came out that month
    medium: float = 0.0  # listening words against viewing and reading words, -1..1
    screen: float = 0.0  # the name used in a review about watching or reading: name x -medium
    opinion: float = 0.0  # judgement and address against reporting in the text, -1..1
    report: float = 0.0  # the name used in a text that reports more than it judges: name x -opinion
    compare: float = 0.0  # share of the name's uses after "like", "than", "as", ...
    crowd: float = 0.0  # log(1 + other shows named as much as this one): roundups
    before_start: float = 0.0  # the review predates the show's first episode

    def vector(self) -> tuple[float, ...]:
        return astuple(self)

    def with_episode(self, episode: float) -> Self:
        """A copy with another best-episode score (fitting tries several)."""
        copy = type(self)(*astuple(self))
        copy.episode = episode
        return copy


EpisodeFeature = Literal[
    "link", "title", "number", "relative", "guest", "date", "content", "content_share",
    "content_margin", "bonus", "recent",
]  # fmt: skip


@dataclass(slots=True)
class EpisodeFeatures:
    """What a review says about one episode of a candidate series."""

    link: float = 0.0  # a hyperlink to the episode's page or enclosure
    title: float = 0.0  # its title (or a part of it) as a phrase, 0..1
    number: float = 0.0  # "episode 4", "Chapter Six", "#241", "the third installment", 0..1
    relative: float = 0.0  # "the latest", "last week's", "the finale", 0..1
    guest: float = 0.0  # a guest named in its notes, by how specific the name is
    date: float = 0.0  # a date written in the review is its release date
    content: float = 0.0  # tf-idf within the show, over the best episode's
    content_share: float = 0.0  # the same, over what the review's terms could reach
    content_margin: float = 0.0  # lead of the best episode over the second (best only)
    bonus: float = 0.0  # a trailer or bonus item
    recent: float = 0.0  # exp(-days before the review / 30), only without explicit reference

    def raise_to(self, name: EpisodeFeature, value: float) -> bool:
        """Keep the larger of the current and the new value; True when it grew."""
        if value > getattr(self, name):
            setattr(self, name, value)
            return True
        return False

    def vector(self) -> tuple[float, ...]:
        return astuple(self)


def feature_names(cls: type[SeriesFeatures] | type[EpisodeFeatures]) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))

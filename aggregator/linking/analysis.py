"""One review read once: tokens, quotes, emphasis, numbers, dates, names, query terms.

The review's title is read too when the main text does not already start with it
(HTML extraction usually drops the headline). It is put in front of the text, and
``span()`` turns positions in that combined string back into positions in
``review.text``, giving -1 for anything found in the title.
"""

from __future__ import annotations

import bisect
import html as html_lib
import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from aggregator.linking.catalog import Catalog
from aggregator.linking.names import NameHit
from aggregator.linking.numbers import CountRef, NumberRef, find_counts, find_number_refs
from aggregator.linking.text import (
    Token,
    case_flags,
    fold,
    paragraph_spans,
    quoted_spans,
    stem,
    terms,
    tokenize,
    word_set,
)
from aggregator.linking.timeref import DateRef, RelativeRef, find_dates, find_relative
from aggregator.types import ReviewDocument

__all__ = ["AUDIO_WORDS", "Analysis", "analyse"]

# How many of the review's terms (by tf-idf) go into the retrieval query: a 30-term
# query is the size full-text engines answered fast when measured (docs/retrieval.md).
QUERY_TERMS = 30

# Words that say the text is about something heard, and words that say it is about a
# film, a TV show or a book. Their balance is one signal of whether a title that is
# also a common word ("Connected", "Cortex", "Caliphate") names a podcast here.
AUDIO_WORDS = word_set(
    """
    podcast podcasts episode episodes ep eps listen listened listening listener listeners
    host hosts hosted hosting audio installment instalment installments chapter chapters
    show shows feed subscribe subscribed download downloaded pod pods radio mp3 folge
    folgen hören hoeren gehört sendung ears headphones narrator narration produced
    producer producers tape recording recorded interview interviews guest guests
    """
)
OTHER_MEDIUM_WORDS = word_set(
    """
    film films movie movies cinema cinemas netflix hbo television tv screen screens
    streaming viewers viewer watch watched watching actor actors actress director
    directed starring cast binge novel novels book books reader readers read paperback
    hardback publisher print page pages column columnist newspaper article
    """
)
# Which medium the review is about, for telling a review of a podcast from a review of
# its TV adaptation or from news of the case it covered: words only a text about
# listening uses, against words only a text about watching or reading uses. Episodes,
# seasons, hosts, finales and premieres belong to TV as much as to podcasts, so they
# are in neither list (they are in AUDIO_WORDS above, which says "a show"). Written
# folded, as tokens are (accents stripped).
LISTENING_WORDS = word_set(
    """
    podcast podcasts podcasting podcaster podcasters listen listened listening listener
    listeners audio headphones earbuds ears narrator narration download downloaded
    subscribe subscribed mp3 pod pods horen hoeren gehort gehoert anhoren horer horerin
    horerinnen horspiel ecouter ecoute auditeur auditeurs balado
    luisteren luisteraars lytte lyttar lyttere spotify stitcher itunes overcast
    """
)
VIEWING_WORDS = word_set(
    """
    film films movie movies cinema netflix hbo hulu epix bravo showtime television tv
    screen screens onscreen viewers viewer watch watched watching actor actors
    actress actresses starring cast casting director directs directed adaptation
    dramatization dramatisation scene scenes recap recaps miniseries sitcom showrunner
    performance performances novel novels book books paperback hardback
    hardcover fernsehen fernsehserie zuschauer serie kino buch roman verfilmung
    schauspieler schauspielerin miniserie peacock starz
    starzplay paramount portrays portrayed portraying darsteller
    darstellerin regie regisseur regisseurin drehbuch cinematography teleplay docudrama
    biopic dramatized dramatised visuals docuseries animated animation animators anime
    cartoon cartoons
    """
)
# "Based on the podcast", "die Verfilmung des Podcasts": the text is about something
# made from the show, a TV series or a film; a review of the show itself has no reason
# to say it. Each such phrase weighs as a headline's word of viewing.
_ADAPTED_FROM = re.compile(
    r"\b(?:based on|adapted from|inspired by|adaptation of|basiert auf|basierend auf"
    r"|nach vorlage des|verfilmung des|vorlage|d'apres|adapte du|gebaseerd op)"
    r"(?:\W+\w+){0,4}?\W+(?:podcasts?|pod)\b"
)
# The same said of the adaptation: "Amazon's podcast-turned-series", "turned the
# podcast into a series", "the television version of", "a screen adaptation of".
_ADAPTATION = re.compile(
    r"\b(?:podcast[- ]turned[- ](?:tv[- ])?(?:series|show|drama)"
    r"|turn(?:s|ed|ing)? (?:the |its |a |his |her |their )?(?:\w+ )?podcasts? into "
    r"(?:a |an )?(?:\w+ )?(?:tv |television )?(?:series|show|film|movie|drama|miniseries)"
    r"|from (?:the )?podcast to (?:the )?(?:screen|tv|television)"
    r"|(?:tv|television|screen|series) (?:version|adaptation) of)\b"
)
_HEADLINE_WEIGHT = 3
# How far into the text a review's title is looked for as a line of its own: the
# furniture a page puts above its headline.
_HEADLINE_SEARCH = 2000
# Is the text a review at all? A review judges and speaks to its reader: words of
# judgement and the first and second person, in the languages reviews come in. News of
# the case a show covered, or of its makers, reports what others said instead.
OPINION_WORDS = word_set(
    """
    i me my mine myself you your yours we us our recommend recommended recommending
    gripping compelling riveting fascinating brilliant excellent superb great good
    bad boring addictive engrossing masterful beautifully worth enjoyed enjoy loved
    love favorite favourite best worst disappointing disappointed annoying hooked
    binge binged mustlisten underwhelming overrated fantastic amazing wonderful
    ich mir mich mein meine du dich dein ihr euch wir uns empfehlen empfehlung
    empfehlenswert horenswert gelungen grossartig toll langweilig genial fesselnd
    spannend packend unbedingt je moi mon ma mes tu vous nous recommande passionnant
    captivant genial ennuyeux
    """
)
REPORTING_WORDS = word_set(
    """
    said says told according court judge judges police prosecutor prosecutors
    prosecution lawyer lawyers attorney attorneys spokesperson spokesman spokeswoman
    statement announced reported conviction convicted sentenced trial charges charged
    sagte sagt erklarte laut gericht richter polizei staatsanwaltschaft anwalt
    """
)
_EMPHASIS = re.compile(r"<(em|i|cite|b|strong)\b[^>]*>(.*?)</\1\s*>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]+>")


@dataclass(slots=True)
class Analysis:
    review: ReviewDocument
    text: str  # title (when not in the text) + text
    shift: int  # where review.text starts inside ``text``
    title_start: int  # the review's title: prefixed, its first line, or a line of the
    title_end: int  # page's top under the site's own furniture ("Exclusive to ...")
    tokens: list[Token]
    cased: list[bool]  # per token: its paragraph is written with capitals
    paragraphs: list[tuple[int, int]]
    sentence_starts: frozenset[int]  # token indexes that start a sentence
    quotes: list[tuple[int, int]]
    anchors: list[tuple[int, int, str]]  # spans of hyperlink texts and their href
    emphasized: frozenset[str]  # folded texts of <em>, <i>, <cite>, <b> in the HTML
    numbers: list[NumberRef]
    counts: list[CountRef]
    relative: list[RelativeRef]
    dates: list[DateRef]
    names: list[NameHit]
    query: dict[str, float]
    audio: float  # listening words against viewing and reading words, -1..1
    listening: int  # listening words (the headline's three-fold)
    viewing: Counter[str]  # each viewing or reading word, the headline's three-fold
    adapted: int  # "based on the podcast", "podcast-turned-series": three each
    opinion: float  # words of judgement and address against words of reporting, -1..1
    words: int
    starts: list[int] = field(default_factory=list)  # token start offsets, for bisect
    term_counts: Counter[str] = field(default_factory=Counter)  # retrieval terms of text
    extra: dict[str, object] = field(default_factory=dict)

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Span in ``review.text`` of a span of ``text``; (-1, -1) inside the title."""
        if start < self.shift:
            return -1, -1
        return start - self.shift, end - self.shift

    def cased_at(self, position: int) -> bool:
        """Whether the text around a character position is written with capitals."""
        index = bisect.bisect_right(self.starts, position) - 1
        return self.cased[index] if 0 <= index < len(self.cased) else True

    def paragraph_of(self, position: int) -> int:
        for i, (start, end) in enumerate(self.paragraphs):
            if start <= position < end:
                return i
        return len(self.paragraphs) - 1

    def medium(self, own: Callable[[str], bool]) -> float:
        """``audio`` for one show: listening against viewing and reading words, leaving
        out the words ``own`` says the show uses of itself. A show streamed as video
        ("watch live on Twitch"), an audio drama "starring" its cast, a show about books:
        a review of it uses those words of the show, not of an adaptation."""
        other = self.adapted + sum(n for w, n in self.viewing.items() if not own(w))
        return _balance(self.listening, other)

    def in_headline(self, start: int) -> bool:
        return self.title_start <= start < self.title_end

    def in_quotes(self, start: int, end: int) -> bool:
        return any(qs <= start and end <= qe + 1 for qs, qe in self.quotes)

    def in_anchor(self, start: int, end: int) -> bool:
        return any(a <= start and end <= b for a, b, _ in self.anchors)


def _headline(body: str, title: str) -> tuple[int, int]:
    """Where the review's title stands as a line of its own near the top of the text:
    the first line, or below a page's furniture (a site name, a rubric, a date)."""
    wanted = fold(title)
    offset = 0
    for line in body[:_HEADLINE_SEARCH].split("\n"):
        stripped = line.strip()
        if stripped and fold(stripped) == wanted:
            start = offset + line.index(stripped)
            return start, start + len(stripped)
        offset += len(line) + 1
    return 0, 0


def analyse(review: ReviewDocument, catalog: Catalog) -> Analysis:
    body = review.text
    title = (review.title or "").strip()
    prefix = ""
    if title and fold(title)[:60] not in fold(body[:2000]):
        prefix = title + "\n\n"
    text = prefix + body
    shift = len(prefix)
    tokens = tokenize(text)
    cased = case_flags(text, tokens)
    title_start, title_end = 0, shift
    if not prefix and title:
        title_start, title_end = _headline(body, title)
    starts = _sentence_starts(text, tokens)
    anchors = [
        (link.start + shift, link.end + shift, link.href)
        for link in review.links
        if link.start >= 0 and link.end <= len(body)
    ]
    emphasized = frozenset(
        fold(" ".join(html_lib.unescape(_TAG.sub(" ", m.group(2))).split()))
        for m in _EMPHASIS.finditer(review.html or "")
    )
    words = [t.norm for t in tokens if t.norm.isalpha()]
    counts = Counter(terms(text))
    names = catalog.names.match(text, tokens, cased, _common(catalog), catalog.credited)
    # A word of a medium inside a name of two words or more is the name's: "Roman Mars"
    # (a host) is no German novel ("Roman"), "Tenderfoot TV" (a publisher) no TV. One
    # word alone ("Spotify", credited as a show's author) keeps its meaning.
    plain = _outside(
        tokens, [(h.start, h.end) for h in names if h.full and " " in text[h.start : h.end]]
    )
    medium_words = [t.norm for t in plain if t.norm.isalpha()]
    # The headline says what is reviewed ("TV Review: The Dropout"): its words count
    # as much as a paragraph's worth of the body's.
    medium_head = [t.norm for t in plain if title_start <= t.start < title_end and t.norm.isalpha()]
    audio = sum(1 for w in medium_words if w in LISTENING_WORDS)
    audio += _HEADLINE_WEIGHT * sum(1 for w in medium_head if w in LISTENING_WORDS)
    viewing: Counter[str] = Counter(w for w in medium_words if w in VIEWING_WORDS)
    for w in medium_head:
        if w in VIEWING_WORDS:
            viewing[w] += _HEADLINE_WEIGHT
    folded = fold(text)
    adapted = _HEADLINE_WEIGHT * len(_ADAPTED_FROM.findall(folded))
    adapted += _HEADLINE_WEIGHT * len(_ADAPTATION.findall(folded))
    other = sum(viewing.values()) + adapted
    opinion = sum(1 for w in words if w in OPINION_WORDS)
    reporting = sum(1 for w in words if w in REPORTING_WORDS)
    return Analysis(
        review=review,
        text=text,
        shift=shift,
        title_start=title_start,
        title_end=title_end,
        tokens=tokens,
        cased=cased,
        paragraphs=paragraph_spans(text),
        sentence_starts=starts,
        quotes=quoted_spans(text),
        anchors=anchors,
        emphasized=emphasized,
        numbers=find_number_refs(text, tokens),
        counts=find_counts(text, tokens),
        relative=find_relative(text, tokens),
        dates=find_dates(text, tokens),
        # Lone surnames only of a show's own people: a guest is named in full
        # (candidates._people drops the other single-word hits).
        names=names,
        query=_query(counts, catalog),
        audio=_balance(audio, other),
        listening=audio,
        viewing=viewing,
        adapted=adapted,
        opinion=(opinion - 2 * reporting) / max(opinion + 2 * reporting, 5),
        words=len(words),
        starts=[t.start for t in tokens],
        term_counts=counts,
    )


def _outside(tokens: list[Token], spans: list[tuple[int, int]]) -> list[Token]:
    """The tokens outside every span (character offsets), in one pass over both."""
    if not spans:
        return tokens
    ordered = sorted(spans)
    kept: list[Token] = []
    k = 0
    for t in tokens:
        while k < len(ordered) and ordered[k][1] <= t.start:
            k += 1
        # Spans may overlap: any span starting at or before the token may cover it.
        j = k
        inside = False
        while j < len(ordered) and ordered[j][0] <= t.start:
            if t.end <= ordered[j][1]:
                inside = True
                break
            j += 1
        if not inside:
            kept.append(t)
    return kept


def _balance(listening: float, other: float) -> float:
    """-1..1: listening against other media, near 0 with few words of either."""
    return (listening - other) / max(listening + other, 3)


_SENTENCE_END = re.compile(r"[.!?:\n]\s*[\"'“‘(]?\s*$")


def _sentence_starts(text: str, tokens: list[Token]) -> frozenset[int]:
    starts = set()
    ends = _SENTENCE_END.search
    for i, token in enumerate(tokens):
        before = text[tokens[i - 1].end : token.start] if i else "\n"
        # Most words follow a single space: no sentence ends there.
        if i == 0 or (before != " " and (ends(before) or "\n" in before)):
            starts.add(i)
    return frozenset(starts)


def _query(counts: Counter[str], catalog: Catalog) -> dict[str, float]:
    """The review's most distinctive terms, weighted by log tf times idf."""
    idfs = catalog.retrieval.idfs(counts)
    scored = {term: (1 + math.log(counts[term])) * idf for term, idf in idfs.items()}
    best = sorted(scored.items(), key=lambda item: -item[1])[:QUERY_TERMS]
    return {term: 1 + math.log(counts[term]) for term, _ in best}


def _common(catalog: Catalog) -> Callable[[str], bool]:
    """Words many shows use: looked up as names only as written (see NameIndex.match)."""
    limit = max(3, int(0.05 * len(catalog)))

    def common(word: str) -> bool:
        return catalog.retrieval.document_frequency(stem(word)) > limit

    return common

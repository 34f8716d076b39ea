"""Tell a review's own lines from the page furniture around it.

Works on text, whatever it came from: the lines trafilatura kept from an HTML page,
the readable text of a page it gave up on, a Markdown file, or a blog post pasted
into a .txt file (the founding review, ../shared/seeds/000_1b6acc4887f54450.txt,
ends in a WordPress comment form and has "Photo Credit:" lines). A document is a
list of paragraphs, each a list of lines; :func:`keep_mask` says which lines stay.

Three rules, applied in this order:

1. **Cut** at a comment-section heading ("Leave a Reply", "14 Comments", "What do
   you think?"): it and everything after it go, because what follows is comments
   and the form. Only when review text stands before it, so a comment count in a
   page header does not swallow the review.
2. **Drop** single lines that are known furniture (share and like buttons, "Photo
   Credit:", "Tags:", bylines, copyright, cookie notices). Patterns that match a
   line prefix only apply to short lines that are not body text.
3. **Drop navigation runs**: four or more consecutive one-to-three-word lines (or
   one line of such items between "|"/"·" separators) before the first or after the
   last body paragraph. Language-agnostic; lists inside the review are left alone.

A line is *body* when it holds two or more long sentences; rules 2 and 3 never
remove body. English patterns, and German ones for the German reviews we follow.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# A sentence of at least this many words counts as "long"; two long sentences in one
# line make it body text. Six words: "Your email address will not be published." (7)
# plus "Required fields are marked *" (4) is still not body, while every body
# paragraph of the founding review is.
_LONG_SENTENCE_WORDS = 6
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”’)]*\s+")

# Prefix patterns only apply to lines up to this long: every caption, tag line and
# byline in the dev set is under 150 characters, every body sentence that starts
# like one ("Posted in the Guardian last week, ...") is in a longer line.
_SHORT_LINE = 150

# A comment heading cuts only after a body line or this much text: a title and a
# byline (the dev set's longest are ~120 characters) do not count as a review.
_TEXT_BEFORE_CUT = 200

# Navigation: at least this many consecutive lines of 1–3 short words. Three such
# lines are common in a review header (title, author, date); menus have more.
_NAV_RUN = 4
_NAV_ITEM_WORDS = 3
_NAV_ITEM_CHARS = 30


def _pattern(*alternatives: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{a})" for a in alternatives), re.IGNORECASE)


# Headings that open a comment section (WordPress, Blogger, Disqus, forum software).
_COMMENT_HEADING = _pattern(
    r"leave a (reply|comment|response)( to .*)?( cancel reply)?",
    r"(post|add|write|submit) a (comment|reply)",
    r"join the (discussion|conversation)",
    r"(\d+|no|one|two|three) (comments?|responses?|replies|thoughts? on .*)",
    r"comments?( \(\d+\))?:?",
    r"what do you think\??",
    r"you must be logged in to post a comment\.?",
    # German WordPress and forum software.
    r"(hinterlasse|schreibe|schreiben sie) einen kommentar",
    r"kommentar (verfassen|schreiben|hinterlassen)",
    r"(\d+ )?kommentare?( \(\d+\))?:?",
)

# Headings of share/like/related boxes: they and the short lines after them go
# (the buttons "Twitter", "Facebook", "Like Loading...", related-post titles).
_BOX_HEADING = _pattern(
    r"share( this)?( (post|article|story|page|episode))?( on)?:?",
    r"like this:?",
    r"related( posts| articles| stories| reading)?:?",
    r"you (may|might) also like:?",
    r"more (stories|posts|articles)( from .{1,40})?:?",
    r"teilen( mit)?:?",
    r"diesen (beitrag|artikel) teilen:?",
    r"gefällt mir:?",
    r"(ähnliche|verwandte) (beiträge|artikel):?",
)

# Lines that are furniture when they are the whole line.
_WHOLE_LINE = _pattern(
    r"(click|tap) to (share|email|print)\b.*",  # Jetpack share buttons
    r"(like|gefällt mir)( wird geladen)?( loading)?[.…]*",
    r"loading[.…]*",
    r"skip to (main )?content|skip navigation|zum inhalt springen",
    r"(toggle )?(menu|navigation|menü)|search( for)?:?|suche:?|back to top|nach oben",
    r"(read more|continue reading|weiterlesen)\b.{0,40}",
    r"advertisement|anzeige|sponsored( content)?|werbung",
    r"\d+ min(ute)?s? read",
    r"(previous|next|older|newer) (post|article|entry|episode)s?:?.{0,100}",
    r"(accept|reject|decline)( all)?( cookies)?|manage (cookies|preferences)|"
    r"cookie settings|got it|alle akzeptieren|akzeptieren|ablehnen",
    r"(powered by|proudly powered by) .{1,60}",
    r"all rights reserved\.?|alle rechte vorbehalten\.?",
    r"tweet|share|pin it|twitter|facebook|e-?mail|print|pinterest|linkedin|reddit|whatsapp|"
    r"tumblr|pocket|telegram|mastodon|bluesky|threads",
    # Comment-form pieces, in case the heading itself was lost.
    r"required fields are marked \*?|name \*|email \*|website|post comment|cancel reply",
    r"(erforderliche felder sind mit \* markiert\.?)|kommentar abschicken",
)

# Dates as bylines write them: "July 9, 2018", "10. Juni 2014", "2018-05-02".
_MONTH = (
    r"(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec|januar|februar|märz|mai|juni|"
    r"juli|oktober|dezember)[a-z]*\.?"
)
_WEEKDAY = (
    r"((mon|tue|wed|thu|fri|sat|sun)[a-z]*|montag|dienstag|mittwoch|donnerstag|freitag|"
    r"samstag|sonntag),?"
)
_DATE = (
    rf"({_WEEKDAY} )?({_MONTH} \d{{1,2}}(st|nd|rd|th)?,? \d{{4}}|\d{{1,2}}\.? {_MONTH},? \d{{4}}|"
    rf"{_MONTH} \d{{4}}|\d{{4}}-\d{{2}}-\d{{2}}|\d{{1,2}}[./]\d{{1,2}}[./]\d{{2,4}})"
)
# Prefixes of furniture lines; applied to short, non-body lines only.
_PREFIX = _pattern(
    # Image credits and captions (the founding review has bare "Photo Credit:" lines).
    r"(photo|image|picture|header image|cover image|foto|bild)( credits?| courtesy)?\s*:",
    r"(photo|image|picture) (by|courtesy of|via) ",
    r"(bildquelle|bildnachweis|quelle: foto)\b",
    # Post metadata: WordPress "Posted in", "Filed under", "Tags:".
    rf"posted:?\s+(in|under|on|by|at|\d|{_WEEKDAY}|{_MONTH})",
    r"filed (under|in)\b",
    r"(categor(y|ies)|tags?|tagged( with)?|schlagwörter|kategorien?)\s*:",
    r"veröffentlicht (am|in|unter)\b",
    # Subscription prompts.
    r"(subscribe|sign up|signup|join) (to|for|now|today|our|my|the)\b",
    r"subscribe\b.{0,30}$",
    r"(newsletter abonnieren|jetzt abonnieren)",
    # Share buttons on the same line as their heading ("Share this: Twitter Facebook").
    r"(share|teilen)( this| mit)?( on)?\s*:",
    # Copyright lines.
    r"©|\(c\) \d{4}|copyright (©\s*)?(\d{4}|by)\b",
    # The comment form's first line.
    r"your email address will not be published",
    r"deine e-mail-adresse wird nicht veröffentlicht",
)

# Cookie banners: long enough to look like body, so they are recognised by content.
_COOKIE = re.compile(
    r"\b(we|this (web)?site|our (web)?site|diese (web)?site|wir)\b.{0,60}\b"
    r"(use|uses|verwendet|verwenden|nutzt|nutzen) cookies\b",
    re.IGNORECASE,
)
_COOKIE_MAX_CHARS = 400

# Byline pieces: a line made only of these (separated by · | — etc.) is post
# metadata, e.g. "by Mara Lindqvist · July 9, 2018 · 14 Comments".
_BYLINE_PIECE = _pattern(
    rf"((posted|published|updated|veröffentlicht)( on| am)? )?{_DATE}( (at|um) [\d:]+ ?(am|pm)?)?",
    r"((posted|published|written|review|reviewed) )?(by|von) \S+( \S+){0,3}",
    r"(posted|filed) (in|under):? .{1,60}",
    r"\d+ min(ute)?s? read",
    r"(\d+|no|one) (comments?|kommentare?)",
)
_BYLINE_SEPARATOR = re.compile(r"\s*(?:[·•|—–]|\s--?\s)\s*")

# Separators between the items of a one-line menu ("Home | Archive | RSS").
_MENU_SEPARATOR = re.compile(r"\s+[|·•/»]\s+")
_BULLET = re.compile(r"^\s*([-*+•]|\d+[.)])\s")


def words(line: str) -> int:
    return len(line.split())


def is_body(line: str) -> bool:
    """True when ``line`` holds two or more long sentences: review text, not furniture.

    >>> is_body("I loved it. The fifth chapter is the best hour of radio this year.")
    False
    >>> is_body("I loved every minute of it. The fifth chapter is the best hour this year.")
    True
    >>> is_body("Your email address will not be published. Required fields are marked *")
    False
    """
    sentences = _SENTENCE_END.split(line.strip())
    return sum(1 for s in sentences if words(s) >= _LONG_SENTENCE_WORDS) >= 2


def _is_byline(line: str) -> bool:
    if len(line) > _SHORT_LINE:
        return False
    pieces = [p for p in _BYLINE_SEPARATOR.split(line) if p]
    return bool(pieces) and all(_BYLINE_PIECE.fullmatch(p) for p in pieces)


def _is_nav_item(line: str) -> bool:
    return (
        0 < words(line) <= _NAV_ITEM_WORDS
        and len(line) <= _NAV_ITEM_CHARS
        and not line.endswith((".", "!", "?", "…", ":"))
        and not _BULLET.match(line)
    )


def _is_menu_line(line: str) -> bool:
    items = _MENU_SEPARATOR.split(line)
    return len(items) >= 3 and all(_is_nav_item(i) for i in items)


def _is_furniture(line: str, body: bool) -> bool:
    if _WHOLE_LINE.fullmatch(line) or _BOX_HEADING.fullmatch(line):
        return True
    if len(line) <= _COOKIE_MAX_CHARS and _COOKIE.search(line):
        return True
    if body or len(line) > _SHORT_LINE:
        return False
    return bool(_PREFIX.match(line)) or _is_byline(line) or bool(_COMMENT_HEADING.fullmatch(line))


def keep_mask(paragraphs: Sequence[Sequence[str]]) -> list[list[bool]]:
    """For each line of each paragraph, whether it is review text (True) or furniture.

    Empty lines are never kept.

    >>> keep_mask([["Great show."], ["Share this:", "Twitter", "Facebook"]])
    [[True], [False, False, False]]
    """
    flat = [line.strip() for paragraph in paragraphs for line in paragraph]
    body = [is_body(line) for line in flat]
    keep = [bool(line) for line in flat]

    # 1. Cut at the first comment heading that follows some review text.
    seen, seen_body = 0, False
    for i, line in enumerate(flat):
        if (seen_body or seen >= _TEXT_BEFORE_CUT) and _COMMENT_HEADING.fullmatch(line):
            keep[i:] = [False] * (len(flat) - i)
            break
        if keep[i] and not _is_byline(line):
            seen += len(line)
            seen_body = seen_body or body[i]

    # 2. Single furniture lines, and the short lines under a share/related heading.
    in_box = False
    for i, line in enumerate(flat):
        if not keep[i]:
            continue
        if _BOX_HEADING.fullmatch(line):
            in_box = True
        elif in_box and (body[i] or len(line) > _SHORT_LINE):
            in_box = False
        if in_box or _is_furniture(line, body[i]):
            keep[i] = False

    # 3. Navigation runs before the first and after the last body line.
    body_at = [i for i, b in enumerate(body) if b and keep[i]]
    first, last = (body_at[0], body_at[-1]) if body_at else (len(flat), -1)
    edge = [i < first or i > last for i in range(len(flat))]
    run: list[int] = []
    for i in [*range(len(flat)), len(flat)]:
        navish = i < len(flat) and edge[i] and (_is_nav_item(flat[i]) or not keep[i])
        if navish:
            if keep[i]:
                run.append(i)
            continue
        if len(run) >= _NAV_RUN:
            for j in run:
                keep[j] = False
        run = []
    for i, line in enumerate(flat):
        if keep[i] and edge[i] and not body[i] and _is_menu_line(line):
            keep[i] = False

    mask: list[list[bool]] = []
    position = 0
    for paragraph in paragraphs:
        mask.append(keep[position : position + len(paragraph)])
        position += len(paragraph)
    return mask

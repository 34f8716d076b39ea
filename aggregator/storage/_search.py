"""Full-text search over episodes and reviews: SQLite FTS5, or PostgreSQL's own.

One behaviour on both backends, so the API answers alike on either (both tested):

- a query is its words (letters and digits; everything else separates words, as
  both tokenizers do), and a hit has every word, in any of the indexed fields;
- a phrase search (``phrase=True``) wants the words next to each other, in order;
- words match case-insensitively and whole (no stemming, no prefixes): SQLite's
  ``unicode61`` tokenizer with diacritics kept, and PostgreSQL's ``simple``
  configuration, which neither stems nor drops accents either;
- titles weigh more than the rest (bm25 column weights, ``setweight`` A/B).

The indexes themselves come from migration ``0003``: on SQLite, external-content
FTS5 tables kept in step with ``episode`` and ``review`` by triggers; on PostgreSQL,
a generated ``search_vector`` column on each table (``to_tsvector`` of the title,
weighted A, and of the text, B) with a GIN index. Neither is in the models: storage
never writes them, the database does.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from aggregator.exceptions import InputError

# Objects of migration 0003 that the models do not declare (virtual tables and their
# shadow tables on SQLite, generated columns and their indexes on PostgreSQL);
# tests/test_migrations leaves them out when it compares models and database.
SEARCH_TABLES = ("episode_fts", "review_fts")
SEARCH_INDEXES = ("ix_episode_search", "ix_review_search")
SEARCH_COLUMNS = ("search_vector",)

# More words than this is not a search but a paste; bounding it bounds the query.
MAX_WORDS = 32
MAX_WORD_LENGTH = 100

# bm25 column weights (title, body) on SQLite; PostgreSQL's vectors weigh A and B.
_TITLE_WEIGHT = 4.0

_WORD = re.compile(r"[^\W_]+")


def is_search_object(name: str | None) -> bool:
    """Whether a table, column or index name belongs to the search structures of 0003."""
    if name is None:
        return False
    return name in SEARCH_INDEXES or name in SEARCH_COLUMNS or name.startswith(SEARCH_TABLES)


def search_words(query: str) -> list[str]:
    """The words of a search query; InputError when it has none.

    >>> search_words("  Abu Huzaifa's *story*!")
    ['abu', 'huzaifa', 's', 'story']
    """
    words = [w.lower() for w in _WORD.findall(query)]
    if not words:
        raise InputError("the search query has no words (letters or digits)")
    if len(words) > MAX_WORDS:
        raise InputError(f"the search query has {len(words)} words; at most {MAX_WORDS}")
    if any(len(w) > MAX_WORD_LENGTH for w in words):
        raise InputError(f"a word of the search query is over {MAX_WORD_LENGTH} characters")
    return words


def _fts5_query(words: list[str], phrase: bool) -> str:
    # Every word quoted: FTS5's own syntax (AND, NEAR, column filters, *) never
    # reaches it from a user, and a word like "and" is only a word.
    if phrase:
        return '"' + " ".join(words) + '"'
    return " ".join(f'"{w}"' for w in words)


def _pg_tsquery(phrase: bool) -> str:
    function = "phraseto_tsquery" if phrase else "plainto_tsquery"
    return f"{function}('simple'::regconfig, :words)"


def episode_ids(
    connection: Connection,
    words: list[str],
    *,
    series_id: int | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[int]:
    """Ids of the episodes having every word, best first (then by id)."""
    if series_id is None:
        return _ranked_ids(connection, "episode", words, limit=limit, offset=offset)
    in_series = ("AND t.series_id = :series_id", {"series_id": series_id})
    return _ranked_ids(connection, "episode", words, also=in_series, limit=limit, offset=offset)


def review_ids(
    connection: Connection,
    words: list[str],
    *,
    phrase: bool = False,
    limit: int | None = None,
    offset: int = 0,
) -> list[int]:
    """Ids of the reviews having every word (or the phrase), best first (then by id)."""
    return _ranked_ids(connection, "review", words, phrase=phrase, limit=limit, offset=offset)


def _ranked_ids(
    connection: Connection,
    table: str,
    words: list[str],
    *,
    phrase: bool = False,
    also: tuple[str, dict[str, Any]] = ("", {}),
    limit: int | None,
    offset: int,
) -> list[int]:
    """Ids of the rows of ``table`` (episode or review) having every word (or the
    phrase), best first, then by id; ``also`` is one more condition on them (``t``)
    with its parameters."""
    condition, params = also[0], {**also[1], "offset": offset}
    params["limit"] = -1 if limit is None else limit
    if connection.dialect.name == "postgresql":
        params["words"] = " ".join(words)
        sql = (
            f"SELECT t.id FROM {table} t, {_pg_tsquery(phrase)} AS q "
            f"WHERE t.search_vector @@ q {condition} "
            "ORDER BY ts_rank(t.search_vector, q) DESC, t.id "
            "LIMIT :limit OFFSET :offset"
        )
        if limit is None:
            sql = sql.replace("LIMIT :limit ", "")
    else:
        params["match"] = _fts5_query(words, phrase)
        sql = (
            f"SELECT t.id FROM {table}_fts JOIN {table} t ON t.id = {table}_fts.rowid "
            f"WHERE {table}_fts MATCH :match {condition} "
            f"ORDER BY bm25({table}_fts, {_TITLE_WEIGHT}, 1.0), t.id "
            "LIMIT :limit OFFSET :offset"
        )
    return [int(i) for i in connection.execute(text(sql), params).scalars()]


def review_ids_with_any(
    connection: Connection, words: list[str], *, published_since: datetime | None = None
) -> list[int]:
    """Ids of the reviews having at least one of ``words`` (any number of them), by id;
    with ``published_since``, only those published then or later, or undated.

    For finding the reviews a new series could be linked to without reading every
    review (``reviews.service.Reviews``): the words are its names, and a review naming none of
    them is not worth the linker's time.
    """
    if not words:
        return []
    params: dict[str, Any] = {}
    when = ""
    if published_since is not None:
        when = "AND (r.published IS NULL OR r.published >= :since)"
        params["since"] = published_since
    if connection.dialect.name == "postgresql":
        # Words are letters and digits only (``search_words``): safe in tsquery syntax.
        params["query"] = " | ".join(words)
        sql = (
            "SELECT r.id FROM review r "
            "WHERE r.search_vector @@ to_tsquery('simple'::regconfig, :query) "
            f"{when} ORDER BY r.id"
        )
    else:
        params["match"] = " OR ".join(f'"{w}"' for w in words)
        sql = (
            "SELECT r.id FROM review_fts JOIN review r ON r.id = review_fts.rowid "
            f"WHERE review_fts MATCH :match {when} ORDER BY r.id"
        )
    return [int(i) for i in connection.execute(text(sql), params).scalars()]

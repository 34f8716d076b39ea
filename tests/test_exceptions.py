"""The exception tree: the one drawn in ``aggregator.exceptions``' docstring is the
classes' own, and "not found" / "already exists" are told apart from a failed database."""

from __future__ import annotations

import inspect
import re

import pytest

from aggregator import exceptions
from aggregator.exceptions import (
    AggregatorError,
    AlreadyExistsError,
    FeedAlreadyExists,
    FeedNotFound,
    FetchError,
    HTTPStatusError,
    NotFoundError,
    ParseError,
    SeriesNotFound,
    SourceError,
    StorageError,
)

_LINE = re.compile(r"^(?P<lead>[ │├└─]*)(?P<name>[A-Z][A-Za-z]+)(?:\s{2,}.*)?$")


def drawn_tree() -> dict[str, str | None]:
    """Each class of the docstring's tree with the class it is drawn under."""
    doc = inspect.getdoc(exceptions) or ""
    lines = doc.splitlines()
    start = [line.strip() for line in lines].index("AggregatorError")
    indent = len(lines[start]) - len(lines[start].lstrip())
    parents: dict[str, str | None] = {}
    stack: list[tuple[int, str]] = []  # (depth, name) of the current branch
    for line in lines[start:]:
        if not line.strip():
            break
        assert line[:indent].isspace(), f"the tree is indented alike: {line!r}"
        match = _LINE.match(line[indent:])
        assert match, f"not a line of the tree: {line!r}"
        # Each level of the tree indents its names by four columns.
        depth = len(match["lead"]) // 4
        while stack and stack[-1][0] >= depth:
            stack.pop()
        parents[match["name"]] = stack[-1][1] if stack else None
        stack.append((depth, match["name"]))
    return parents


def real_tree() -> dict[str, str | None]:
    parents: dict[str, str | None] = {}
    for name in exceptions.__all__:
        cls = getattr(exceptions, name)
        assert isinstance(cls, type) and issubclass(cls, AggregatorError), name
        (base,) = cls.__bases__  # one parent each: a tree
        parents[name] = None if cls is AggregatorError else base.__name__
    return parents


def test_the_docstring_draws_the_real_tree() -> None:
    assert drawn_tree() == real_tree()


def test_every_exception_class_is_exported() -> None:
    defined = {
        name
        for name, value in vars(exceptions).items()
        if isinstance(value, type) and issubclass(value, BaseException)
    }
    assert defined == set(exceptions.__all__)


@pytest.mark.parametrize(
    ("error", "kind"),
    [(SeriesNotFound("no series"), NotFoundError), (FeedNotFound("x"), NotFoundError)],
)
def test_not_found_is_caught_by_kind_and_by_domain(error: Exception, kind: type) -> None:
    with pytest.raises(kind):
        raise error
    with pytest.raises(type(error)):
        raise error
    assert not isinstance(error, StorageError)  # the database did not fail


def test_already_exists_is_caught_by_kind_and_by_domain() -> None:
    error = FeedAlreadyExists("a feed with the URL https://a.example/ already exists")
    assert isinstance(error, AlreadyExistsError)
    assert not isinstance(error, StorageError | NotFoundError)


def test_fetch_and_parse_errors_carry_url_and_reason_alike() -> None:
    for error in (
        FetchError("https://a.example/feed", "refused"),
        ParseError("https://a.example/feed", "refused"),
        HTTPStatusError("https://a.example/feed", 500, "refused"),
    ):
        assert isinstance(error, SourceError)
        assert (error.url, error.reason) == ("https://a.example/feed", "refused")
        assert str(error) == "https://a.example/feed: refused"


def test_domain_errors_name_their_thing() -> None:
    assert {cls.noun for cls in NotFoundError.__subclasses__()} == {
        "feed",
        "series",
        "episode",
        "review",
        "link",
    }

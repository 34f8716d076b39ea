"""Reviews in, links out, through the CLI: real files, a real local server, a real database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_support import Cli
from tests.feedserver import FeedServer

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "tests" / "data" / "linking" / "reviews" / "seed.txt"
CALIPHATE = ROOT / "examples" / "feeds" / "caliphate.xml"
DEV = ROOT / "tests" / "data" / "linking"
LAST_CHAPTER_BEFORE_JULY = "d880f329-7101-567d-a25d-60dde948cb1c"  # Chapter Ten, 2018-06-21


@pytest.fixture
def sqlite_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Cli:
    """For commands that do not touch the database: run once, not once per backend."""
    config = tmp_path / "config.toml"
    config.write_text("", encoding="utf-8")
    return Cli(config, f"sqlite:///{tmp_path / 'a.db'}", monkeypatch, capsys)


def follow_caliphate(cli: Cli) -> None:
    assert cli("feeds", "add", str(CALIPHATE))[0] == 0
    assert cli("poll")[0] == 0


def test_founding_review_is_linked_with_its_evidence(cli: Cli) -> None:
    follow_caliphate(cli)
    added = cli.json("reviews", "add", str(SEED), "--published", "2018-07-01")
    assert added["review"]["title"].startswith("Behind the scenes of the Islamic State")
    assert "Leave a Reply" not in added["review"]["text"]

    links = added["links"]
    series = [x for x in links if x["episode"] is None]
    assert [(x["series"]["title"], x["relation"]) for x in series] == [("Caliphate", "reviews")]
    episodes = [x for x in links if x["episode"] is not None]
    assert LAST_CHAPTER_BEFORE_JULY in {x["episode"]["guid"] for x in episodes}
    for link in links:
        assert 0 <= link["score"] <= 1
    # the misspelled reporter, each spelling pointing at the real one, with exact spans
    text = added["review"]["text"]
    evidence = [e for x in series for e in x["evidence"]]
    for spelling in ("Challimachi", "Calimacchi", "Callamachi"):
        found = [e for e in evidence if spelling in e["text"]]
        assert found, spelling
        assert text[found[0]["start"] : found[0]["end"]] == found[0]["text"]
        assert "Callimachi" in found[0]["detail"]

    # `links` answers the same, in the documented shape
    listed = cli.json("links", "--review", str(added["review"]["id"]))
    assert {(x["series"]["id"], x["episode"] and x["episode"]["id"]) for x in listed} == {
        (x["series"]["id"], x["episode"] and x["episode"]["id"]) for x in links
    }
    one = listed[0]
    assert set(one) >= {"review", "series", "episode", "relation", "score", "evidence"}
    assert set(one["review"]) >= {"id", "url", "title", "published"}
    assert set(one["series"]) >= {"id", "title", "feed_url"}
    assert one["series"]["feed_url"] == CALIPHATE.resolve().as_uri()
    assert set(one["evidence"][0]) == {"kind", "text", "start", "end", "detail"}


def test_news_about_the_caliphate_links_to_nothing(cli: Cli) -> None:
    follow_caliphate(cli)
    code, out, _ = cli("reviews", "add", str(DEV / "reviews" / "neg-baghuz.txt"))
    assert code == 0
    assert "no links" in out
    assert cli.json("links") == []


def test_the_same_review_twice_is_one_review(cli: Cli, tmp_path: Path) -> None:
    follow_caliphate(cli)
    first = cli.json("reviews", "add", str(SEED), "--url", "https://blog.example/caliphate")
    again = cli.json(
        "reviews",
        "add",
        str(SEED),
        "--url",
        "https://blog.example/caliphate",
        "--published",
        "2018-07-01",
    )
    assert again["review"]["id"] == first["review"]["id"]
    # same content, from stdin and without a URL: still the same review
    code, out, err = cli("reviews", "add", "-", "--json", stdin=SEED.read_bytes())
    assert code == 0, err
    assert json.loads(out)["review"]["id"] == first["review"]["id"]
    assert len(cli.json("reviews", "list")) == 1


def test_a_review_added_before_its_show_is_linked_when_the_show_arrives(cli: Cli) -> None:
    added = cli.json("reviews", "add", str(SEED), "--published", "2018-07-01")
    assert added["links"] == []  # nothing followed yet: abstain
    follow_caliphate(cli)  # the new series is looked for in existing reviews
    links = cli.json("links", "--review", str(added["review"]["id"]))
    assert ("Caliphate", "reviews") in {(x["series"]["title"], x["relation"]) for x in links}


def test_reviews_feed_items_become_linked_reviews(cli: Cli, server: FeedServer) -> None:
    follow_caliphate(cli)
    seed = SEED.read_text(encoding="utf-8")
    news = (DEV / "reviews" / "neg-baghuz.txt").read_text(encoding="utf-8")

    def item(title: str, link: str, body: str) -> str:
        paragraphs = "".join(f"<p>{p}</p>" for p in body.split("\n\n") if p.strip())
        return (
            f"<item><title>{title}</title><link>{link}</link><guid>{link}</guid>"
            f"<pubDate>Sun, 01 Jul 2018 12:00:00 +0000</pubDate>"
            f"<description><![CDATA[{paragraphs}]]></description></item>"
        )

    rss = (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        "<title>A blog</title><link>https://blog.example/</link><description>x</description>"
        + item("Behind the scenes", "https://blog.example/caliphate", seed)
        + item("Last IS enclave falls", "https://blog.example/baghuz", news)
        # A link no browser could follow: the review is taken in without a URL.
        + item("Port out of range", "https://blog.example:99999/port", "A port too far.")
        + "</channel></rss>"
    )
    server.serve("/reviews.xml", rss.encode())
    assert cli("feeds", "add", server.url("/reviews.xml"), "--kind", "reviews")[0] == 0
    code, out, err = cli("poll")
    assert code == 0, err
    assert "0 new episodes, 0 updated, 3 reviews taken in" in out  # items are not episodes
    reviews = {r["url"]: r for r in cli.json("reviews", "list")}
    assert set(reviews) == {"https://blog.example/caliphate", "https://blog.example/baghuz", None}
    linked = cli.json("links")
    assert {x["review"]["url"] for x in linked} == {"https://blog.example/caliphate"}
    # polling again changes nothing
    assert cli("poll", "--feed", server.url("/reviews.xml"))[0] == 0
    assert len(cli.json("reviews", "list")) == 3


def test_garbage_is_refused_with_one_line_and_nothing_changes(
    cli: Cli, server: FeedServer, tmp_path: Path
) -> None:
    follow_caliphate(cli)
    png = tmp_path / "cover.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    empty = tmp_path / "empty.txt"
    empty.write_text("   \n\n  ", encoding="utf-8")
    server.fail("/broken", 500)
    huge = (
        b"<html><body>"
        + b"<p>words and more words</p>" * (50 * 1024 * 1024 // 27)
        + b"</body></html>"
    )
    server.serve("/huge.html", huge, content_type="text/html")

    cases = [
        (["reviews", "add", str(png)], f"{png}: review looks like binary data"),
        (["reviews", "add", str(empty)], f"{empty}: no review text"),
        (["reviews", "add", str(tmp_path / "missing.txt")], "no such file"),
        (["reviews", "add", server.url("/broken")], "500"),
        (["reviews", "add", server.url("/huge.html")], "over the 5 MiB limit"),
        (["reviews", "add", str(SEED), "--published", "July 2018"], "YYYY-MM-DD"),
        (
            ["reviews", "add", str(SEED), "--url", "https://blog.example:99999/caliphate"],
            "https://blog.example:99999/caliphate: not a valid URL: port 99999 is out of range",
        ),
        (
            ["reviews", "add", str(SEED), "--url", "javascript:alert(1)"],
            "javascript:alert(1): not a valid URL: only http and https URLs are accepted",
        ),
    ]
    for args, message in cases:
        code, _, err = cli(*args)
        assert code != 0, args
        assert message in err, (args, err)
        assert "Traceback" not in err
        if code == 1:
            assert len(err.strip().splitlines()) == 1, err
    assert cli.json("reviews", "list") == []
    assert cli.json("links") == []


def test_eval_prints_ours_and_bm25_side_by_side(sqlite_cli: Cli) -> None:
    code, out, err = sqlite_cli("eval", str(DEV))
    assert code == 0, err
    for row in ("series F1", "episode F1", "negatives abstained"):
        assert row in out
    assert "linker" in out and "BM25" in out


def test_eval_of_a_folder_that_is_no_dataset(sqlite_cli: Cli, tmp_path: Path) -> None:
    code, _, err = sqlite_cli("eval", str(tmp_path / "nothing-here"))
    assert code == 1
    assert err.startswith("aggregator: error: ") and "labels.json" in err


COPIES = ROOT / "tests" / "data" / "copies"
EXAMPLES = ROOT / "examples" / "feeds"


def test_the_quick_start_stores_the_founding_review_once(cli: Cli, tmp_path: Path) -> None:
    """The README: the bundled feeds (the review feed brings the founding review), then
    the founding review added by hand, as its example shows: one review, two sources."""
    (tmp_path / "config.toml").write_text(
        f'[[feeds]]\nurl = "{EXAMPLES / "caliphate.xml"}"\n\n'
        f'[[feeds]]\nurl = "{EXAMPLES / "example-reviews.xml"}"\nkind = "reviews"\n',
        encoding="utf-8",
    )
    assert cli("init")[0] == 0
    code, out, err = cli("poll")
    assert code == 0, err
    assert "2 reviews taken in" in out
    code, out, err = cli("reviews", "add", str(SEED), "--published", "2018-07-01")
    assert code == 0, err
    first, *rest = out.splitlines()
    assert first == (
        "review 1: already stored (nearly the same text), source added, this copy's longer "
        "text kept: Behind the scenes of the Islamic State: Who are we really fighting?"
    )
    linked = [line.split()[2:] for line in rest if line.startswith("  reviews ")]
    assert ["Caliphate"] in linked
    listed = cli.json("reviews", "list")
    assert [r["title"] for r in listed] == [
        "Last IS enclave falls in eastern Syria",
        "Behind the scenes of the Islamic State: Who are we really fighting?",
    ]
    founding = listed[1]
    assert founding["published"] == "2018-07-01T00:00:00+00:00"  # the earlier date
    assert founding["text"].startswith("Behind the scenes")  # the longer copy's text
    # Again: nothing new to say.
    code, out, _ = cli("reviews", "add", str(SEED), "--published", "2018-07-01")
    assert out.splitlines()[0] == (
        "review 1: already stored (same text): "
        "Behind the scenes of the Islamic State: Who are we really fighting?"
    )
    code, out, _ = cli("reviews", "add", "-", stdin=SEED.read_bytes())
    assert out.splitlines()[0].startswith("review 1: already stored (same text), source added:")
    assert len(cli.json("reviews", "list")) == 2


def test_copies_from_two_feeds_and_a_page_are_one_review(cli: Cli, server: FeedServer) -> None:
    """A blog's feed item, a weekly's re-published copy with its own footer, and the
    blog's page with headline and comment form: one review, found by each address."""
    follow_caliphate(cli)
    item = (COPIES / "feed-item.html").read_text(encoding="utf-8")
    republished = (COPIES / "republished.txt").read_text(encoding="utf-8")
    paragraphs = "".join(f"<p>{p}</p>" for p in republished.split("\n\n")[1:] if p.strip())

    def rss(title: str, link: str, body: str) -> bytes:
        return (
            '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            f"<title>{title}</title><link>https://x.example/</link><description>x</description>"
            f"<item><title>Behind the scenes</title><link>{link}</link><guid>{link}</guid>"
            "<pubDate>Sun, 01 Jul 2018 09:00:00 +0000</pubDate>"
            f"<description><![CDATA[{body}]]></description></item></channel></rss>"
        ).encode()

    server.serve("/blog.xml", rss("Blog", "https://blog.example/bts", item))
    server.serve("/weekly.xml", rss("Weekly", "https://weekly.example/bts", paragraphs))
    page_bytes = (COPIES / "page.html").read_bytes()
    server.serve("/bts.html", page_bytes, content_type="text/html; charset=utf-8")
    for path in ("/blog.xml", "/weekly.xml"):
        assert cli("feeds", "add", server.url(path), "--kind", "reviews")[0] == 0
    code, out, err = cli("poll")
    assert code == 0, err
    assert "2 reviews taken in" in out  # two items taken in, as one review
    [review] = cli.json("reviews", "list")
    code, out, err = cli("reviews", "add", server.url("/bts.html"))
    assert code == 0, err
    assert out.startswith(f"review {review['id']}: already stored (nearly the same text)")
    assert len(cli.json("reviews", "list")) == 1
    for url in ("https://blog.example/bts", "https://weekly.example/bts", server.url("/bts.html")):
        found = cli.json("links", "--review", url)
        assert {x["review"]["id"] for x in found} == {review["id"]}, url
    # The blog's feed changes (it is re-read, its item taken in again): its shorter
    # copy does not replace the page's text, and the review is not linked again.
    [before] = cli.json("reviews", "list")
    assert "Podcast Weekly" in before["text"]  # the weekly's copy: the longest, footer and all
    linked_at = cli.json("links", "--review", str(review["id"]))[0]
    server.serve("/blog.xml", rss("Blog, renamed", "https://blog.example/bts", item))
    code, out, err = cli("poll", "--feed", server.url("/blog.xml"))
    assert code == 0, err
    assert "1 review taken in" in out
    [after] = cli.json("reviews", "list")
    assert (after["id"], after["text"]) == (review["id"], before["text"])
    assert cli.json("links", "--review", str(review["id"]))[0] == linked_at

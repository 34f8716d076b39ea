"""``aggregator feed``: the combined feeds written by the command line, from a store
filled by the real pipeline (poll, then the founding review through the linker)."""

from __future__ import annotations

import io
from pathlib import Path

import podcastparser  # type: ignore[import-untyped]
import pytest
from lxml import etree  # type: ignore[import-untyped]

from aggregator.syndicate.render import AGG_NS
from tests.cli_support import Cli

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "tests" / "data" / "linking" / "reviews" / "seed.txt"
CALIPHATE = ROOT / "examples" / "feeds" / "caliphate.xml"
NS = {"agg": AGG_NS}


@pytest.fixture
def cli(
    tmp_path: Path,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Cli:
    config = tmp_path / "config.toml"
    config.write_text('[http]\nbase_url = "https://agg.example/"\n', encoding="utf-8")
    return Cli(config, database_url, monkeypatch, capsys)


def test_feed_command_writes_the_series_with_its_reviews(cli: Cli, tmp_path: Path) -> None:
    assert cli("feeds", "add", str(CALIPHATE))[0] == 0
    assert cli("poll")[0] == 0
    added = cli.json("reviews", "add", str(SEED), "--published", "2018-07-01")
    (series,) = cli.json("series", "list")
    links = [x for x in added["links"] if x["series"]["id"] == series["id"]]
    assert any(x["episode"] for x in links), "the founding review links Caliphate episodes"

    out = tmp_path / "feeds" / "caliphate.xml"
    out.parent.mkdir()
    code, stdout, err = cli("feed", "--series", str(series["id"]), "-o", str(out))
    assert (code, stdout) == (0, ""), err
    document = out.read_bytes()
    root = etree.fromstring(document)
    channel = root.find("channel")
    # The configured public address makes the feed's own link.
    self_link = channel.find("{http://www.w3.org/2005/Atom}link").get("href")
    assert self_link == f"https://agg.example/feeds/series/{series['id']}.xml"

    source = podcastparser.parse(CALIPHATE.as_uri(), io.BytesIO(CALIPHATE.read_bytes()))
    ours = podcastparser.parse(self_link, io.BytesIO(document))
    assert [e["guid"] for e in ours["episodes"]] == [e["guid"] for e in source["episodes"]]

    # Each of the review's links is where it belongs: episode links in their items,
    # the series link in the channel, each with the linker's relation and score.
    # Scores: the feed writes three decimals of the stored score, the JSON four, so
    # the two agree to within a rounding of each.
    found = {
        (item.findtext("guid"), x.get("relation")): float(x.get("score"))
        for item in root.iter("item")
        for x in item.findall("agg:link", NS)
    }
    expected = {(x["episode"]["guid"], x["relation"]): x["score"] for x in links if x["episode"]}
    assert found.keys() == expected.keys()
    assert all(abs(found[key] - expected[key]) <= 0.00051 for key in found)
    assert [x.get("episode") for x in channel.findall("agg:link", NS)] == [None] * len(
        [x for x in links if not x["episode"]]
    )
    title = added["review"]["title"]
    items = {i.findtext("guid"): i.findtext("description") for i in root.iter("item")}
    for guid, _ in expected:
        assert title in items[guid]


def test_feed_command_writes_the_reviews_feed_to_stdout(cli: Cli) -> None:
    assert cli("feeds", "add", str(CALIPHATE))[0] == 0
    assert cli("poll")[0] == 0
    added = cli.json("reviews", "add", str(SEED), "--published", "2018-07-01")
    reviewed = max(
        (x for x in added["links"] if x["episode"] and x["relation"] == "reviews"),
        key=lambda x: x["score"],
    )
    episodes = cli.json("episodes", "list")
    enclosure = next(e for e in episodes if e["id"] == reviewed["episode"]["id"])["enclosure_url"]

    code, out, err = cli("feed", "--reviews")
    assert code == 0, err
    (item,) = etree.fromstring(out.encode("utf-8")).iter("item")
    assert item.find("enclosure").get("url") == enclosure
    assert item.findtext("title") == added["review"]["title"]

    (series,) = cli.json("series", "list")
    code, out, _ = cli("feed", "--reviews", "--series", str(series["id"]))
    assert code == 0
    assert len(list(etree.fromstring(out.encode("utf-8")).iter("item"))) == 1


def test_feed_command_usage_and_unknown_series(cli: Cli) -> None:
    assert cli("init")[0] == 0
    code, _, err = cli("feed")
    assert code == 2
    assert "--series ID, or --reviews" in err
    code, _, err = cli("feed", "--series", "42")
    assert code == 1
    assert err.strip() == "aggregator: error: no series with id 42"
    code, _, err = cli("feed", "--reviews", "--series", "42")
    assert (code, err.strip()) == (1, "aggregator: error: no series with id 42")


def test_feed_command_writes_a_page_of_a_long_series(cli: Cli, tmp_path: Path) -> None:
    config = Path(cli.base[1])
    config.write_text(
        '[http]\nbase_url = "https://agg.example/"\nfeed_max_items = 5\n', encoding="utf-8"
    )
    assert cli("feeds", "add", str(CALIPHATE))[0] == 0  # 13 episodes: pages of 5, 5, 3
    assert cli("poll")[0] == 0
    (series,) = cli.json("series", "list")
    base = f"https://agg.example/feeds/series/{series['id']}.xml"
    guids: list[str] = []
    for page, size in ((1, 5), (2, 5), (3, 3)):
        code, out, err = cli("feed", "--series", str(series["id"]), "--page", str(page))
        assert code == 0, err
        parsed = podcastparser.parse(base, io.BytesIO(out.encode("utf-8")))
        assert len(parsed["episodes"]) == size
        assert parsed.get("paged_feed_next") == (f"{base}?page={page + 1}" if page < 3 else None)
        guids += [e["guid"] for e in parsed["episodes"]]
    # Every episode once; the newest five on the first page (podcastparser lists a
    # serial show's episodes oldest first, page by page).
    source = podcastparser.parse(CALIPHATE.as_uri(), io.BytesIO(CALIPHATE.read_bytes()))
    newest = sorted(source["episodes"], key=lambda e: e["published"], reverse=True)
    assert sorted(guids) == sorted(e["guid"] for e in source["episodes"])
    assert len(set(guids)) == len(guids) == 13
    assert set(guids[:5]) == {e["guid"] for e in newest[:5]}
    code, _, err = cli("feed", "--series", str(series["id"]), "--page", "4")
    assert code == 1
    assert (
        err.strip() == f"aggregator: error: series {series['id']} has no page 4 (5 episodes a page)"
    )

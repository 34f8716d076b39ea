from __future__ import annotations

from pathlib import Path

import pytest

from aggregator.exceptions import ConfigError
from aggregator.settings import DEFAULT_DATABASE_URL, load_settings
from aggregator.types import FeedKind


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_a_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(environ={})
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert settings.poll.interval_minutes == 60
    assert settings.poll.max_items == 5000
    assert settings.feeds == ()


def test_file_values_and_relative_paths(tmp_path: Path) -> None:
    feed = tmp_path / "feeds" / "show.xml"
    feed.parent.mkdir()
    feed.write_text("<rss/>")
    path = write(
        tmp_path,
        """
[database]
url = "sqlite:///data/agg.db"
busy_timeout_seconds = 5
[poll]
workers = 3
interval_minutes = 30
max_items = 50
[[feeds]]
url = "feeds/show.xml"
[[feeds]]
url = "https://blog.example/rss"
kind = "reviews"
""",
    )
    settings = load_settings(path, environ={})
    assert settings.database_url == f"sqlite:///{tmp_path}/data/agg.db"
    assert settings.poll.workers == 3
    assert settings.poll.interval_minutes == 30
    assert settings.poll.max_items == 50
    assert settings.busy_timeout_seconds == 5
    assert [f.url for f in settings.feeds] == [feed.as_uri(), "https://blog.example/rss"]
    assert settings.feeds[1].kind is FeedKind.REVIEWS


def test_environment_then_cli_override(tmp_path: Path) -> None:
    path = write(tmp_path, '[database]\nurl = "sqlite:///a.db"\n')
    env = {"AGGREGATOR_CONFIG": str(path), "AGGREGATOR_DATABASE_URL": "sqlite:////tmp/env.db"}
    assert load_settings(environ=env).database_url == "sqlite:////tmp/env.db"
    cli = load_settings(environ=env, database_url="postgresql://u@h/db")
    assert cli.database_url == "postgresql+psycopg://u@h/db"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[poll]\nworkers = 0\n", "poll.workers must be a whole number >= 1, not 0"),
        ('[poll]\nworkers = "8"\n', "poll.workers must be a whole number >= 1, not '8'"),
        ("[poll]\ninterval_minutes = -5\n", "poll.interval_minutes must be a positive number"),
        ("[poll]\nmax_items = 0\n", "poll.max_items must be a whole number >= 1, not 0"),
        (
            "[database]\nbusy_timeout_seconds = 0\n",
            "database.busy_timeout_seconds must be a positive number, not 0",
        ),
        ("[http]\nport = 70000\n", "http.port must be a whole number from 1 to 65535"),
        ('[database]\nurl = "mysql://x"\n', "database url must start with sqlite:///"),
        ("[[feeds]]\nkind = 'podcast'\n", "feeds[0].url must be a non-empty string"),
        ("[[feeds]]\nurl = 'x.xml'\nkind = 'video'\n", "feeds[0].kind must be one of"),
        ("poll = 3\n", "[poll] must be a table"),
        ("[poll\n", "not valid TOML"),
        (
            "[poll]\nmin_interval_minutes = 100\nmax_interval_minutes = 10\n",
            "poll.min_interval_minutes (100) is larger than poll.max_interval_minutes (10)",
        ),
    ],
)
def test_bad_values_name_key_and_file(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    assert str(path) in str(info.value)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_explicit_config_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "nope.toml", environ={})


def test_bad_database_url_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="environment: database url"):
        load_settings(environ={"AGGREGATOR_DATABASE_URL": "redis://x"})


def test_http_settings_and_token_from_environment(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[http]\ntoken = "from-file"\npublic_reads = false\nallowed_networks = ["10.20.0.0/16"]\n'
        "feed_max_items = 300\n",
    )
    settings = load_settings(path, environ={})
    assert settings.http.feed_max_items == 300
    assert settings.http.token == "from-file"
    assert settings.http.public_reads is False
    assert settings.http.allowed_networks == ("10.20.0.0/16",)
    assert load_settings(path, environ={"AGGREGATOR_TOKEN": "env"}).http.token == "env"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[http]\npublic_reads = 1\n", "http.public_reads must be true or false"),
        ('[http]\nallowed_networks = ["10.0.0.0/33"]\n', "http.allowed_networks must be a list"),
        ('[http]\nallowed_networks = "10.0.0.0/8"\n', "http.allowed_networks must be a list"),
        ("[http]\nfeed_max_items = 0\n", "http.feed_max_items must be a whole number from 1"),
    ],
)
def test_bad_http_settings(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(write(tmp_path, text), environ={})

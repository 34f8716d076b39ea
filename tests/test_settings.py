from __future__ import annotations

from pathlib import Path

import pytest

from aggregator.exceptions import ConfigError
from aggregator.settings import DEFAULT_DATABASE_URL, HttpSettings, load_settings
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


def test_sessions_limits_hosts_and_proxies(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "[http]\nsession_hours = 0.5\nsession_max_hours = 12\nauth_failures_per_minute = 3\n"
        'allowed_hosts = ["Podcasts.Example.org", "*.example.net", "::1"]\n'
        'trusted_proxies = ["10.0.0.5", "fd00::/8"]\n',
    )
    http = load_settings(path, environ={}).http
    assert (http.session_hours, http.session_max_hours) == (0.5, 12.0)
    assert http.auth_failures_per_minute == 3
    # As a Host header carries them: lower case, IPv6 in brackets.
    assert http.allowed_hosts == ("podcasts.example.org", "*.example.net", "[::1]")
    assert http.hosts("0.0.0.0") == http.allowed_hosts  # configured: nothing added
    assert http.trusted_proxies == ("10.0.0.5", "fd00::/8")
    env = {"AGGREGATOR_ALLOWED_HOSTS": "a.example, b.example"}
    assert load_settings(path, environ=env).http.allowed_hosts == ("a.example", "b.example")


def test_default_hosts_are_where_the_service_listens(tmp_path: Path) -> None:
    http = load_settings(write(tmp_path, ""), environ={}).http
    assert (http.allowed_hosts, http.session_hours, http.auth_failures_per_minute) == (
        None,
        24.0,
        10,
    )
    assert http.trusted_proxies == ()
    assert http.hosts() == ("127.0.0.1", "localhost", "[::1]")
    assert http.hosts("10.1.2.3") == ("10.1.2.3", "localhost", "127.0.0.1", "[::1]")
    assert http.hosts("::") == ("[::]", "localhost", "127.0.0.1", "[::1]")
    public = HttpSettings(host="0.0.0.0", base_url="https://Podcasts.Example.org/x")
    assert public.hosts() == ("0.0.0.0", "localhost", "127.0.0.1", "[::1]", "podcasts.example.org")


def test_episode_retention_and_poll_now_queue_settings(tmp_path: Path) -> None:
    defaults = load_settings(write(tmp_path, ""), environ={})
    assert defaults.poll.keep_missing_episodes == 10_000
    assert (defaults.http.poll_now_workers, defaults.http.poll_now_waiting) == (4, 16)
    text = "[poll]\nkeep_missing_episodes = 0\n[http]\npoll_now_workers = 2\npoll_now_waiting = 0\n"
    settings = load_settings(write(tmp_path, text), environ={})
    assert settings.poll.keep_missing_episodes == 0  # nothing gone from a feed is kept
    assert (settings.http.poll_now_workers, settings.http.poll_now_waiting) == (2, 0)
    # The shipped config.toml says the defaults.
    shipped = load_settings(Path(__file__).resolve().parents[1] / "config.toml", environ={})
    assert shipped.poll.keep_missing_episodes == defaults.poll.keep_missing_episodes
    assert shipped.http.poll_now_workers == defaults.http.poll_now_workers
    assert shipped.http.poll_now_waiting == defaults.http.poll_now_waiting


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('allowed_hosts = ["https://podcasts.example.org"]', "without scheme or port"),
        ('allowed_hosts = ["podcasts.example.org:8000"]', "without scheme or port"),
        ('allowed_hosts = ["podcasts.example.org/x"]', "without scheme or port"),
        ('allowed_hosts = ["*example.org"]', "without scheme or port"),
        ('allowed_hosts = "podcasts.example.org"', "http.allowed_hosts must be a list"),
        ("allowed_hosts = []", "http.allowed_hosts must name at least one host"),
        ("allowed_hosts = [3]", "http.allowed_hosts must be host names"),
        ('trusted_proxies = ["proxy.internal"]', "http.trusted_proxies must be a list"),
        ("session_hours = 0", "http.session_hours must be a positive number"),
        ("session_max_hours = -1", "http.session_max_hours must be a positive number"),
        (
            "session_hours = 48\nsession_max_hours = 24",
            "http.session_max_hours (24) is shorter than http.session_hours (48)",
        ),
        ("auth_failures_per_minute = 0", "http.auth_failures_per_minute must be a whole number"),
    ],
)
def test_bad_session_limit_and_host_settings(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, f"[http]\n{text}\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    assert str(path) in str(info.value)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_bad_allowed_hosts_from_the_environment(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="environment: AGGREGATOR_ALLOWED_HOSTS must be host"):
        load_settings(write(tmp_path, ""), environ={"AGGREGATOR_ALLOWED_HOSTS": "http://x.org"})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[poll]\nkeep_missing_episodes = -1\n",
            "poll.keep_missing_episodes must be a whole number >= 0, not -1",
        ),
        ("[http]\npoll_now_workers = 0\n", "http.poll_now_workers must be a whole number >= 1"),
        ("[http]\npoll_now_waiting = 1.5\n", "http.poll_now_waiting must be a whole number >= 0"),
    ],
)
def test_bad_retention_and_poll_now_settings(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(write(tmp_path, text), environ={})


def test_unknown_keys_are_warnings_naming_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        'workers = 3\n[database]\nuri = "sqlite:///x.db"\n[fetch]\nzzz = 1\n', encoding="utf-8"
    )
    settings = load_settings(path, environ={})
    assert settings.database_url == DEFAULT_DATABASE_URL.replace(
        "aggregator.db", str(tmp_path / "aggregator.db")
    )  # the misspelled key changed nothing
    assert settings.warnings == (
        f"{path}: unknown key workers, ignored",
        f"{path}: unknown key database.uri, ignored (did you mean database.url?)",
        f"{path}: unknown key fetch.zzz, ignored",
    )


def test_the_shipped_config_has_no_unknown_keys() -> None:
    shipped = Path(__file__).resolve().parents[1] / "config.toml"
    assert load_settings(shipped, environ={}).warnings == ()

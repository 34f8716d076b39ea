"""Failed logins and wrong API tokens: limited per client, answered 429, logged.

The limiter on its own with a clock moved by hand (no waiting); then the service's
own composition on 127.0.0.1, with a second client address (127.0.0.2) on the same
loopback; then ``aggregator run`` itself, which must not let a local client choose
its address with X-Forwarded-For.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from aggregator.api.throttle import FailureThrottle, Outcome
from aggregator.settings import HttpSettings
from tests.instances import start_instance, write_config
from tests.test_web import TOKEN, Site, running_site

LIMIT = 10  # http.auth_failures_per_minute's default


class Ticks:
    """A monotonic clock in seconds, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def never() -> bool:
    return False


# --- the limiter ---------------------------------------------------------------------------


def test_the_failure_after_the_limit_is_refused_unchecked() -> None:
    ticks = Ticks()
    throttle = FailureThrottle(LIMIT, 60, clock=ticks)
    outcomes = [throttle.attempt("10.0.0.1", never) for _ in range(LIMIT)]
    assert [a.outcome for a in outcomes] == [Outcome.FAILED] * LIMIT
    assert [a.retry_after for a in outcomes] == [0] * (LIMIT - 1) + [60]
    checked: list[bool] = []

    def right_token() -> bool:
        checked.append(True)
        return True

    ticks.now += 15.5
    refused = throttle.attempt("10.0.0.1", right_token)
    assert (refused.outcome, refused.retry_after) == (Outcome.REFUSED, 45)  # ceil(44.5)
    assert checked == []  # the right token is not even compared while refused
    assert throttle.attempt("10.0.0.2", right_token).outcome is Outcome.PASSED


def test_the_window_slides() -> None:
    ticks = Ticks()
    throttle = FailureThrottle(3, 60, clock=ticks)
    for _ in range(3):  # at 1000, 1001, 1002
        throttle.attempt("c", never)
        ticks.now += 1
    ticks.now = 1059.5
    assert throttle.attempt("c", never).outcome is Outcome.REFUSED
    ticks.now = 1060.0  # the failure at 1000 has left the window: one more try
    again = throttle.attempt("c", never)
    assert (again.outcome, again.retry_after) == (Outcome.FAILED, 1)  # 1001 + 60 - 1060
    assert throttle.attempt("c", never).outcome is Outcome.REFUSED
    ticks.now = 1200.0
    assert throttle.failures("c") == 0
    assert throttle.attempt("c", lambda: True).outcome is Outcome.PASSED


def test_successes_are_not_counted() -> None:
    throttle = FailureThrottle(3, 60, clock=Ticks())
    for check in (never, never, lambda: True, lambda: True, never):
        throttle.attempt("c", check)
    assert throttle.failures("c") == 3
    assert throttle.attempt("c", lambda: True).outcome is Outcome.REFUSED


def test_an_ipv6_host_is_one_client_per_64() -> None:
    throttle = FailureThrottle(2, 60, clock=Ticks())
    throttle.attempt("2001:db8:1:2::1", never)
    throttle.attempt("2001:db8:1:2:ffff::9", never)  # same /64, another address
    assert throttle.attempt("2001:db8:1:2::77", never).outcome is Outcome.REFUSED
    assert throttle.attempt("2001:db8:1:3::1", never).outcome is Outcome.FAILED
    # An IPv4 client reached over IPv6 is its IPv4 address.
    throttle.attempt("192.0.2.7", never)
    assert throttle.attempt("::ffff:192.0.2.7", never).outcome is Outcome.FAILED
    assert throttle.failures("192.0.2.7") == 2


def test_memory_stays_bounded() -> None:
    ticks = Ticks()
    throttle = FailureThrottle(5, 60, clock=ticks, max_clients=3)
    for n in range(5):
        throttle.attempt(f"10.0.0.{n}", never)
    # The two that failed longest ago were forgotten to make room.
    assert [throttle.failures(f"10.0.0.{n}") for n in range(5)] == [0, 0, 1, 1, 1]
    ticks.now += 61
    throttle.attempt("10.9.9.9", never)
    assert [throttle.failures(f"10.0.0.{n}") for n in range(5)] == [0] * 5


def test_concurrent_guesses_cannot_slip_past_the_limit() -> None:
    throttle = FailureThrottle(LIMIT, 60)
    start = threading.Barrier(40)
    outcomes: list[Outcome] = []
    lock = threading.Lock()

    def guess() -> None:
        start.wait()
        outcome = throttle.attempt("127.0.0.1", never).outcome
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=guess) for _ in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count(Outcome.FAILED) == LIMIT
    assert outcomes.count(Outcome.REFUSED) == 40 - LIMIT


# --- the service ---------------------------------------------------------------------------


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    with running_site(f"sqlite:///{tmp_path / 'site.db'}") as running:
        yield running


def client_from(site: Site, address: str) -> httpx.Client:
    """A client whose connections come from ``address`` (any 127.x is loopback)."""
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=site.base_url, transport=transport, timeout=10)


def wrong_login(site: Site, client: httpx.Client, guess: str) -> httpx.Response:
    return client.post(
        "/login", data={"token": guess, "next": "/"}, headers={"Origin": site.base_url}
    )


def messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("aggregator.")]


def test_failed_logins_are_limited_per_client_and_logged(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    guesses = [f"guess-{n:02d}" for n in range(LIMIT)]
    with client_from(site, "127.0.0.1") as attacker:
        for guess in guesses:
            response = wrong_login(site, attacker, guess)
            assert response.status_code == 403
            assert "That is not the token." in response.text
        refused = wrong_login(site, attacker, TOKEN)  # even the right one, now
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert "Too many failed logins from your address" in refused.text
        assert "set-cookie" not in refused.headers
    with client_from(site, "127.0.0.2") as neighbour:
        assert wrong_login(site, neighbour, TOKEN).status_code == 303
    lines = messages(caplog)
    assert lines[: LIMIT - 1] == ["failed login from 127.0.0.1"] * (LIMIT - 1)
    assert lines[LIMIT - 1] == (
        "failed login from 127.0.0.1; 10 failures within a minute: refusing it for 60 s"
    )
    assert len(lines) == LIMIT  # refused attempts add no line each
    assert not [line for line in lines for guess in guesses if guess in line]


def test_wrong_api_tokens_are_limited_per_client_and_logged(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    link_id = site.app.storage.list_links(review_id=site.founding_id)[0].id
    path = f"/api/links/{link_id}/confirm"
    with client_from(site, "127.0.0.1") as attacker:
        for n in range(LIMIT):
            response = attacker.post(path, headers={"Authorization": f"Bearer guess-{n}"})
            assert response.status_code == 401
        refused = attacker.post(path, headers={"Authorization": f"Bearer {TOKEN}"})
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert refused.json()["error"].startswith("too many wrong tokens from 127.0.0.1")
        # Public reads ask for no token, so they go on.
        assert attacker.get("/api/series").status_code == 200
    with client_from(site, "127.0.0.2") as neighbour:
        ok = neighbour.post(path, headers={"Authorization": f"Bearer {TOKEN}"})
        assert ok.status_code == 200
    lines = messages(caplog)
    assert lines[0] == f"wrong API token from 127.0.0.1 (POST '{path}')"
    assert len(lines) == LIMIT
    assert not [line for line in lines if "guess-" in line]


def test_logins_and_api_tokens_share_one_budget(site: Site) -> None:
    with client_from(site, "127.0.0.1") as attacker:
        for n in range(LIMIT // 2):
            assert wrong_login(site, attacker, f"guess-{n}").status_code == 403
            wrong = attacker.post("/api/feeds/1/poll", headers={"Authorization": f"Bearer {n}"})
            assert wrong.status_code == 401
        assert wrong_login(site, attacker, "one more").status_code == 429


def test_the_limit_is_a_setting(tmp_path: Path) -> None:
    http = HttpSettings(token=TOKEN, auth_failures_per_minute=2)
    with running_site(f"sqlite:///{tmp_path / 'a.db'}", http) as site, site.client() as client:
        assert [wrong_login(site, client, "x").status_code for _ in range(3)] == [403, 403, 429]


# --- aggregator run ------------------------------------------------------------------------


def test_aggregator_run_does_not_believe_a_local_x_forwarded_for(tmp_path: Path) -> None:
    """uvicorn believes X-Forwarded-For from 127.0.0.1 unless told otherwise: a client
    there could claim a new address for every guess. Only trusted proxies are."""
    for trusted, seen in (([], "127.0.0.1"), (["127.0.0.1"], "198.51.100.")):
        config = write_config(tmp_path / "config.toml", f"sqlite:///{tmp_path / 'a.db'}")
        with config.open("a", encoding="utf-8") as out:
            out.write(f'[http]\ntoken = "{TOKEN}"\ntrusted_proxies = {json.dumps(trusted)}\n')
        log = tmp_path / f"run-{len(trusted)}.log"
        instance = start_instance(config, log)
        try:
            with httpx.Client(base_url=instance.url, timeout=10) as client:
                codes = [
                    client.post(
                        "/login",
                        data={"token": f"guess-{n}"},
                        headers={"Origin": instance.url, "X-Forwarded-For": f"198.51.100.{n}"},
                    ).status_code
                    for n in range(LIMIT + 1)
                ]
        finally:
            assert instance.stop() == 0
        failures = [line for line in instance.output().splitlines() if "failed login" in line]
        if trusted:  # each forwarded address is a client of its own
            assert codes == [403] * (LIMIT + 1)
            assert len(failures) == LIMIT + 1
        else:
            assert codes == [403] * LIMIT + [429]
            assert len(failures) == LIMIT
        assert all(f"failed login from {seen}" in line for line in failures)

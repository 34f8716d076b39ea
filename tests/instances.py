"""Real ``aggregator run`` processes sharing one database, for scale-out tests.

Each instance is a child process started the way a user starts one (``python -m
aggregator run --port N`` with a config file), so leases, crashes (``kill -9``) and
shutdowns are tested across real process boundaries.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(path: Path, database_url: str, **poll: float) -> Path:
    """A config file for instances on ``database_url``, with ``[poll]`` overrides."""
    lines = ["[database]", f'url = "{database_url}"', "", "[poll]"]
    lines += [f"{key} = {value}" for key, value in poll.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def opml(urls: list[str], *, reviews: Sequence[str] = ()) -> bytes:
    """An OPML subscription list; ``reviews`` are marked as reviews feeds."""
    outlines = [f'    <outline type="rss" text="f{i}" xmlUrl="{u}"/>' for i, u in enumerate(urls)]
    outlines += [
        f'    <outline type="rss" category="reviews" text="r{i}" xmlUrl="{u}"/>'
        for i, u in enumerate(reviews)
    ]
    body = "\n".join(outlines)
    return (
        '<?xml version="1.0"?>\n<opml version="2.0"><head><title>list</title></head>\n'
        f"  <body>\n{body}\n  </body>\n</opml>\n"
    ).encode()


def run_cli(config: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aggregator", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_env(),
    )


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("AGGREGATOR_DATABASE_URL", None)  # the config file names the database
    env.pop("AGGREGATOR_CONFIG", None)
    return env


@dataclass
class Instance:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def kill(self) -> None:
        """``kill -9``: no shutdown code runs, leases stay behind."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> int:
        """SIGTERM, as a service manager stops it; its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)


def stop_all(running: Sequence[Instance]) -> list[int]:
    """SIGTERM to every instance at once, then their exit statuses."""
    for instance in running:
        if instance.process.poll() is None:
            instance.process.send_signal(signal.SIGTERM)
    return [instance.process.wait(timeout=60) for instance in running]


def start_instance(config: Path, log: Path, *, wait: bool = True) -> Instance:
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "aggregator",
                "--config",
                str(config),
                "run",
                "--port",
                str(port),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=_env(),
        )
    instance = Instance(process, port, log)
    if wait:
        _wait_healthy(instance)
    return instance


def _wait_healthy(instance: Instance, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if instance.process.poll() is not None:
            raise AssertionError(
                f"instance exited with {instance.process.returncode}:\n{instance.output()}"
            )
        try:
            if httpx.get(f"http://127.0.0.1:{instance.port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    instance.kill()
    raise AssertionError(f"instance did not start in {timeout} s:\n{instance.output()}")


@contextmanager
def instances(config: Path, logs: Path, count: int) -> Iterator[list[Instance]]:
    """``count`` instances on one config; stopped (or killed) at the end whatever happens."""
    started: list[Instance] = []
    try:
        # All started before any is waited for: they start (and migrate) together.
        for i in range(count):
            started.append(start_instance(config, logs / f"instance-{i}.log", wait=False))
        for instance in started:
            _wait_healthy(instance)
        yield started
    finally:
        for instance in started:
            if instance.process.poll() is None:
                try:
                    instance.stop()
                except subprocess.TimeoutExpired:
                    instance.kill()


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)

"""The Dockerfile and compose.yaml, checked as far as a machine without Docker can.

No Docker engine runs here, so the image is never built. What is checked instead: the
image is built from the project's own wheel and runs as a non-root user with a health
check; its start command and its health check, run here exactly as written (only the
port changed), start the service and find it healthy; compose.yaml wires two
instances to its PostgreSQL with the URL, user and password that service creates.
"""

from __future__ import annotations

import json
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.engine import make_url

from tests.instances import free_port, wait_for

ROOT = Path(__file__).resolve().parents[1]


def _instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    joined = path.read_text(encoding="utf-8").replace("\\\n", " ")
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def _final_stage(instructions: list[tuple[str, str]]) -> list[tuple[str, str]]:
    last_from = max(i for i, (word, _) in enumerate(instructions) if word == "FROM")
    return instructions[last_from:]


def _exec_form(arguments: str) -> list[str]:
    value = json.loads(arguments)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value)
    return value


def test_the_image_is_multi_stage_slim_and_runs_as_a_user() -> None:
    instructions = _instructions(ROOT / "Dockerfile")
    stages = [args for word, args in instructions if word == "FROM"]
    assert len(stages) >= 2
    assert all("slim" in stage for stage in stages)
    # The wheel is the project's own (built from "."), installed in the final stage.
    assert any(
        w == "RUN" and "pip wheel" in a and a.rstrip().endswith(" .") for w, a in instructions
    )
    final = _final_stage(instructions)
    users = [args for word, args in final if word == "USER"]
    assert users and users[-1] not in ("root", "0")
    user_at = max(i for i, (word, _) in enumerate(final) if word == "USER")
    cmd_at = max(i for i, (word, _) in enumerate(final) if word == "CMD")
    assert user_at < cmd_at
    assert any(word == "HEALTHCHECK" for word, _ in final)


def _start_and_health(port: int) -> tuple[list[str], list[str]]:
    final = _final_stage(_instructions(ROOT / "Dockerfile"))
    cmd = _exec_form(next(args for word, args in reversed(final) if word == "CMD"))
    health = next(args for word, args in final if word == "HEALTHCHECK")
    health_cmd = _exec_form(health[health.index("CMD ") + 4 :])
    exposed = next(args for word, args in final if word == "EXPOSE")
    assert cmd[:2] == ["aggregator", "run"]
    assert cmd[cmd.index("--port") + 1] == exposed
    assert f":{exposed}/healthz" in " ".join(health_cmd)
    swap = lambda parts: [p.replace(exposed, str(port)) for p in parts]  # noqa: E731
    return swap(cmd), swap(health_cmd)


def test_the_image_s_start_command_and_health_check_work_as_written(tmp_path: Path) -> None:
    # The image's working directory: its config file and bundled examples.
    shutil.copy(ROOT / "config.toml", tmp_path / "config.toml")
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    port = free_port()
    cmd, health = _start_and_health(port)
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "AGGREGATOR_DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'aggregator.db'}",
    }
    # "aggregator" and "python" are found on PATH, as in the image.
    with (tmp_path / "service.log").open("wb") as log:
        service = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:

        def healthy() -> bool:
            assert service.poll() is None, (tmp_path / "service.log").read_text()
            return subprocess.run(health, env=env, capture_output=True, timeout=10).returncode == 0

        wait_for(healthy, 60, f"the health check: {shlex.join(health)}")
    finally:
        service.send_signal(signal.SIGTERM)  # what `docker stop` sends
        assert service.wait(timeout=60) == 0
    output = (tmp_path / "service.log").read_text()
    assert "Traceback" not in output
    # Listening on every interface, as a published port needs.
    assert f"serving http://0.0.0.0:{port}/" in output


def _compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_compose_runs_two_instances_on_its_postgresql() -> None:
    services = _compose()["services"]
    postgres = services["postgres"]
    env = postgres["environment"]
    assert "healthcheck" in postgres
    instances = {name: s for name, s in services.items() if name != "postgres"}
    assert len(instances) >= 2
    ports = set()
    for name, service in instances.items():
        assert service["build"] == "."
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
        url = make_url(service["environment"]["AGGREGATOR_DATABASE_URL"])
        assert url.drivername == "postgresql+psycopg", name
        assert (url.host, url.port) == ("postgres", 5432)
        assert url.username == env["POSTGRES_USER"]
        assert url.password == env["POSTGRES_PASSWORD"]
        assert url.database == env["POSTGRES_DB"]
        assert "AGGREGATOR_TOKEN" in service["environment"]  # writes need a token
        (published,) = service["ports"]
        host_port, container_port = published.split(":")
        assert container_port == "8000"
        ports.add(host_port)
    assert len(ports) == len(instances)  # each instance on a port of its own

"""Run the ``aggregator`` CLI in-process (cheaper than a process), as the tests need."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from aggregator.cli import main


class Cli:
    """``cli(*args)`` -> (exit code, stdout, stderr); ``cli.json(*args)`` -> parsed output."""

    def __init__(
        self,
        config: Path,
        database_url: str,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        self.base = ["--config", str(config), "--database", database_url]
        self.monkeypatch = monkeypatch
        self.capsys = capsys

    def __call__(self, *args: str, stdin: bytes | None = None) -> tuple[int, str, str]:
        self.monkeypatch.setattr(sys, "argv", ["aggregator", *self.base, *args])
        if stdin is not None:
            self.monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
        code = 0
        try:
            main()
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        out, err = self.capsys.readouterr()
        return code, out, err

    def json(self, *args: str) -> Any:
        code, out, err = self(*args, "--json")
        assert code == 0, err
        return json.loads(out)

"""The HTTP app of ``aggregator run`` without its ticker, for bench/memory.py.

``python bench/_serve.py CONFIG PORT READY_FILE PEAK_FILE`` serves the store named in
CONFIG on 127.0.0.1:PORT until SIGINT; it writes its RSS once the app is built to
READY_FILE and its peak RSS (VmHWM) at exit to PEAK_FILE, both in bytes. It imports
whichever ``aggregator`` is first on ``PYTHONPATH``, so one script measures two trees.
"""

from __future__ import annotations

import sys
from pathlib import Path

import uvicorn

from aggregator.app import make_app
from aggregator.server import create_http_app
from aggregator.settings import load_settings


def _status(key: str) -> int:
    with Path("/proc/self/status").open(encoding="ascii") as f:
        kib = next(int(line.split()[1]) for line in f if line.startswith(f"{key}:"))
    return kib * 1024


def main() -> None:
    config, port, ready, peak = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])
    with make_app(load_settings(config)) as app:
        http = create_http_app(app)
        ready.write_text(str(_status("VmRSS")))
        try:
            uvicorn.run(http, host="127.0.0.1", port=port, log_level="warning")
        finally:
            peak.write_text(str(_status("VmHWM")))


if __name__ == "__main__":
    main()

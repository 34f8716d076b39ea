"""``python -m aggregator.evaluation DIR... [--errors] [--cv] [--fit]``: the same as
``aggregator eval``, one command with one set of options (docs/linker.md)."""

from __future__ import annotations

import sys

from aggregator.cli import main

sys.argv = ["aggregator", "eval", *sys.argv[1:]]
main()

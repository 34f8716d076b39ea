"""``python -m aggregator.evaluation DIR``: the linker's figures on a labelled set.

Prints precision, recall and F1 for all reviews, the training two-thirds and the
held-out third (``dataset.split``), beside a plain BM25 baseline fitted on the
training part. ``--errors`` lists what went wrong per review; ``--fit`` refits the
weights of ``linking/score.py`` on the training split and prints them (see
docs/linker.md). ``aggregator eval`` gives the side-by-side report on a whole set.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from aggregator.evaluation.dataset import (
    bm25_baseline,
    evaluate,
    format_errors,
    format_report,
    load_dataset,
    split,
)
from aggregator.evaluation.fit import fit_and_print
from aggregator.linking import Catalog, Linker

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m aggregator.evaluation")
    parser.add_argument("directory", type=Path)
    parser.add_argument("--errors", action="store_true", help="list the errors per review")
    parser.add_argument("--fit", action="store_true", help="refit the weights (training split)")
    args = parser.parse_args(argv)
    dataset = load_dataset(args.directory)
    train, held_out = split(dataset)
    if args.fit:
        print(fit_and_print(dataset.subset(train)))
        return
    linker = Linker(Catalog.build(dataset.series))
    for name, part in (
        ("all reviews", dataset),
        ("training two-thirds", dataset.subset(train)),
        ("held-out third", dataset.subset(held_out)),
    ):
        baseline = bm25_baseline(dataset.subset(train))
        ours = evaluate(part, linker.link)
        print(format_report(ours, evaluate(part, baseline), f"== {name} ({len(part.reviews)})"))
        if args.errors and name == "all reviews":
            print(format_errors(ours))
        print()


if __name__ == "__main__":
    main()

"""``seqdown merge SHARD ... MERGED``: a thin command over :func:`seqdown.dataset.merging.merge`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["add_parser", "run"]

_PROG = "seqdown merge"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Registers ``merge`` on the ``seqdown`` command's subparsers."""
    parser = subparsers.add_parser(
        "merge", help="combine the shard folders of a sharded preprocess run",
        description="Combine the outputs of 'seqdown preprocess --num-shards N --shard-index I' "
                    "(I = 0 .. N-1) into one dataset folder, identical to an unsharded run. "
                    "Shards made with different settings, incomplete or damaged shards are "
                    "refused. Exit status: 0, or 1 when the merged dataset records failures, "
                    "2 for usage errors.",
    )
    parser.add_argument("shards", nargs="+", metavar="SHARD_DIR", help="the shard folders")
    parser.add_argument("merged", metavar="MERGED_DIR", help="the folder to create")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a dataset already in MERGED_DIR")
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Runs ``seqdown merge``; returns the exit status (0, 1 or 2)."""
    from seqdown.dataset.merging import merge
    from seqdown.dataset.settings import UsageError

    try:
        summary = merge(args.shards, args.merged, overwrite=args.overwrite)
    except UsageError as error:
        print(f"{_PROG}: error: {error}", file=sys.stderr)
        return 2
    print(f"{_PROG}: {summary.line()}")
    return 1 if summary.failed else 0

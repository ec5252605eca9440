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
                    "2 for usage errors (a read-only MERGED_DIR included), 4 when writing "
                    "MERGED_DIR failed (a full disk: free space and run it again).",
    )
    parser.add_argument("shards", nargs="+", metavar="SHARD_DIR", help="the shard folders")
    parser.add_argument("merged", metavar="MERGED_DIR", help="the folder to create")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a dataset already in MERGED_DIR")
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Runs ``seqdown merge``; returns the exit status (0, 1, 2 or 4)."""
    from seqdown.cli.status import DONE, INPUTS_FAILED, STORAGE_FAILED, USAGE_ERROR
    from seqdown.dataset.atomic import StorageError
    from seqdown.dataset.merging import merge
    from seqdown.dataset.progress import escaped_name
    from seqdown.dataset.settings import UsageError

    try:
        summary = merge(args.shards, args.merged, overwrite=args.overwrite)
    except UsageError as error:
        print(f"{_PROG}: error: {error}", file=sys.stderr)
        return USAGE_ERROR
    except StorageError as error:
        print(f"{_PROG}: error: {escaped_name(str(error))}; no manifest was written: free "
              "space (or fix the storage) and run the same command again", file=sys.stderr)
        return STORAGE_FAILED
    print(f"{_PROG}: {summary.line()}")
    return INPUTS_FAILED if summary.failed else DONE

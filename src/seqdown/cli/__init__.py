"""The ``seqdown`` command: thin wrappers over library functions.

Each subcommand lives in :mod:`seqdown.cli` as a module with
``add_parser(subparsers)``, which registers its arguments and sets ``run``, a
function of the parsed arguments returning the exit status.

Exit status: 0 on success, 1 when the command ran but some inputs failed, 2 for
usage errors (as argparse reports them, and a command whose extra is not installed;
nothing was changed), 3 for an internal error (an exception nobody expected: its
traceback is printed, and it is a bug), 130 when interrupted (Ctrl-C); see
:mod:`seqdown.cli.status`.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence

from seqdown import __version__
from seqdown._lazy import MissingExtra
from seqdown.cli import analyze, export, merge, preprocess
from seqdown.cli.status import INTERNAL_ERROR, INTERRUPTED, USAGE_ERROR

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``seqdown`` command and its subcommands."""
    parser = argparse.ArgumentParser(
        prog="seqdown",
        description="Length-exact, anti-aliased downsampling for speech and audio datasets.",
    )
    parser.add_argument("--version", action="version", version=f"seqdown {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in (preprocess, merge, export, analyze):
        command.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs ``seqdown`` with ``argv`` (default: the process arguments); returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except MissingExtra as error:  # a command whose extra is not installed: a usage error
        print(f"seqdown {args.command}: error: {error}", file=sys.stderr)
        return USAGE_ERROR
    except KeyboardInterrupt:
        print(f"\nseqdown {args.command}: interrupted", file=sys.stderr)
        return INTERRUPTED
    except Exception:
        traceback.print_exc()
        print(f"seqdown {args.command}: internal error (this is a bug in seqdown; please "
              "report it with the traceback above)", file=sys.stderr)
        return INTERNAL_ERROR


if __name__ == "__main__":
    sys.exit(main())

"""``seqdown export {lhotse,hf} DATASET_DIR OUT_DIR``: a dataset folder for lhotse or Hugging Face.

Thin commands over :func:`seqdown.dataset.export.export_lhotse` and
:func:`~seqdown.dataset.export.export_hf`; the libraries they need are imported
only when a command runs (``seqdown --help`` does not import them).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["add_parser", "run"]

_FORMATS = {
    "lhotse": ("lhotse recordings, supervisions and cuts (jsonl.gz) whose features load "
               "exactly seqdown's frames", "cuts",
               "OUT_DIR/recordings.jsonl.gz, supervisions.jsonl.gz, cuts.jsonl.gz, and\n"
               "features/*.npy (the arrays, time-major, where the cuts point)",
               "  from lhotse import CutSet\n"
               "  cuts = CutSet.from_file('OUT_DIR/cuts.jsonl.gz')\n"
               "  cuts[0].load_features()   # (num_frames, feature_channels) float32"),
    "hf": ("a Hugging Face datasets.Dataset (save_to_disk) with id, text, num_frames and "
           "the features", "rows",
           "OUT_DIR/ as written by datasets.Dataset.save_to_disk",
           "  import datasets\n"
           "  rows = datasets.load_from_disk('OUT_DIR').with_format('numpy')\n"
           "  rows[0]['features']       # (num_frames, feature_channels) float32"),
}


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Registers ``export`` (with ``lhotse`` and ``hf``) on the ``seqdown`` command."""
    parser = subparsers.add_parser(
        "export", help="write a preprocessed dataset for lhotse or Hugging Face datasets",
        description="Write a dataset folder made by seqdown preprocess (or merge) in the "
                    "format of another toolkit. Needs that toolkit's package (lhotse, "
                    "datasets; both in seqdown's dev extra).")
    formats = parser.add_subparsers(dest="format", required=True, metavar="FORMAT")
    for name, (summary, _, outputs, example) in _FORMATS.items():
        command = formats.add_parser(
            name, help=summary, description=f"Write {summary}.",
            epilog=f"outputs:\n  {outputs}\n\nreading it back:\n{example}\n\n"
                   "exit status: 0 done, 2 usage error or missing package",
            formatter_class=argparse.RawDescriptionHelpFormatter)
        command.add_argument("dataset_dir", metavar="DATASET_DIR",
                             help="a complete dataset folder of seqdown preprocess or merge")
        command.add_argument("out_dir", metavar="OUT_DIR", help="new or empty folder to write")
        command.add_argument("--overwrite", action="store_true",
                             help="replace an earlier export of this kind in OUT_DIR")
        command.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Runs ``seqdown export FORMAT``; returns the exit status (0 or 2)."""
    prog = f"seqdown export {args.format}"
    try:
        from seqdown.dataset.export import export_hf, export_lhotse
        from seqdown.dataset.settings import UsageError

        export = export_lhotse if args.format == "lhotse" else export_hf
        summary = export(args.dataset_dir, args.out_dir, overwrite=args.overwrite)
    except ImportError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 2
    except (ValueError, UsageError) as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 2
    unit = _FORMATS[args.format][1]
    print(f"{prog}: {summary.utterances} {unit}, {summary.frames} frames, in {args.out_dir}")
    return 0

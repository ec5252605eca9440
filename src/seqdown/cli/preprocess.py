"""``seqdown preprocess (INPUT_DIR | --manifest IN.jsonl) OUTPUT_DIR``: a thin command over the
pipeline."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from seqdown.dataset.options import (
    AUDIO_EXTENSIONS,
    CHANNEL_MODES,
    DEFAULT_CHANNELS,
    DEFAULT_FEATURES,
    DEFAULT_FRONTEND,
    DEFAULT_HOP_MS,
    DEFAULT_N_MELS,
    DEFAULT_N_MFCC,
    DEFAULT_SAMPLE_RATE,
    DEFAULT_WIN_MS,
    FEATURE_KINDS,
    OPTION_NAMES,
)

__all__ = ["add_parser", "run"]

_PROG = "seqdown preprocess"

_USAGE = "%(prog)s (INPUT_DIR | --manifest IN.jsonl) OUTPUT_DIR [options]"

_DESCRIPTION = """\
Decode every audio file below INPUT_DIR (or every utterance of a NeMo-style JSONL
manifest), resample it with seqdown's anti-aliasing Resample, compute features,
shorten them with a fixed seqdown front-end, and write float32 arrays with a
manifest to OUTPUT_DIR.

Inputs:
  INPUT_DIR              a folder, walked recursively; --transcripts gives the texts
  --manifest IN.jsonl    one JSON object per line: audio_filepath (relative to the
                         manifest's folder, or absolute) and optionally offset and
                         duration (seconds: a segment, decoded without reading the rest
                         of the file), text, id and any other keys, which the output
                         records carry unchanged. An invalid line is a failure with its
                         line number; the other lines go on.

A file that fails is recorded in failures.jsonl and never stops the run. Running the
same command again resumes: finished files whose source is unchanged are skipped.
Outputs are identical whatever --workers is, and after any interruption."""

_EPILOG = """\
outputs:
  OUTPUT_DIR/manifest.jsonl   one JSON record per utterance, sorted by id: a NeMo
                              manifest (audio_filepath, duration, text, offset) with
                              seqdown's keys, frame_shift and frame_count among them
  OUTPUT_DIR/failures.jsonl   one JSON record per failed file or manifest line
  OUTPUT_DIR/dataset.json     settings, parameters, versions and counts
  OUTPUT_DIR/features/*.npy   float32 arrays (feature_channels, num_frames)

exit status: 0 all files succeeded, 1 some file failed, 2 usage error (nothing changed)

transcript ids (--transcripts): the path relative to INPUT_DIR without extension
  (digits/one_us), or the file name without extension (one_us, as in LibriSpeech)

examples:
  seqdown preprocess audio_fixtures build/demo --frontend decimate:2 --exclude 'broken/*'
  seqdown preprocess --manifest audio_fixtures/long/counting.jsonl build/counting
  seqdown preprocess audio_fixtures/digits build/digits \\
      --transcripts audio_fixtures/digits/digits.trans.txt --require-text"""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def _index(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}")
    return int(text)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Registers ``preprocess`` on the ``seqdown`` command's subparsers."""
    parser = subparsers.add_parser(
        "preprocess", help="turn a folder of audio (or a manifest) into feature arrays and a "
        "manifest", usage=_USAGE, description=_DESCRIPTION, epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input_dir", metavar="INPUT_DIR", nargs="?",
                        help="folder of audio, walked recursively (or give --manifest)")
    parser.add_argument("output_dir", metavar="OUTPUT_DIR",
                        help="dataset folder to write or resume")
    parser.add_argument(OPTION_NAMES["manifest"], metavar="IN.jsonl",
                        help="read the utterances from this NeMo-style JSONL manifest instead "
                             "of a folder")
    parser.add_argument(OPTION_NAMES["transcripts"], action="append", default=[], metavar="FILE",
                        help="'id<TAB>text' or 'id text' lines (LibriSpeech *.trans.txt) that "
                             "give the texts of INPUT_DIR's files (repeatable)")
    parser.add_argument(OPTION_NAMES["require_text"], action="store_true",
                        help="an utterance without a text is a failure, not an utterance")
    parser.add_argument(OPTION_NAMES["sample_rate"], type=_positive_int,
                        default=DEFAULT_SAMPLE_RATE, metavar="HZ",
                        help="resample every file to this rate (default: %(default)s)")
    parser.add_argument(OPTION_NAMES["features"], choices=FEATURE_KINDS,
                        default=DEFAULT_FEATURES,
                        help="what to compute (default: %(default)s)")
    parser.add_argument(OPTION_NAMES["n_mels"], type=_positive_int,
                        default=DEFAULT_N_MELS, metavar="N",
                        help="mel bands of logmel and mfcc (default: %(default)s)")
    parser.add_argument(OPTION_NAMES["n_mfcc"], type=_positive_int,
                        default=DEFAULT_N_MFCC, metavar="N",
                        help="coefficients kept by mfcc (default: %(default)s)")
    parser.add_argument(OPTION_NAMES["win_ms"], type=_positive_float,
                        default=DEFAULT_WIN_MS, metavar="MS",
                        help="analysis window, also the FFT size (default: %(default)s)")
    parser.add_argument(OPTION_NAMES["hop_ms"], type=_positive_float,
                        default=DEFAULT_HOP_MS, metavar="MS",
                        help="step between frames (default: %(default)s)")
    parser.add_argument(OPTION_NAMES["frontend"], default=DEFAULT_FRONTEND, metavar="SPEC",
                        help="fixed seqdown front-end on the features, e.g. 'decimate:2' or "
                             "'decimate:2+max:2' (default: %(default)s)")
    parser.add_argument(OPTION_NAMES["channels"], choices=CHANNEL_MODES,
                        default=DEFAULT_CHANNELS,
                        help="average the channels, or keep them stacked along the first axis "
                             "(default: %(default)s)")
    parser.add_argument("--workers", type=_positive_int, default=_cpus(), metavar="N",
                        help="worker processes (default: the CPUs available, %(default)s)")
    parser.add_argument(OPTION_NAMES["num_shards"], type=_positive_int, default=1, metavar="N",
                        help="split the files into N shards by a hash of their path "
                             "(default: %(default)s)")
    parser.add_argument(OPTION_NAMES["shard_index"], type=_index, default=0, metavar="I",
                        help="process only shard I, 0 <= I < N (default: %(default)s)")
    parser.add_argument(OPTION_NAMES["exclude"], action="append", default=[], metavar="GLOB",
                        help="skip files whose path relative to INPUT_DIR (or manifest lines "
                             "whose audio_filepath) matches GLOB (repeatable; '*' also "
                             "matches '/')")
    parser.add_argument("--overwrite", action="store_true",
                        help="start over in an OUTPUT_DIR made with other settings")
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Runs ``seqdown preprocess``; returns the exit status (0, 1 or 2)."""
    from seqdown.dataset.pipeline import preprocess
    from seqdown.dataset.progress import Progress
    from seqdown.dataset.settings import Settings, UsageError

    try:
        settings = Settings.make(
            args.input_dir, manifest=args.manifest, transcripts=args.transcripts,
            require_text=args.require_text, sample_rate=args.sample_rate, features=args.features,
            n_mels=args.n_mels, n_mfcc=args.n_mfcc, win_ms=args.win_ms, hop_ms=args.hop_ms,
            frontend=args.frontend, channels=args.channels, num_shards=args.num_shards,
            shard_index=args.shard_index, exclude=args.exclude)
        summary = preprocess(settings, args.output_dir, workers=args.workers,
                             overwrite=args.overwrite, progress=Progress(sys.stderr, _PROG))
    except (ValueError, UsageError) as error:
        print(f"{_PROG}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\n{_PROG}: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    if not summary.done + summary.skipped + summary.failed:
        if args.manifest is not None:
            print(f"{_PROG}: warning: no utterances in {args.manifest!r} (this shard)",
                  file=sys.stderr)
        else:
            print(f"{_PROG}: warning: no audio files in {args.input_dir!r} (this shard, after "
                  "--exclude); extensions read: " + ", ".join(sorted(AUDIO_EXTENSIONS)),
                  file=sys.stderr)
    for source in summary.without_text:
        print(f"{_PROG}: no text for {source}", file=sys.stderr)
    print(f"{_PROG}: {summary.line()}")
    return 1 if summary.failed else 0

"""``seqdown preprocess (INPUT_DIR | --manifest IN.jsonl) OUTPUT_DIR``: a thin command over the
pipeline."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seqdown.cli.status import DONE, INPUTS_FAILED, INTERRUPTED, STORAGE_FAILED, USAGE_ERROR
from seqdown.dataset.options import (
    CHANNEL_MODES,
    CONNECT_TIMEOUT,
    DEFAULT_CHANNELS,
    DEFAULT_FEATURES,
    DEFAULT_FILE_TIMEOUT,
    DEFAULT_FRONTEND,
    DEFAULT_HOP_MS,
    DEFAULT_N_MELS,
    DEFAULT_N_MFCC,
    DEFAULT_PROGRESS_INTERVAL,
    DEFAULT_SAMPLE_RATE,
    DEFAULT_VERIFY,
    DEFAULT_WIN_MS,
    FEATURE_KINDS,
    OPTION_NAMES,
    VERIFY_OPTION,
)

if TYPE_CHECKING:
    from seqdown.dataset.progress import Progress

__all__ = ["add_parser", "configure_logging", "run"]

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

A file that fails is recorded in failures.jsonl and never stops the run; a write
to OUTPUT_DIR that fails (a full disk) stops it (exit 4) and costs no file. Running
the same command again resumes. Outputs are identical whatever --workers is, and
after any interruption.

Resuming skips a finished utterance when its journal entry still matches: the
source's size and modification time, what the input says about it (text, segment,
manifest keys), and the array's size. --verify also compares contents: the SHA-256
of each finished array with its record's, and of each source with the one recorded
when it was processed; a mismatch is processed again (one warning line each)."""

_EPILOG = """\
outputs:
  OUTPUT_DIR/manifest.jsonl   one JSON record per utterance, sorted by id: a NeMo
                              manifest (audio_filepath, duration, text, offset) with
                              seqdown's keys, frame_shift and frame_count among them
  OUTPUT_DIR/failures.jsonl   one JSON record per failed file or manifest line
  OUTPUT_DIR/dataset.json     settings, parameters, versions and counts
  OUTPUT_DIR/features/*.npy   float32 arrays (feature_channels, num_frames)

on a Dask cluster (pip install 'seqdown[dask]'):
  seqdown preprocess /shared/corpus /shared/out --scheduler tcp://head-node:8786
  seqdown preprocess /shared/corpus /shared/out --scheduler-file ~/scheduler.json
  seqdown preprocess corpus out --scheduler local --workers 8   (Dask's dashboard, one machine)
  INPUT_DIR and OUTPUT_DIR must be at the same paths on every worker (checked first).

exit status: 0 all files succeeded, 1 some file failed, 2 usage error (nothing changed;
  also a read-only OUTPUT_DIR), 3 internal error (a bug: a traceback is printed),
  4 output storage failed (free space, run again to resume), 130 interrupted (run again
  to resume)

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


def _limit(text: str) -> float | None:
    """A positive number of seconds, or 0 for no limit (None)."""
    try:
        if float(text) == 0:
            return None
    except ValueError:
        pass  # _positive_float names the value
    return _positive_float(text)


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
    parser.add_argument(VERIFY_OPTION, action="store_true", default=DEFAULT_VERIFY,
                        help="on resume, also compare the SHA-256 of finished arrays and of "
                             "their sources with the journal's, and redo any that differ "
                             "(reads every finished file again)")
    parser.add_argument("--file-timeout", type=_limit, default=DEFAULT_FILE_TIMEOUT,
                        metavar="SECONDS",
                        help="record a file that takes longer as a 'Timeout' failure and go on; "
                             "0 for no limit (default: %(default)g)")
    cluster = parser.add_argument_group(
        "Dask cluster", "run the files as tasks on a Dask cluster (needs seqdown[dask])")
    where = cluster.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="address of a running scheduler (tcp://host:8786), or 'local' to "
                            "start a LocalCluster of --workers processes")
    where.add_argument("--scheduler-file", type=Path, metavar="PATH",
                       help="the scheduler file of 'dask scheduler --scheduler-file PATH' "
                            "(waits --connect-timeout for it to appear)")
    cluster.add_argument("--connect-timeout", type=_positive_float, default=CONNECT_TIMEOUT,
                         metavar="SECONDS",
                         help="give up on a scheduler not reached by then (default: "
                              "%(default)g)")
    output = parser.add_argument_group("output")
    output.add_argument("--progress-interval", type=_positive_float,
                        default=DEFAULT_PROGRESS_INTERVAL, metavar="SECONDS",
                        help="when standard error is not a terminal, a progress line this "
                             "often (default: %(default)g)")
    loudness = output.add_mutually_exclusive_group()
    loudness.add_argument("-v", "--verbose", action="store_true",
                          help="also log details (and Dask's own messages)")
    loudness.add_argument("-q", "--quiet", action="store_true",
                          help="only warnings and errors: no progress, no line per failure")
    parser.set_defaults(run=run)
    return parser


class _Formatter(logging.Formatter):
    """``seqdown preprocess: MESSAGE``; ``warning:`` or ``error:`` before warnings and worse."""

    def format(self, record: logging.LogRecord) -> str:
        level = "" if record.levelno < logging.WARNING else f"{record.levelname.lower()}: "
        return f"{_PROG}: {level}{record.getMessage()}"


@contextlib.contextmanager
def configure_logging(args: argparse.Namespace, handler: logging.Handler) -> Iterator[None]:
    """Sends the ``seqdown`` logger's records to ``handler`` at the level ``-v``/``-q`` give.

    Default: INFO (each failure, and warnings); ``-q``: WARNING; ``-v``: DEBUG,
    and Dask's own INFO messages too (else only its critical ones: the command
    speaks for it, e.g. of a lost scheduler). The loggers are restored at the end of the block.
    """
    handler.setFormatter(_Formatter())
    ours = logging.getLogger("seqdown")
    # Dask's logging config gives some of its loggers levels of their own: set each one.
    theirs = [logging.getLogger(name) for name in ["distributed", "tornado",
                                                   *logging.root.manager.loggerDict]
              if name.split(".")[0] in {"distributed", "tornado"}]
    saved = (ours.level, ours.propagate, [logger.level for logger in theirs])
    ours.addHandler(handler)
    ours.setLevel(logging.DEBUG if args.verbose else
                  logging.WARNING if args.quiet else logging.INFO)
    ours.propagate = False
    for logger in theirs:
        logger.setLevel(logging.INFO if args.verbose else logging.CRITICAL)
    try:
        yield
    finally:
        ours.removeHandler(handler)
        ours.level, ours.propagate = saved[0], saved[1]
        for logger, level in zip(theirs, saved[2], strict=True):
            logger.setLevel(level)


def run(args: argparse.Namespace) -> int:
    """Runs ``seqdown preprocess``; returns the exit status (0, 1, 2, 4 or 130).

    130 also when the Dask scheduler is lost mid-run (run again to resume).

    Exceptions other than usage errors propagate: :func:`seqdown.cli.main`
    prints their traceback and exits 3.
    """
    from seqdown.dataset.progress import Progress, ProgressHandler

    scheduler = args.scheduler if args.scheduler is not None else args.scheduler_file
    if scheduler is not None:
        import seqdown.dataset.cluster  # noqa: F401 - fails at once without the dask extra
    progress = Progress(sys.stderr, _PROG, interval=args.progress_interval)
    with configure_logging(args, ProgressHandler(progress)):
        return _preprocess(args, scheduler, progress)


def _preprocess(args: argparse.Namespace, scheduler: str | Path | None,
                progress: Progress) -> int:
    from seqdown.dataset.atomic import StorageError
    from seqdown.dataset.pipeline import preprocess
    from seqdown.dataset.progress import escaped_name
    from seqdown.dataset.settings import Settings, UsageError
    from seqdown.dataset.workers import ExecutorLost

    try:
        settings = Settings.make(
            args.input_dir, manifest=args.manifest, transcripts=args.transcripts,
            require_text=args.require_text, sample_rate=args.sample_rate, features=args.features,
            n_mels=args.n_mels, n_mfcc=args.n_mfcc, win_ms=args.win_ms, hop_ms=args.hop_ms,
            frontend=args.frontend, channels=args.channels, num_shards=args.num_shards,
            shard_index=args.shard_index, exclude=args.exclude)
    except ValueError as error:
        print(f"{_PROG}: error: {error}", file=sys.stderr)
        return USAGE_ERROR
    try:
        summary = preprocess(settings, args.output_dir, workers=args.workers,
                             overwrite=args.overwrite,
                             progress=None if args.quiet else progress, scheduler=scheduler,
                             file_timeout=args.file_timeout,
                             connect_timeout=args.connect_timeout, verify=args.verify)
    except UsageError as error:
        print(f"{_PROG}: error: {error}", file=sys.stderr)
        return USAGE_ERROR
    except StorageError as error:
        print(f"{_PROG}: error: {escaped_name(str(error))}; nothing was recorded against the "
              "file being written: free space (or fix the storage) and run the same command "
              "again to resume", file=sys.stderr)
        return STORAGE_FAILED
    except KeyboardInterrupt:
        print(f"\n{_PROG}: interrupted; run the same command again to resume", file=sys.stderr)
        return INTERRUPTED
    except ExecutorLost as error:  # the cluster went away: an interruption, not a bug
        print(f"{_PROG}: error: {error}", file=sys.stderr)
        return INTERRUPTED
    for source in summary.without_text:
        print(f"{_PROG}: no text for {escaped_name(source)}", file=sys.stderr)
    print(f"{_PROG}: {summary.line()}")
    return INPUTS_FAILED if summary.failed else DONE

"""``seqdown preprocess``: a folder of audio to a resumable dataset of feature arrays.

:func:`preprocess` lists the audio files (:func:`~seqdown.dataset.audio.find_audio`),
keeps this shard's share, skips the files a previous run finished (the
:mod:`~seqdown.dataset.journal`), processes the rest in worker processes
(:func:`~seqdown.dataset.utterance.process_file`, :func:`~seqdown.dataset.workers.run_jobs`)
and writes the dataset folder::

    OUTPUT_DIR/
        dataset.json       settings, parameters, versions, counts (complete: true at the end)
        manifest.jsonl     one Record per utterance, sorted by id
        failures.jsonl     one Failure per file (or manifest line) that failed, sorted by
                           line, then source
        features/<id>.npy  float32 (feature_channels, num_frames)
        journal.jsonl      what is finished, for resuming
        .lock              held while a run writes here

Guarantees: every write is atomic (:mod:`~seqdown.dataset.atomic`); while a run is in
progress (or after it was killed) ``dataset.json`` says ``"complete": false``
and there is no ``manifest.jsonl``, so nothing unfinished passes for a dataset;
the outputs of a run depend only on the inputs and settings (not on ``workers``, on the order in
which files finish, or on interruptions and resumes); a folder made with other
settings is refused before anything in it changes.

Inputs: a folder of audio (INPUT_DIR, with ``--transcripts`` for the texts) or a
NeMo-style JSONL manifest (``--manifest``); see :mod:`~seqdown.dataset.sources`.

Sharding: an utterance belongs to shard ``int(sha256(key).hexdigest()[:16], 16) %
num_shards``, where ``key`` is its path relative to INPUT_DIR (folder inputs) or
its manifest line's ``id`` or ``audio_filepath[@offset]`` (manifest inputs); an
invalid manifest line's failure goes to the shard of ``"<audio_filepath>:<line>"``.
Adding utterances never moves the others between shards.
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from seqdown.dataset.atomic import remove_temporaries, write_text
from seqdown.dataset.audio import find_audio
from seqdown.dataset.journal import JOURNAL_FILE, Entry, Journal, is_current
from seqdown.dataset.manifest import (
    FAILURES_FILE,
    FEATURES_DIR,
    MANIFEST_FILE,
    Failure,
    failure_order,
    total_hours,
    write_jsonl,
)
from seqdown.dataset.progress import Progress
from seqdown.dataset.settings import (
    DATASET_FILE,
    Settings,
    SettingsMismatch,
    UsageError,
    describe_dataset,
    differences,
    read_dataset_file,
)
from seqdown.dataset.sources import Utterance, folder_utterances, manifest_utterances
from seqdown.dataset.transcripts import match_transcripts, read_transcripts
from seqdown.dataset.utterance import Job, process_file
from seqdown.dataset.workers import WorkerCrash, run_jobs

__all__ = [
    "LOCK_FILE",
    "Summary",
    "clear_outputs",
    "dataset_lock",
    "escaped_name",
    "finish_dataset",
    "preprocess",
    "shard_of",
]

LOCK_FILE = ".lock"
#: What --overwrite removes: seqdown's own outputs, never other files.
_OUTPUTS = (DATASET_FILE, MANIFEST_FILE, FAILURES_FILE, JOURNAL_FILE)


def shard_of(source: str, num_shards: int) -> int:
    """The shard of the relative path ``source``: a stable hash of it, modulo ``num_shards``."""
    return int(hashlib.sha256(source.encode("utf-8")).hexdigest()[:16], 16) % num_shards


@dataclass(frozen=True)
class Summary:
    """What a run did.

    Attributes:
        output_dir: the dataset folder.
        done: files processed by this run.
        skipped: files a previous run had finished, unchanged.
        failed: files that failed (recorded in ``failures.jsonl``).
        hours: hours of source audio in the dataset (done and skipped).
        processed_seconds: seconds of source audio this run processed.
        elapsed: wall-clock seconds of the run.
        unit: what was counted: ``"files"`` (folder inputs) or ``"utterances"``
            (manifest lines).
        without_text: the sources of the utterances in the dataset that have
            no text, when the input gives texts (``--transcripts`` or a
            manifest); empty otherwise.
    """

    output_dir: str
    done: int
    skipped: int
    failed: int
    hours: float
    processed_seconds: float
    elapsed: float
    unit: str = "files"
    without_text: tuple[str, ...] = ()

    @property
    def real_time_factor(self) -> float | None:
        """Processing time per second of audio processed (None when nothing was processed)."""
        return self.elapsed / self.processed_seconds if self.processed_seconds else None

    def line(self) -> str:
        """The one-line summary printed at the end of a run."""
        rtf = self.real_time_factor
        speed = "n/a" if rtf is None else f"{rtf:.4f}"
        failures = (f" (see {os.path.join(self.output_dir, FAILURES_FILE)})"
                    if self.failed else "")
        text = f", {len(self.without_text)} without text" if self.without_text else ""
        return (f"{self.done + self.skipped + self.failed} {self.unit}: {self.done} done, "
                f"{self.skipped} skipped, {self.failed} failed{failures}{text}; "
                f"{self.hours:.4f} h of audio; {self.elapsed:.1f} s, real-time factor {speed}")


@contextlib.contextmanager
def dataset_lock(folder: Path) -> Iterator[None]:
    """Holds an exclusive lock on ``folder/.lock`` (POSIX ``flock``; released if killed).

    Raises:
        UsageError: another process holds it.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no locking
        yield
        return
    with open(folder / LOCK_FILE, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UsageError(f"another seqdown process is writing to {os.fspath(folder)!r}; "
                             "wait for it to finish (or stop it) and run again") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _check_output(folder: Path, settings: Settings, overwrite: bool) -> None:
    """Refuses an OUTPUT_DIR this run must not write to; changes nothing.

    Raises:
        UsageError: OUTPUT_DIR is a file, or a non-empty folder that is not a
            dataset.
        SettingsMismatch: OUTPUT_DIR holds a dataset made with other settings
            and ``overwrite`` is False.
    """
    if not folder.exists():
        return
    if not folder.is_dir():
        raise UsageError(f"OUTPUT_DIR must be a folder, got the file {os.fspath(folder)!r}")
    try:
        existing = read_dataset_file(folder)
    except ValueError as error:
        raise UsageError(str(error)) from None
    if existing is None:
        if any(path.name != LOCK_FILE for path in folder.iterdir()):
            raise UsageError(f"OUTPUT_DIR {os.fspath(folder)!r} is not empty and holds no "
                             f"{DATASET_FILE}; choose a new or empty folder")
        return
    if overwrite:
        return
    # These choose which utterances and texts there are, not how an array is made.
    changed = differences(existing[1], settings, ignore=("exclude", "transcripts", "require_text"))
    if changed:
        raise SettingsMismatch(
            f"OUTPUT_DIR {os.fspath(folder)!r} holds a dataset made with "
            f"{'; '.join(changed)}. Run again with the same options to resume it, pass "
            "--overwrite to start over, or choose another OUTPUT_DIR")


def clear_outputs(folder: Path) -> None:
    """Removes seqdown's outputs from ``folder`` (for --overwrite)."""
    shutil.rmtree(folder / FEATURES_DIR, ignore_errors=True)
    for name in _OUTPUTS:
        with contextlib.suppress(FileNotFoundError):
            (folder / name).unlink()


def _write_description(folder: Path, settings: Settings, counts: dict[str, Any] | None) -> None:
    description = describe_dataset(settings, complete=counts is not None, counts=counts)
    write_text(folder / DATASET_FILE, json.dumps(description, indent=2, ensure_ascii=False) + "\n")


def finish_dataset(folder: Path, settings: Settings, entries: list[Entry],
                   failures: list[Failure]) -> dict[str, Any]:
    """Writes the final outputs of a dataset folder and removes arrays nobody refers to.

    Args:
        folder: the dataset folder.
        settings: its settings.
        entries: the finished utterances (any order).
        failures: the failed files (any order).

    Returns:
        The counts written to ``dataset.json``: utterances, failures, hours.
    """
    entries = sorted(entries, key=lambda entry: entry.record.id)
    records = [entry.record for entry in entries]
    write_jsonl(folder / MANIFEST_FILE, records)
    failures = sorted(failures, key=failure_order)
    write_jsonl(folder / FAILURES_FILE, failures)
    Journal(folder).rewrite(entries)
    wanted = {Path(record.feature_filepath).name for record in records}
    for array in (folder / FEATURES_DIR).glob("*.npy"):
        if array.name not in wanted:
            array.unlink()
    counts = {"utterances": len(records), "failures": len(failures),
              "hours": total_hours(records),
              "without_text": sum(record.text is None for record in records)}
    _write_description(folder, settings, counts)
    return counts


def _utterances(settings: Settings, folder: Path) -> tuple[list[Utterance], list[Failure]]:
    """Every utterance of the input (all shards), and the manifest lines that are not valid.

    Raises:
        UsageError: INPUT_DIR is not a folder, the manifest or a transcripts
            file cannot be read, or a transcript id is ambiguous.
    """
    if settings.manifest is not None:
        try:
            utterances, invalid = manifest_utterances(settings.manifest)
        except OSError as error:
            raise UsageError(f"--manifest {settings.manifest!r} cannot be read: "
                             f"{error.strerror or error}") from None
        return [u for u in utterances if not any(fnmatch.fnmatchcase(u.source, pattern)
                                                 for pattern in settings.exclude)], invalid
    try:
        sources = find_audio(settings.input_dir, settings.exclude, skip=folder)
    except NotADirectoryError as error:
        raise UsageError(str(error)) from None
    # A name that is not valid UTF-8 cannot be a manifest's source: it is a failure of its
    # own (its bytes escaped, as \xff), and the run goes on with the others.
    unnamed = [source for source in sources if not _is_utf8(source)]
    sources = [source for source in sources if _is_utf8(source)]
    try:
        texts = match_transcripts(sources, read_transcripts(settings.transcripts))
    except ValueError as error:
        raise UsageError(str(error)) from None
    failures = [Failure(escaped_name(source), "UnrepresentableName", "the file name is not "
                        "valid UTF-8, so no manifest can name it; rename the file")
                for source in unnamed]
    return folder_utterances(settings.input_dir, sources, texts), failures


def _is_utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # os.walk gave undecodable bytes as surrogates
        return False
    return True


def escaped_name(name: str) -> str:
    """``name`` printable on one line: undecodable bytes as ``\\xff``, control
    characters (a newline that would forge a line of the summary) as ``\\n``."""
    raw = name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in raw)


def _relabel(entry: Entry, utterance: Utterance) -> Entry:
    """``entry`` with the text and extra keys ``utterance`` now has (its array unchanged)."""
    record = replace(entry.record, text=utterance.text, extra=utterance.extra)
    return replace(entry, record=record, input_digest=utterance.digest)


def _jobs(settings: Settings, folder: Path, journal: dict[str, Entry],
          inputs: tuple[list[Utterance], list[Failure]]
          ) -> tuple[list[Job], list[Entry], list[Failure]]:
    """Splits this shard's utterances into jobs to run, finished entries, and failures.

    ``inputs`` is :func:`_utterances`. The failures are the manifest's invalid
    lines, utterances without a text under ``--require-text``, and audio files
    that vanished.
    """
    utterances, invalid = inputs
    mine = settings.num_shards, settings.shard_index
    failures = [failure for failure in invalid
                if shard_of(f"{failure.source}:{failure.line}", mine[0]) == mine[1]]
    jobs, finished = [], []
    for utterance in utterances:
        if shard_of(utterance.key, mine[0]) != mine[1]:
            continue
        if settings.require_text and utterance.text is None:
            failures.append(utterance.failure("MissingText", "no text for this utterance "
                                              "(--require-text)"))
            continue
        try:
            status = os.stat(utterance.audio_path)
        except OSError as error:
            failures.append(utterance.failure(type(error).__name__,
                                              error.strerror or str(error)))
            continue
        entry = journal.get(utterance.key)
        if entry is not None and is_current(entry, status, folder, utterance.digest):
            finished.append(entry)
        elif (entry is not None and entry.audio_digest == utterance.audio_digest
              and is_current(entry, status, folder, entry.input_digest)):
            finished.append(_relabel(entry, utterance))  # only the text or extra keys changed
        else:
            jobs.append(Job(utterance, os.fspath(folder), settings, status.st_size,
                            status.st_mtime_ns))
    return jobs, finished, failures


def preprocess(settings: Settings, output_dir: str | os.PathLike[str], *, workers: int = 1,
               overwrite: bool = False, progress: Progress | None = None) -> Summary:
    """Preprocesses ``settings.input_dir`` into the dataset folder ``output_dir``.

    Args:
        settings: what to do to each file (see :meth:`Settings.make`).
        output_dir: the dataset folder; created if needed; resumed if it holds
            a dataset made with the same settings.
        workers: worker processes (1 runs in this process).
        overwrite: start over even if ``output_dir`` holds a dataset made with
            other settings (only seqdown's own outputs are removed).
        progress: reports files as they finish; None for silence.

    Returns:
        A :class:`Summary`; ``summary.failed`` files are in ``failures.jsonl``.

    Raises:
        UsageError: INPUT_DIR is not a folder, OUTPUT_DIR is not a dataset
            folder, or another process is writing to it.
        SettingsMismatch: OUTPUT_DIR holds a dataset made with other settings
            (and not ``overwrite``); nothing was changed.
    """
    start = time.monotonic()
    folder = Path(output_dir).absolute()
    if settings.manifest is None and not Path(settings.input_dir).is_dir():
        raise UsageError(f"INPUT_DIR must be a folder, got {settings.input_dir!r}")
    if settings.manifest is not None and not Path(settings.manifest).is_file():
        raise UsageError(f"--manifest must be a file, got {settings.manifest!r}")
    _check_output(folder, settings, overwrite)
    inputs = _utterances(settings, folder)  # may refuse the inputs: before anything changes
    folder.mkdir(parents=True, exist_ok=True)
    with dataset_lock(folder):
        if overwrite:
            clear_outputs(folder)
        (folder / FEATURES_DIR).mkdir(exist_ok=True)
        remove_temporaries(folder)
        remove_temporaries(folder / FEATURES_DIR)
        _write_description(folder, settings, counts=None)
        # While arrays may change, no manifest may describe them: readers wait for the end.
        for name in (MANIFEST_FILE, FAILURES_FILE):
            with contextlib.suppress(FileNotFoundError):
                (folder / name).unlink()
        journal = Journal(folder)
        jobs, entries, failures = _jobs(settings, folder, journal.load(), inputs)
        journal.rewrite(entries)  # drops stale entries and a torn last line
        skipped, processed_seconds = len(entries), 0.0
        if progress is not None:
            for failure in sorted(failures, key=failure_order):
                progress.report(failure)
            progress.start(len(jobs))
        try:
            # No more processes than jobs: a lone file runs here, without starting a pool.
            for job, outcome in run_jobs(process_file, jobs, max(1, min(workers, len(jobs)))):
                if isinstance(outcome, WorkerCrash):
                    outcome = job.utterance.failure("WorkerCrashed", outcome.message)
                if isinstance(outcome, Entry):
                    journal.append(outcome)
                    entries.append(outcome)
                    processed_seconds += outcome.record.duration
                else:
                    failures.append(outcome)
                if progress is not None:
                    progress.advance(outcome if isinstance(outcome, Failure) else None)
        finally:
            journal.close()
            if progress is not None:
                progress.finish()
        counts = finish_dataset(folder, settings, entries, failures)
    texts_expected = settings.manifest is not None or bool(settings.transcripts)
    without_text = tuple(sorted(entry.record.source for entry in entries
                                if entry.record.text is None)) if texts_expected else ()
    return Summary(os.fspath(output_dir), len(entries) - skipped, skipped, len(failures),
                   counts["hours"], processed_seconds, time.monotonic() - start,
                   "files" if settings.manifest is None else "utterances", without_text)

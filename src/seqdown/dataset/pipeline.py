"""``seqdown preprocess``: a folder of audio to a resumable dataset of feature arrays.

:func:`preprocess` lists the audio files (:func:`~seqdown.dataset.audio.find_audio`),
keeps this shard's share, skips the files a previous run finished (the
:mod:`~seqdown.dataset.journal`), processes the rest in worker processes
(:func:`~seqdown.dataset.utterance.process_file`) on an executor (this machine's
:class:`~seqdown.dataset.workers.LocalPool`, or a Dask cluster's
:class:`~seqdown.dataset.cluster.DaskExecutor`) and writes the dataset folder::

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

Backends: one code path. The job function, its outcomes and the journal are the
same on both; only the executor differs. On a cluster this process (the
client) lists the files, keeps the journal and writes the manifests; the workers
decode and write the arrays, so INPUT_DIR and OUTPUT_DIR must be at the same
paths on every worker (checked before any work starts). A file that kills its
worker becomes a ``WorkerCrash`` failure, one that runs past ``file_timeout`` a
``Timeout`` failure; neither stops the run.

Storage: a write to OUTPUT_DIR that fails (a full disk, a quota, a read-only mount,
an I/O error; in this process or in a worker) raises
:class:`~seqdown.dataset.atomic.StorageError` and stops the run. Nothing is recorded
against the file being written (no failure, no journal line); the folder is left as a
killed run leaves it (``complete: false``, no ``manifest.jsonl``), so the same run
resumes once there is room, and its outputs equal those of a run that never failed. An
OUTPUT_DIR (or the parent it would be created in) that refuses writes from the start
(``EACCES``, ``EPERM``, ``EROFS``) is a :class:`UsageError`, raised before anything
is written.

Resume: a finished utterance is skipped when its journal entry still matches (see
:func:`~seqdown.dataset.journal.is_current`): the source's size and modification time,
what the input says about it, and the array's size. With ``verify=True`` the array's
SHA-256 and the source's SHA-256 must also match the journal's; an array that fails is
made again (and a warning says so).

Logging: through ``logging.getLogger("seqdown")``: a warning when there is nothing
to process, each failure at INFO with its reason; file names in these lines are
escaped (:func:`~seqdown.dataset.progress.escaped_name`), so that a name cannot forge a line.
"""

from __future__ import annotations

import contextlib
import errno
import fnmatch
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seqdown.dataset.atomic import (
    StorageError,
    remove_temporaries,
    sha256_file,
    storage_errors,
    write_text,
)
from seqdown.dataset.audio import find_audio
from seqdown.dataset.journal import JOURNAL_FILE, Entry, Journal, is_current, verified
from seqdown.dataset.manifest import (
    FAILURES_FILE,
    FEATURES_DIR,
    MANIFEST_FILE,
    Failure,
    failure_order,
    total_hours,
    write_jsonl,
)
from seqdown.dataset.options import (
    AUDIO_EXTENSIONS,
    CONNECT_TIMEOUT,
    DEFAULT_FILE_TIMEOUT,
    DEFAULT_VERIFY,
)
from seqdown.dataset.progress import Progress, escaped_name
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
from seqdown.dataset.workers import Executor, LocalPool, TimedOut, WorkerCrash

if TYPE_CHECKING:
    from seqdown.dataset.cluster import Scheduler

__all__ = [
    "LOCK_FILE",
    "Summary",
    "clear_outputs",
    "dataset_lock",
    "finish_dataset",
    "make_output_folder",
    "preprocess",
    "shard_of",
]

logger = logging.getLogger("seqdown")

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
        failures = (f" (see {escaped_name(os.path.join(self.output_dir, FAILURES_FILE))})"
                    if self.failed else "")
        text = f", {len(self.without_text)} without text" if self.without_text else ""
        return (f"{self.done + self.skipped + self.failed} {self.unit}: {self.done} done, "
                f"{self.skipped} skipped, {self.failed} failed{failures}{text}; "
                f"{self.hours:.4f} h of audio; {self.elapsed:.1f} s, real-time factor {speed}")


@contextlib.contextmanager
def dataset_lock(folder: Path) -> Iterator[None]:
    """Holds an exclusive lock on ``folder/.lock`` (POSIX ``flock``; released if killed).

    Raises:
        UsageError: another process holds it, or ``folder`` refuses writes.
        StorageError: the lock file cannot be created for another reason (no room).
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no locking
        yield
        return
    with _refused_writes(folder):
        lock = open(folder / LOCK_FILE, "a")  # noqa: SIM115 - closed below
    with lock as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UsageError(f"another seqdown process is writing to {os.fspath(folder)!r}; "
                             "wait for it to finish (or stop it) and run again") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


#: What a folder that refuses every write says: a usage error, not a storage failure.
_REFUSED = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})


@contextlib.contextmanager
def _refused_writes(folder: Path, name: str = "OUTPUT_DIR") -> Iterator[None]:
    """The first writes to the folder ``name``: an ``OSError`` becomes a :class:`UsageError`
    when the folder refuses writes (nothing was written), else a :class:`StorageError`."""
    try:
        yield
    except OSError as error:
        if error.errno in _REFUSED:
            raise UsageError(f"{name} {os.fspath(folder)!r} cannot be written: "
                             f"{error.strerror}; choose a folder you may write to") from None
        raise StorageError.of(error, folder) from error


def _probe_writes(folder: Path, name: str = "OUTPUT_DIR") -> None:
    """Creates and removes a temporary file in ``folder`` (an existing ``.lock`` proves nothing).

    Raises:
        UsageError: the folder refuses writes (read-only, no permission).
        StorageError: another write failure (no room).
    """
    with _refused_writes(folder, name):
        handle, probe = tempfile.mkstemp(prefix=".seqdown-probe.", suffix=".tmp", dir=folder)
        os.close(handle)
        os.unlink(probe)


def make_output_folder(folder: Path, name: str = "OUTPUT_DIR") -> None:
    """Creates ``folder`` (and its parents) and proves that it takes writes.

    Args:
        folder: the folder to create (it may exist).
        name: what the command line calls it, for the error message.

    Raises:
        UsageError: the folder or a parent refuses writes (read-only, no
            permission): nothing was written.
        StorageError: another write failure (no room).
    """
    with _refused_writes(folder, name):
        folder.mkdir(parents=True, exist_ok=True)
    _probe_writes(folder, name)


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

    Raises:
        StorageError: a write failed; then there is no ``manifest.jsonl`` nor
            ``failures.jsonl`` (and ``dataset.json`` still says ``complete: false``).
    """
    entries = sorted(entries, key=lambda entry: entry.record.id)
    records = [entry.record for entry in entries]
    failures = sorted(failures, key=failure_order)
    counts = {"utterances": len(records), "failures": len(failures),
              "hours": total_hours(records),
              "without_text": sum(record.text is None for record in records)}
    try:
        write_jsonl(folder / FAILURES_FILE, failures)
        Journal(folder).rewrite(entries)
        wanted = {Path(record.feature_filepath).name for record in records}
        with storage_errors(folder / FEATURES_DIR):
            for array in (folder / FEATURES_DIR).glob("*.npy"):
                if array.name not in wanted:
                    array.unlink()
        write_jsonl(folder / MANIFEST_FILE, records)
        _write_description(folder, settings, counts)  # "complete": true, last
    except StorageError:  # what describes an unfinished folder goes, as at the start of a run
        for name in (MANIFEST_FILE, FAILURES_FILE):
            with contextlib.suppress(OSError):
                (folder / name).unlink()
        raise
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


def _relabel(entry: Entry, utterance: Utterance) -> Entry:
    """``entry`` with the id, text and extra keys ``utterance`` now has (its array unchanged).

    The id too: a line that gained (or lost) an ``id`` equal to its key keeps its
    key and array but not its record id.
    """
    record = replace(entry.record, id=utterance.record_id, text=utterance.text,
                     extra=utterance.extra)
    return replace(entry, record=record, input_digest=utterance.digest)


def _source_sha256(path: str, hashes: dict[str, str]) -> str:
    """The SHA-256 of the source at ``path`` ("" if unreadable), hashed once per run."""
    if path not in hashes:
        try:
            hashes[path] = sha256_file(path)
        except OSError:
            hashes[path] = ""
    return hashes[path]


def _jobs(settings: Settings, folder: Path, journal: dict[str, Entry],
          inputs: tuple[list[Utterance], list[Failure]], verify: bool
          ) -> tuple[list[Job], list[Entry], list[Failure]]:
    """Splits this shard's utterances into jobs to run, finished entries, and failures.

    ``inputs`` is :func:`_utterances`. The failures are the manifest's invalid
    lines, utterances without a text under ``--require-text``, and audio files
    that vanished. With ``verify``, a finished entry must also pass
    :func:`~seqdown.dataset.journal.verified`; one that does not is redone, with a
    warning.
    """
    hashes: dict[str, str] = {}
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
        kept = None
        if entry is not None and is_current(entry, status, folder, utterance.digest):
            kept = entry
        elif (entry is not None and entry.audio_digest == utterance.audio_digest
              and is_current(entry, status, folder, entry.input_digest)):
            kept = _relabel(entry, utterance)  # only the id, text or extra keys changed
        if kept is not None and verify:
            why = verified(kept, folder, _source_sha256(utterance.audio_path, hashes))
            if why is not None:
                logger.warning("--verify: processing %s again: %s", escaped_name(kept.key),
                               escaped_name(why))
                kept = None
        if kept is not None:
            finished.append(kept.moved_to(utterance.audio_path))  # INPUT_DIR may have moved
        else:
            jobs.append(Job(utterance, os.fspath(folder), settings, status.st_size,
                            status.st_mtime_ns))
    return jobs, finished, failures


@contextlib.contextmanager
def _cluster(scheduler: Scheduler | None, workers: int, connect_timeout: float
             ) -> Iterator[Any]:
    """A Dask client for ``scheduler`` (None without one); nothing is written meanwhile."""
    if scheduler is None:
        yield None
        return
    from seqdown.dataset.cluster import connect

    with connect(scheduler, workers=workers, timeout=connect_timeout) as client:
        yield client


def _check_cluster(client: Any, settings: Settings, folder: Path, created: bool) -> Executor:
    """The cluster's executor, once its workers proved they share INPUT_DIR and OUTPUT_DIR.

    On a failed check a folder this run created is removed again.
    """
    from seqdown.dataset.cluster import DaskExecutor, check_workers

    try:
        count = check_workers(client, settings.input_dir, folder)
    except UsageError:
        if created:
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    logger.info("running on %d Dask workers of %s", count, client.scheduler_info().get("address"))
    return DaskExecutor(client)


def _recorded(job: Job, outcome: Entry | Failure | WorkerCrash[Job] | TimedOut[Job]
             ) -> Entry | Failure:
    """The outcome of ``job`` as the journal or ``failures.jsonl`` records it."""
    if isinstance(outcome, WorkerCrash):
        return job.utterance.failure("WorkerCrash", outcome.message)
    if isinstance(outcome, TimedOut):
        return job.utterance.failure("Timeout", outcome.message)
    return outcome


def _log_failure(failure: Failure) -> None:
    logger.info("failed %s: %s: %s", escaped_name(failure.where), failure.error,
                escaped_name(failure.message))


def _warn_empty(settings: Settings) -> None:
    if settings.manifest is not None:
        logger.warning("no utterances in %r (this shard)", settings.manifest)
    else:
        logger.warning("no audio files in %r (this shard, after --exclude); extensions read: "
                       "%s", settings.input_dir, ", ".join(sorted(AUDIO_EXTENSIONS)))


def preprocess(settings: Settings, output_dir: str | os.PathLike[str], *, workers: int = 1,
               overwrite: bool = False, progress: Progress | None = None,
               scheduler: Scheduler | None = None,
               file_timeout: float | None = DEFAULT_FILE_TIMEOUT,
               connect_timeout: float = CONNECT_TIMEOUT, verify: bool = DEFAULT_VERIFY
               ) -> Summary:
    """Preprocesses ``settings.input_dir`` into the dataset folder ``output_dir``.

    Args:
        settings: what to do to each file (see :meth:`Settings.make`).
        output_dir: the dataset folder; created if needed; resumed if it holds
            a dataset made with the same settings.
        workers: worker processes (1 runs in this process); with
            ``scheduler="local"``, the workers of the local Dask cluster.
        overwrite: start over even if ``output_dir`` holds a dataset made with
            other settings (only seqdown's own outputs are removed).
        progress: reports files as they finish; None for silence.
        scheduler: run on a Dask cluster instead of local processes: an
            address (``"tcp://host:8786"``), a scheduler file (an
            ``os.PathLike``, or a string that is not an address),
            ``"local"`` for a ``LocalCluster`` of ``workers`` processes, or a
            ``distributed.Client``. Needs the ``dask`` extra.
        file_timeout: seconds one file may take before it is recorded as a
            ``Timeout`` failure; None for no limit.
        connect_timeout: seconds to wait for the scheduler.
        verify: on resume, also compare the SHA-256 of each finished array
            with its record's and of its source with the journal's (reads
            them all); a mismatch is processed again.

    Returns:
        A :class:`Summary`; ``summary.failed`` files are in ``failures.jsonl``.

    Raises:
        UsageError: INPUT_DIR is not a folder, OUTPUT_DIR is not a dataset
            folder, refuses writes (read-only, no permission), or another
            process is writing to it; the scheduler cannot be reached, or a
            worker cannot read INPUT_DIR or write OUTPUT_DIR.
        StorageError: a write to OUTPUT_DIR failed mid-run (no room, I/O
            error); the folder resumes when the command runs again.
        MissingExtra: ``scheduler`` is given without the ``dask`` extra.
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
    with _cluster(scheduler, workers, connect_timeout) as client:
        created = not folder.exists()
        make_output_folder(folder)  # a read-only folder is refused before anything changes
        executor = None if client is None else _check_cluster(client, settings, folder, created)
        return _run(settings, folder, output_dir, overwrite, progress, executor, workers,
                    file_timeout, start, inputs, verify)


def _run(settings: Settings, folder: Path, output_dir: str | os.PathLike[str], overwrite: bool,
         progress: Progress | None, executor: Executor | None, workers: int,
         file_timeout: float | None, start: float,
         inputs: tuple[list[Utterance], list[Failure]], verify: bool) -> Summary:
    """The body of :func:`preprocess`, once OUTPUT_DIR exists and the executor is ready."""
    with dataset_lock(folder):
        with storage_errors(folder):
            if overwrite:
                clear_outputs(folder)
            (folder / FEATURES_DIR).mkdir(exist_ok=True)
            remove_temporaries(folder)
            remove_temporaries(folder / FEATURES_DIR)
        _write_description(folder, settings, counts=None)
        # While arrays may change, no manifest may describe them: readers wait for the end.
        with storage_errors(folder):
            for name in (MANIFEST_FILE, FAILURES_FILE):
                with contextlib.suppress(FileNotFoundError):
                    (folder / name).unlink()
        journal = Journal(folder)
        jobs, entries, failures = _jobs(settings, folder, journal.load(), inputs, verify)
        journal.rewrite(entries)  # drops stale entries and a torn last line
        skipped, processed_seconds = len(entries), 0.0
        if not jobs and not entries and not failures:
            _warn_empty(settings)
        for failure in sorted(failures, key=failure_order):
            _log_failure(failure)
        # No more processes than jobs: a lone file runs here, without starting a pool.
        runner = executor or LocalPool(max(1, min(workers, len(jobs))))
        if progress is not None:
            progress.start(len(jobs))
        try:
            for job, done in runner.map(process_file, jobs, file_timeout):
                outcome = _recorded(job, done)
                seconds = 0.0
                if isinstance(outcome, Entry):
                    journal.append(outcome)
                    entries.append(outcome)
                    seconds = outcome.record.duration
                    processed_seconds += seconds
                else:
                    _log_failure(outcome)
                    failures.append(outcome)
                if progress is not None:
                    progress.advance(outcome if isinstance(outcome, Failure) else None,
                                     seconds=seconds, in_flight=runner.in_flight)
        finally:
            journal.close()
            if progress is not None:
                progress.finish()
        # A worker killed while writing an array leaves its temporary file: every job is done.
        with storage_errors(folder / FEATURES_DIR):
            remove_temporaries(folder / FEATURES_DIR)
        counts = finish_dataset(folder, settings, entries, failures)
    texts_expected = settings.manifest is not None or bool(settings.transcripts)
    without_text = tuple(sorted(entry.record.source for entry in entries
                                if entry.record.text is None)) if texts_expected else ()
    return Summary(os.fspath(output_dir), len(entries) - skipped, skipped, len(failures),
                   counts["hours"], processed_seconds, time.monotonic() - start,
                   "files" if settings.manifest is None else "utterances", without_text)

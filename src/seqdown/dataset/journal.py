"""The resume journal of a dataset folder: which sources are finished, and from what.

``journal.jsonl`` gets one line per finished utterance, appended only after
its array has been renamed into place, so a line always describes a complete
array. A line holds the manifest :class:`Record` and what the source looked
like when it was read (size and modification time in ns, and the SHA-256 of its
bytes) and the array's size.
A run killed while appending leaves a torn last line, which :meth:`Journal.load`
ignores, so that file is simply done again.

Appends are batched: each line is handed to the OS at once (a killed process
loses none), but ``fsync``-ed only every :data:`SYNC_LINES` lines or
:data:`SYNC_SECONDS` seconds, whichever comes first, and on :meth:`Journal.close`
(an ``fsync`` per file costs milliseconds on a network file system). A machine
that crashes loses at most the last batch of lines, whose files are redone.

A later run skips an utterance when :func:`is_current` says its entry still
matches: same size and modification time of the audio file, the same input
(text, segment and keys of its manifest line: a digest), and the array present
with the recorded size. Anything else (a changed source, a missing or truncated array)
means the file is processed again. Contents are not compared: a source rewritten
with the same size and modification time, or an array overwritten in place with
bytes of the same length, passes. :func:`verified` (``--verify``) compares them
too: the array's SHA-256 with the record's ``sha256``, the source's with the
entry's ``source_sha256``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TextIO

from seqdown.dataset.atomic import sha256_file, storage_errors, write_text
from seqdown.dataset.manifest import Record

__all__ = [
    "JOURNAL_FILE",
    "SYNC_LINES",
    "SYNC_SECONDS",
    "Entry",
    "Journal",
    "is_current",
    "verified",
]

JOURNAL_FILE = "journal.jsonl"
#: Appended lines forced to disk together, at most.
SYNC_LINES = 64
#: Seconds an appended line may wait for its ``fsync``, at most (checked at each append).
SYNC_SECONDS = 2.0


@dataclass(frozen=True)
class Entry:
    """A finished utterance: its record, and the state of its source and array.

    Attributes:
        record: the manifest record.
        source_size: size of the source file in bytes when it was read.
        source_mtime_ns: its modification time in ns.
        array_size: size of the ``.npy`` file in bytes.
        key: the utterance's key (:class:`~seqdown.dataset.sources.Utterance`); the
            record's ``source`` in journals written before keys existed.
        input_digest: :attr:`~seqdown.dataset.sources.Utterance.digest` of what the
            input said about it ("" in older journals: such entries are redone).
        audio_digest: :attr:`~seqdown.dataset.sources.Utterance.audio_digest`,
            what decided the array ("" in older journals).
        source_sha256: SHA-256 of the source file's bytes when it was read
            ("" in older journals: ``--verify`` redoes such entries).
    """

    record: Record
    source_size: int
    source_mtime_ns: int
    array_size: int
    key: str = ""
    input_digest: str = ""
    audio_digest: str = ""
    source_sha256: str = ""

    def __post_init__(self) -> None:
        if not self.key:
            object.__setattr__(self, "key", self.record.source)

    def to_json(self) -> str:
        """One JSON line (no newline)."""
        return json.dumps({"key": self.key, "input_digest": self.input_digest,
                           "audio_digest": self.audio_digest,
                           "source_sha256": self.source_sha256,
                           "source_size": self.source_size,
                           "source_mtime_ns": self.source_mtime_ns,
                           "array_size": self.array_size,
                           "record": json.loads(self.record.to_json())}, ensure_ascii=False)

    def moved_to(self, audio_filepath: str) -> Entry:
        """This entry with the record's absolute source path replaced (INPUT_DIR moved)."""
        if audio_filepath == self.record.audio_filepath:
            return self
        return replace(self, record=replace(self.record, audio_filepath=audio_filepath))

    @classmethod
    def from_json(cls, line: str) -> Entry:
        """Parses a line of :meth:`to_json`; raises ValueError, KeyError or TypeError."""
        values = json.loads(line)
        record = Record.from_json(json.dumps(values["record"]))
        return cls(record, int(values["source_size"]), int(values["source_mtime_ns"]),
                   int(values["array_size"]), str(values.get("key", "")),
                   str(values.get("input_digest", "")), str(values.get("audio_digest", "")),
                   str(values.get("source_sha256", "")))


def is_current(entry: Entry, source: os.stat_result, folder: str | os.PathLike[str],
               input_digest: str) -> bool:
    """Whether ``entry`` still describes ``source``, the input's ``input_digest``, and a
    complete array in ``folder``."""
    if (entry.source_size, entry.source_mtime_ns) != (source.st_size, source.st_mtime_ns):
        return False
    if entry.input_digest != input_digest:
        return False
    try:
        return os.path.getsize(Path(folder) / entry.record.feature_filepath) == entry.array_size
    except OSError:
        return False


def verified(entry: Entry, folder: str | os.PathLike[str], source_sha256: str) -> str | None:
    """What no longer matches the journal by content (``--verify``), or None if all does.

    Args:
        entry: an entry that :func:`is_current` accepted.
        folder: the dataset folder.
        source_sha256: :func:`~seqdown.dataset.atomic.sha256_file` of the source now
            ("" if it cannot be read).

    Returns:
        None when the array's SHA-256 equals the record's ``sha256`` and the
        source's equals ``entry.source_sha256``; otherwise what differs, in words.
    """
    try:
        array = sha256_file(Path(folder) / entry.record.feature_filepath)
    except OSError as error:
        return f"its array cannot be read ({error.strerror or error})"
    if array != entry.record.sha256:
        return f"{entry.record.feature_filepath} no longer has the SHA-256 its record gives"
    if not entry.source_sha256:
        return "the journal has no SHA-256 of its source (written by an older seqdown)"
    if source_sha256 != entry.source_sha256:
        return "its source's bytes changed (same size and modification time)"
    return None


class Journal:
    """``journal.jsonl`` in a dataset folder.

    Args:
        folder: the dataset folder.
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.path = Path(folder) / JOURNAL_FILE
        self._file: TextIO | None = None
        self._unsynced = 0
        self._synced = time.monotonic()

    def load(self) -> dict[str, Entry]:
        """The entries by key (the last line for a key wins); {} without a journal.

        Lines that do not parse (a torn last line, damage) are ignored: their
        files are processed again.
        """
        if not self.path.exists():
            return {}
        entries = {}
        for line in self.path.read_text(encoding="utf-8", errors="replace").split("\n"):
            try:
                entry = Entry.from_json(line)
            except (ValueError, KeyError, TypeError):
                continue
            entries[entry.key] = entry
        return entries

    def rewrite(self, entries: Iterable[Entry]) -> None:
        """Replaces the journal atomically by ``entries`` in key order."""
        self.close()
        ordered = sorted(entries, key=lambda entry: entry.key)
        write_text(self.path, "".join(entry.to_json() + "\n" for entry in ordered))

    def append(self, entry: Entry) -> None:
        """Appends ``entry``; forces the batch to disk when it is full or old enough.

        Raises:
            StorageError: the line cannot be written (a full disk...). A part of
                it may be on disk: a torn last line, which :meth:`load` ignores.
        """
        with storage_errors(self.path):
            if self._file is None:
                self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - kept open
                self._synced = time.monotonic()
            self._file.write(entry.to_json() + "\n")
            self._file.flush()
        self._unsynced += 1
        if self._unsynced >= SYNC_LINES or time.monotonic() - self._synced >= SYNC_SECONDS:
            self.sync()

    def sync(self) -> None:
        """Forces the lines appended so far to disk (:class:`StorageError` if it cannot)."""
        if self._file is not None and self._unsynced:
            with storage_errors(self.path):
                os.fsync(self._file.fileno())
        self._unsynced = 0
        self._synced = time.monotonic()

    @property
    def unsynced(self) -> int:
        """Lines appended since the last ``fsync``."""
        return self._unsynced

    def close(self) -> None:
        """Forces the last batch to disk and closes the file opened by :meth:`append`.

        The file is closed even when the ``fsync`` (or the flush of what a failed
        :meth:`append` left buffered) fails; that failure is then raised as
        :class:`StorageError`.
        """
        if self._file is None:
            return
        file, self._file = self._file, None
        try:
            if self._unsynced:
                with storage_errors(self.path):
                    os.fsync(file.fileno())
        finally:
            self._unsynced = 0
            with storage_errors(self.path):
                file.close()

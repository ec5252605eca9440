"""The resume journal of a dataset folder: which sources are finished, and from what.

``journal.jsonl`` gets one line per finished utterance, appended (and
``fsync``-ed) only after its array has been renamed into place, so a line
always describes a complete array. A line holds the manifest :class:`Record`
and what the source looked like when it was read (size and modification time
in ns) and the array's size. A run killed while appending leaves a torn last
line, which :meth:`Journal.load` ignores, so that file is simply done again.

A later run skips an utterance when :func:`is_current` says its entry still
matches: same size and modification time of the audio file, the same input
(text, segment and keys of its manifest line: a digest), and the array present
with the recorded size. Anything else (a changed source, a missing or truncated array)
means the file is processed again.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from seqdown.dataset.atomic import write_text
from seqdown.dataset.manifest import Record

__all__ = ["JOURNAL_FILE", "Entry", "Journal", "is_current"]

JOURNAL_FILE = "journal.jsonl"


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
    """

    record: Record
    source_size: int
    source_mtime_ns: int
    array_size: int
    key: str = ""
    input_digest: str = ""
    audio_digest: str = ""

    def __post_init__(self) -> None:
        if not self.key:
            object.__setattr__(self, "key", self.record.source)

    def to_json(self) -> str:
        """One JSON line (no newline)."""
        return json.dumps({"key": self.key, "input_digest": self.input_digest,
                           "audio_digest": self.audio_digest,
                           "source_size": self.source_size,
                           "source_mtime_ns": self.source_mtime_ns,
                           "array_size": self.array_size,
                           "record": json.loads(self.record.to_json())}, ensure_ascii=False)

    @classmethod
    def from_json(cls, line: str) -> Entry:
        """Parses a line of :meth:`to_json`; raises ValueError, KeyError or TypeError."""
        values = json.loads(line)
        record = Record.from_json(json.dumps(values["record"]))
        return cls(record, int(values["source_size"]), int(values["source_mtime_ns"]),
                   int(values["array_size"]), str(values.get("key", "")),
                   str(values.get("input_digest", "")), str(values.get("audio_digest", "")))


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


class Journal:
    """``journal.jsonl`` in a dataset folder.

    Args:
        folder: the dataset folder.
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.path = Path(folder) / JOURNAL_FILE
        self._file: TextIO | None = None

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
        """Appends ``entry`` and forces it to disk."""
        if self._file is None:
            self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - kept open
        self._file.write(entry.to_json() + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        """Closes the file opened by :meth:`append`."""
        if self._file is not None:
            self._file.close()
            self._file = None

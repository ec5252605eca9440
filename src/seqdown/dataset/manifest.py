"""Manifest records: one JSON object per line, round-tripping to dataclasses.

``manifest.jsonl`` holds one :class:`Record` per utterance, sorted by ``id``;
the keys NeMo's loaders read (``audio_filepath``, ``duration``) plus seqdown's
own. ``failures.jsonl`` holds one :class:`Failure` per file that could not be
processed, sorted by ``source``.

Versions: a field added to a record after datasets were written gets a
default, and :meth:`~Record.from_json` fills it in for a line that lacks it,
so a newer seqdown reads an older dataset. Keys a line has and the record does
not know (written by a newer seqdown) are ignored: the line is read with the
fields this version knows, and a file rewritten by it (``seqdown merge``) has
only those. A line lacking a field that has no default is refused.

Lengths in a record are tied together by seqdown's rules::

    num_samples   = resample_length(orig_num_samples, up, down)   # up/down = sampling_rate/orig
    feature_frames = FeatureSpec.frames(num_samples)              # stft_frames for log-mel/MFCC
    num_frames    = frontend.output_length(feature_frames) = shape[-1]
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path
from typing import TypeVar

from seqdown.dataset.atomic import write_text

__all__ = [
    "FAILURES_FILE",
    "FEATURES_DIR",
    "MANIFEST_FILE",
    "Failure",
    "Record",
    "read_jsonl",
    "total_hours",
    "utterance_id",
    "write_jsonl",
]

MANIFEST_FILE = "manifest.jsonl"
FAILURES_FILE = "failures.jsonl"
FEATURES_DIR = "features"

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_MAX_STEM = 96


def utterance_id(source: str) -> str:
    """A stable, file-system-safe id for the relative path ``source``.

    The path with ``/`` as ``__`` and every run of other characters than ASCII
    letters, digits, ``.``, ``_`` and ``-`` as ``_`` (at most 96 of them),
    then ``-`` and 8 hex digits of the path's SHA-1, which keeps ids distinct
    where the readable part collides (``a b.wav`` and ``a_b.wav``, or case).

    Example:
        >>> utterance_id("digits/one_us.flac")
        'digits__one_us.flac-056276d4'
    """
    readable = _UNSAFE.sub("_", source.replace("/", "__"))[:_MAX_STEM]
    return f"{readable}-{hashlib.sha1(source.encode('utf-8')).hexdigest()[:8]}"


Line = TypeVar("Line", bound="_JsonLine")


class _JsonLine:
    """``to_json`` / ``from_json`` for a dataclass of JSON values."""

    def to_json(self) -> str:
        """One line of JSON (UTF-8 text, no newline), keys in field order."""
        return json.dumps(asdict(self), ensure_ascii=False)  # type: ignore[call-overload]

    @classmethod
    def from_json(cls: type[Line], line: str) -> Line:
        """Parses a line written by :meth:`to_json`, by this or another version.

        A missing key whose field has a default gets the default; keys the
        record does not know are ignored.

        Raises:
            ValueError: the line is not a JSON object, or lacks a key without a default.
        """
        values = json.loads(line)
        if not isinstance(values, dict):
            raise ValueError(f"{cls.__name__} line is not a JSON object: {line[:200]!r}")
        known = fields(cls)  # type: ignore[arg-type]
        missing = [f.name for f in known if f.name not in values
                   and f.default is MISSING and f.default_factory is MISSING]
        if missing:
            raise ValueError(f"{cls.__name__} line lacks the keys {missing}: {line[:200]!r}")
        return cls(**{f.name: values[f.name] for f in known if f.name in values})


@dataclass(frozen=True)
class Record(_JsonLine):
    """One utterance of ``manifest.jsonl``.

    Attributes:
        id: :func:`utterance_id` of ``source``; the array is ``features/<id>.npy``.
        source: path of the audio file relative to INPUT_DIR (POSIX separators).
        audio_filepath: absolute path of the audio file (NeMo's key).
        duration: seconds of source audio, ``orig_num_samples / orig_sampling_rate``.
        orig_sampling_rate: sample rate of the file in Hz.
        sampling_rate: sample rate after resampling in Hz.
        orig_channels: channels of the file.
        channels: audio channels in the array (1 after mixing to mono).
        orig_num_samples: samples per channel decoded from the file.
        num_samples: samples per channel after resampling.
        features: ``"wave"``, ``"logmel"`` or ``"mfcc"``.
        feature_frames: feature steps before the front-end.
        num_frames: steps of the array (its last axis), after the front-end.
        frame_rate: steps per second of the array.
        feature_filepath: the array, relative to the dataset folder.
        shape: shape of the array, ``[feature_channels, num_frames]``.
        sha256: SHA-256 of the ``.npy`` file's bytes.
    """

    id: str
    source: str
    audio_filepath: str
    duration: float
    orig_sampling_rate: int
    sampling_rate: int
    orig_channels: int
    channels: int
    orig_num_samples: int
    num_samples: int
    features: str
    feature_frames: int
    num_frames: int
    frame_rate: float
    feature_filepath: str
    shape: list[int]
    sha256: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", list(self.shape))


@dataclass(frozen=True)
class Failure(_JsonLine):
    """One file of ``failures.jsonl``.

    Attributes:
        source: path of the audio file relative to INPUT_DIR.
        error: the error class, e.g. ``"NonFiniteSamples"`` (see :mod:`seqdown.dataset.audio`).
        message: what went wrong, in words; never a time or an absolute path.
    """

    source: str
    error: str
    message: str


def write_jsonl(path: str | os.PathLike[str], lines: Iterable[Record | Failure]) -> None:
    """Writes records as JSON lines, atomically."""
    write_text(path, "".join(line.to_json() + "\n" for line in lines))


def read_jsonl(path: str | os.PathLike[str], kind: type[Line]) -> list[Line]:
    """Reads a ``manifest.jsonl`` (``kind=Record``) or ``failures.jsonl`` (``kind=Failure``).

    Raises:
        ValueError: a line is not a valid record; the message gives its number.
    """
    records = []
    text = Path(path).read_text(encoding="utf-8")
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(kind.from_json(line))
        except (ValueError, TypeError) as error:
            raise ValueError(f"{os.fspath(path)!r} line {number}: {error}") from None
    return records


def total_hours(records: Iterable[Record]) -> float:
    """Hours of source audio, summed in the given order (sort first for reproducible sums)."""
    return sum(record.duration for record in records) / 3600.0

"""Manifest records: one JSON object per line, round-tripping to dataclasses.

``manifest.jsonl`` holds one :class:`Record` per utterance, sorted by ``id``;
the keys NeMo's loaders read (``audio_filepath``, ``duration``) plus seqdown's
own. ``failures.jsonl`` holds one :class:`Failure` per file that could not be
processed, sorted by ``source``.

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
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from seqdown.dataset.atomic import write_text
from seqdown.dataset.trust import check_field_types

__all__ = [
    "FAILURES_FILE",
    "FEATURES_DIR",
    "MANIFEST_FILE",
    "RECORD_KEYS",
    "Failure",
    "Record",
    "failure_order",
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

#: Keys a line may leave out (older manifests, or nothing to say): not written when None.
_OPTIONAL = ("offset", "text", "frame_shift", "frame_count", "line")


class _JsonLine:
    """``to_json`` / ``from_json`` for a dataclass of JSON values.

    Fields that default to None are written only when set, so that older files
    (without them) and newer ones read alike; a field named ``extra`` holds
    the line's other keys (a key named ``"extra"`` among them), written after the
    fields under their own names.
    """

    def to_json(self) -> str:
        """One line of JSON (UTF-8 text, no newline), keys in field order, then ``extra``."""
        values = {}
        for item in fields(self):  # type: ignore[arg-type]
            value = getattr(self, item.name)
            if item.name == "extra" or (value is None and item.name in _OPTIONAL):
                continue
            values[item.name] = value
        values.update(getattr(self, "extra", {}))
        return json.dumps(values, ensure_ascii=False)

    @classmethod
    def from_json(cls: type[Line], line: str) -> Line:
        """Parses a line written by :meth:`to_json`.

        Raises:
            ValueError: the line is not a JSON object, lacks a required key, or a
                value has the wrong type (``"shape": "abc"``).
        """
        values = json.loads(line)
        if not isinstance(values, dict):
            raise ValueError(f"{cls.__name__} line is not a JSON object: {line[:200]!r}")
        # ``extra`` is a field, never a key of the line: a key named "extra" is one of the
        # line's other keys (an input manifest may have one), and goes to ``extra`` with them.
        names = [f.name for f in fields(cls) if f.name != "extra"]  # type: ignore[arg-type]
        required = [f.name for f in fields(cls)  # type: ignore[arg-type]
                    if f.default is MISSING and f.default_factory is MISSING]
        missing = [name for name in required if name not in values]
        if missing:
            raise ValueError(f"{cls.__name__} line lacks the keys {missing}: {line[:200]!r}")
        known: dict[str, Any] = {name: values[name] for name in names if name in values}
        if any(f.name == "extra" for f in fields(cls)):  # type: ignore[arg-type]
            known["extra"] = {key: value for key, value in values.items() if key not in names}
        line_object = cls(**known)
        check_field_types(line_object)
        return line_object


@dataclass(frozen=True)
class Record(_JsonLine):
    """One utterance of ``manifest.jsonl``.

    Attributes:
        id: the utterance's name: the input manifest's ``id`` where it has one,
            else :func:`utterance_id` of its key (the source for folder inputs).
        source: the audio file as the input names it: relative to INPUT_DIR
            (POSIX separators) for folder inputs, the line's ``audio_filepath``
            for manifest inputs.
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
        offset: where the utterance starts in the file, in seconds (the first
            decoded sample over ``orig_sampling_rate``); None (not written) for
            a whole file.
        text: the transcript; None (not written) when unknown.
        frame_shift: seconds between steps of the array, ``1 / frame_rate``
            (None only in manifests written before seqdown wrote it).
        frame_count: the rule that gives ``num_frames``, in words and formulas
            over the record's keys (:attr:`seqdown.dataset.settings.Settings.frame_count`).
        extra: the input manifest line's other keys, written unchanged under
            their own names after seqdown's.
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
    offset: float | None = None
    text: str | None = None
    frame_shift: float | None = None
    frame_count: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", list(self.shape))
        object.__setattr__(self, "extra", dict(self.extra))


#: The keys seqdown writes in a record: an input line may not bring its own.
RECORD_KEYS = frozenset(f.name for f in fields(Record) if f.name != "extra")


@dataclass(frozen=True)
class Failure(_JsonLine):
    """One file (or manifest line) of ``failures.jsonl``.

    Attributes:
        source: path of the audio file relative to INPUT_DIR, or the
            ``audio_filepath`` of a manifest line (``"<manifest>:<line>"`` for
            a line without one).
        error: the error class, e.g. ``"NonFiniteSamples"`` (see :mod:`seqdown.dataset.audio`).
        message: what went wrong, in words; never a time or an absolute path.
        line: the line number in the input manifest (1-based); None (not
            written) for folder inputs.
    """

    source: str
    error: str
    message: str
    line: int | None = None

    @property
    def where(self) -> str:
        """``source``, with ``line N`` in front for a manifest line."""
        return self.source if self.line is None else f"line {self.line} ({self.source})"


def failure_order(failure: Failure) -> tuple[int, str]:
    """The sort key of ``failures.jsonl``: manifest line number, then source."""
    return (failure.line or 0, failure.source)


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
    # Lines end at "\n" only: a text or file name may hold U+2028, U+2029 or U+0085, which
    # json.dumps(ensure_ascii=False) leaves as they are and str.splitlines() would split at.
    for number, line in enumerate(text.split("\n"), start=1):
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

"""The utterances of a run: the audio files of a folder, or the lines of a NeMo-style manifest.

An :class:`Utterance` is what one job makes into one array: a file, or a
segment of one (``offset``, ``duration``), with its text and the keys its
input line carries. Its ``key`` names it for the journal, sharding and the
array's file name (``features/<utterance_id(key)>.npy``):

* folder inputs (:func:`folder_utterances`): the path relative to INPUT_DIR;
  the text comes from ``--transcripts`` (:mod:`seqdown.dataset.transcripts`);
* manifest inputs (:func:`manifest_utterances`): the line's ``id`` where it has
  one, else its ``audio_filepath`` as written, followed by ``@OFFSET`` when the
  line has an ``offset`` (segments of one file need distinct offsets or ids).

A manifest line is one JSON object with ``audio_filepath`` (relative to the
manifest's folder, or absolute) and optionally ``offset`` and ``duration``
(seconds; see :func:`seqdown.dataset.audio.segment_frames`), ``text``, ``id`` and any
other keys, which the record carries unchanged (``Record.extra``; a key named
``extra`` too). A line that is not such an object, or holds a string that UTF-8
cannot encode (a lone surrogate), is an :class:`InvalidLine` failure with its
line number; the other lines go on.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seqdown.dataset.manifest import RECORD_KEYS, Failure, utterance_id

__all__ = ["INPUT_KEYS", "InvalidLine", "Utterance", "folder_utterances", "manifest_utterances"]

#: The keys of a manifest line that seqdown reads; every other key is carried through.
INPUT_KEYS = ("audio_filepath", "offset", "duration", "text", "id")


class InvalidLine(ValueError):
    """A manifest line that is not a valid utterance (its failures' ``error``)."""


@dataclass(frozen=True)
class Utterance:
    """One utterance to make: a file or a segment of one, with what its input says about it.

    Attributes:
        key: its name in the journal, for sharding and for the array's file name.
        source: the audio file as the input names it (relative to INPUT_DIR, or
            the manifest line's ``audio_filepath``).
        audio_path: the audio file, absolute.
        offset: start in seconds; None for the start of the file.
        duration: length in seconds; None for up to the end of the file.
        text: the transcript; None when unknown.
        id: the manifest line's ``id``; None when it has none.
        extra: the line's other keys.
        line: the line number in the manifest; None for folder inputs.
    """

    key: str
    source: str
    audio_path: str
    offset: float | None = None
    duration: float | None = None
    text: str | None = None
    id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    line: int | None = None

    @property
    def array_name(self) -> str:
        """The array's file name without ``.npy``: :func:`utterance_id` of the key."""
        return utterance_id(self.key)

    @property
    def record_id(self) -> str:
        """The record's ``id``: the line's ``id``, else :attr:`array_name`."""
        return self.id if self.id is not None else self.array_name

    @property
    def digest(self) -> str:
        """SHA-256 of everything the input says about this utterance (for resuming)."""
        return _sha256([self.audio_digest, self.text, self.id, self.extra])

    @property
    def audio_digest(self) -> str:
        """SHA-256 of what decides its array: which file, and which part of it.

        Where only the text or the extra keys changed, a resumed run rewrites the
        record and keeps the array. The absolute ``audio_path`` is left out: a
        corpus mounted elsewhere (or moved) is the same input (portable folders).
        """
        return _sha256([self.key, self.source, self.offset, self.duration])

    def failure(self, error: str, message: str) -> Failure:
        """A :class:`Failure` of this utterance."""
        return Failure(self.source, error, message, self.line)


def _sha256(values: list[Any]) -> str:
    text = json.dumps(values, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def folder_utterances(input_dir: str, sources: Sequence[str], texts: dict[str, str]
                      ) -> list[Utterance]:
    """The utterances of the audio files ``sources`` below ``input_dir`` (whole files).

    Args:
        input_dir: the folder (absolute).
        sources: paths relative to it, e.g. from :func:`seqdown.dataset.audio.find_audio`.
        texts: the text of each source that has one
            (:func:`seqdown.dataset.transcripts.match_transcripts`).

    Example:
        >>> [u.audio_path for u in folder_utterances("/data", ["a/b.wav"], {})]
        ['/data/a/b.wav']
    """
    return [Utterance(key=source, source=source,
                      audio_path=os.path.join(input_dir, *source.split("/")),
                      text=texts.get(source)) for source in sources]


def _seconds(values: dict[str, Any], name: str, positive: bool) -> float | None:
    value = values.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidLine(f"{name!r} must be a number of seconds, got {value!r}")
    if value < 0 or (positive and value == 0):
        rule = "> 0" if positive else ">= 0"
        raise InvalidLine(f"{name!r} must be {rule}, got {value!r}")
    return float(value)


def _unencodable(value: Any, where: str = "") -> str | None:
    """The first string of a parsed JSON value (keys too, nested values too) that UTF-8
    cannot encode (a lone surrogate, JSON ``"\\ud800"``), named as a field; None if none."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return where or "the line"
        return None
    items: list[tuple[str, Any]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if _unencodable(key) is not None:
                return f"the key {key!r}" + (f" of {where}" if where else "")
            items.append((f"{where}[{key!r}]" if where else repr(key), item))
    elif isinstance(value, list):
        items = [(f"{where}[{index}]", item) for index, item in enumerate(value)]
    for name, item in items:
        found = _unencodable(item, name)
        if found is not None:
            return found
    return None


def _readable(text: str) -> str:
    """``text`` with what UTF-8 cannot encode (lone surrogates) as ``\\udXXX`` escapes."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _utterance(values: Any, base: Path, line: int) -> Utterance:
    """The utterance of one parsed manifest line; raises InvalidLine."""
    if not isinstance(values, dict):
        raise InvalidLine(f"a line must be a JSON object, got {type(values).__name__}")
    audio = values.get("audio_filepath")
    if not isinstance(audio, str) or not audio:
        raise InvalidLine("a line needs 'audio_filepath', a path relative to the manifest's "
                          f"folder or absolute; got {audio!r}")
    reserved = sorted(key for key in values if key in RECORD_KEYS and key not in INPUT_KEYS)
    if reserved:
        raise InvalidLine(f"the keys {reserved} are written by seqdown in each record; "
                          "rename them in the manifest")
    text, identifier = values.get("text"), values.get("id")
    if text is not None and not isinstance(text, str):
        raise InvalidLine(f"'text' must be a string, got {text!r}")
    if identifier is not None and (not isinstance(identifier, str) or not identifier):
        raise InvalidLine(f"'id' must be a non-empty string, got {identifier!r}")
    offset = _seconds(values, "offset", positive=False)
    duration = _seconds(values, "duration", positive=True)
    key = identifier if identifier is not None else (
        audio if offset is None else f"{audio}@{offset!r}")
    return Utterance(
        key=key, source=audio, audio_path=os.path.normpath(base / audio), offset=offset,
        duration=duration, text=text, id=identifier,
        extra={name: value for name, value in values.items() if name not in INPUT_KEYS},
        line=line)


def manifest_utterances(path: str | os.PathLike[str]) -> tuple[list[Utterance], list[Failure]]:
    """The utterances of a NeMo-style JSONL manifest, and the lines that are not valid.

    Args:
        path: the manifest; relative ``audio_filepath`` values are read from its folder.

    Returns:
        ``(utterances, failures)`` in line order. Every failure has ``error``
        ``"InvalidLine"`` and its ``line`` number: a line that is not UTF-8 or
        not a JSON object, holds a string (a key or a value, nested ones too)
        that UTF-8 cannot encode (a lone surrogate), lacks ``audio_filepath``,
        has a bad ``offset``, ``duration``, ``text`` or ``id``, brings a key seqdown writes, or
        repeats the key (or record id) of an earlier line.

    Raises:
        OSError: the manifest cannot be read.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> _ = (folder / "in.jsonl").write_text(
        ...     '{"audio_filepath": "a.wav", "text": "hi", "speaker": 7}\\n'
        ...     '{"audio_filepath": "long.wav", "offset": 2.5, "duration": 1.0}\\n'
        ...     'not json\\n')
        >>> utterances, failures = manifest_utterances(folder / "in.jsonl")
        >>> [(u.key, u.text, u.extra) for u in utterances]
        [('a.wav', 'hi', {'speaker': 7}), ('long.wav@2.5', None, {})]
        >>> [(f.line, f.error) for f in failures]
        [(3, 'InvalidLine')]
    """
    manifest = Path(path)
    base = manifest.absolute().parent
    utterances: list[Utterance] = []
    failures: list[Failure] = []
    first: dict[str, int] = {}  # key or record id -> line
    content = manifest.read_bytes().removeprefix(b"\xef\xbb\xbf")  # a UTF-8 byte-order mark
    for number, raw in enumerate(content.split(b"\n"), start=1):
        if not raw.strip():
            continue
        audio = f"{manifest.name}:{number}"
        try:
            try:
                values = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError as error:
                raise InvalidLine(f"the line is not UTF-8: {error}") from None
            except json.JSONDecodeError as error:
                raise InvalidLine(f"the line is not JSON: {error}") from None
            if isinstance(values, dict) and isinstance(values.get("audio_filepath"), str):
                audio = _readable(values["audio_filepath"]) or audio
            bad = _unencodable(values)
            if bad is not None:
                raise InvalidLine(f"{bad} is not valid Unicode: it holds a lone surrogate "
                                  "(a \\uD800-\\uDFFF escape without its pair), which UTF-8 "
                                  "cannot encode; fix the line's escapes")
            utterance = _utterance(values, base, number)
            for name in dict.fromkeys((utterance.key, utterance.record_id)):
                if name in first:
                    raise InvalidLine(f"{name!r} was already given by line {first[name]}; give "
                                      "each line a unique 'id' (or distinct offsets)")
        except InvalidLine as error:
            failures.append(Failure(audio, "InvalidLine", str(error), number))
            continue
        first.setdefault(utterance.key, number)
        first.setdefault(utterance.record_id, number)
        utterances.append(utterance)
    return utterances, failures

"""Finding audio files in a folder, and decoding them in bounded memory.

:func:`find_audio` walks a folder in sorted order and keeps the files whose
extension libsndfile decodes (case-insensitive), skipping hidden files and
folders. :func:`open_audio` opens one with soundfile and yields float32
blocks of ``(channels, time)``, so that memory stays at one block whatever the
length of the file. Every way a file can be bad raises a subclass of
:class:`AudioError`, whose class name a dataset pipeline records:

=====================  =================================================================
``NotARegularFile``    a FIFO, a device or a socket (never opened: reading it could block)
``EmptyFile``          the file has 0 bytes
``UnsupportedSampleRate``  the header's rate is outside ``MIN_SAMPLE_RATE``..``MAX_SAMPLE_RATE``
``UnreadableAudio``    libsndfile cannot open it (not audio, unsupported, broken header)
``CorruptAudio``       the decoder fails part-way through the data
``TruncatedAudio``     the data stops before the length the header declares
``ZeroSamples``        a valid header with no samples
``NonFiniteSamples``   NaN or infinite samples (float WAV, AIFF, CAF ...)
``TooShort``           fewer samples than the features or the front-end need
``SegmentOutOfRange``  an ``offset``/``duration`` segment not inside the file
=====================  =================================================================

The sample rate is checked when the file is opened, before anything is decoded or
allocated: a header is only a few bytes, and a damaged one (one flipped byte) must
cost the file, not the worker's memory.

Integer PCM of any width is scaled to [-1, 1) by libsndfile; float files keep
their values. Messages never contain absolute paths, so that they do not depend
on where a dataset lies.
"""

from __future__ import annotations

import fnmatch
import os
import re
import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from seqdown._lazy import missing_extra
from seqdown._validation import check_positive_int
from seqdown.dataset.options import AUDIO_EXTENSIONS
from seqdown.dsp.rates import MAX_SAMPLE_RATE

try:
    import soundfile
except ImportError as error:  # pragma: no cover - exercised by tests/test_extras.py
    raise missing_extra("soundfile", "dataset", error) from error

__all__ = [
    "MAX_SAMPLE_RATE",
    "MIN_SAMPLE_RATE",
    "SEGMENT_TOLERANCE",
    "AudioError",
    "AudioInfo",
    "AudioStream",
    "CorruptAudio",
    "EmptyFile",
    "NonFiniteSamples",
    "NotARegularFile",
    "SegmentOutOfRange",
    "TooShort",
    "TruncatedAudio",
    "UnreadableAudio",
    "UnsupportedSampleRate",
    "ZeroSamples",
    "find_audio",
    "open_audio",
    "segment_frames",
]

#: Seconds a segment may run past the end of its file and be clipped there (lhotse's default
#: tolerance for duration mismatches): manifests hold rounded durations.
SEGMENT_TOLERANCE = 0.025
#: Sample rates (Hz) a file may have: telephone-band 8 kHz recordings down to 1 kHz sensor
#: data, up to the resampler's :data:`~seqdown.dsp.rates.MAX_SAMPLE_RATE` (768 kHz, the
#: highest rate audio interfaces record).
MIN_SAMPLE_RATE = 1_000
#: Data-chunk sizes that streaming recorders write before they know the length.
_PLACEHOLDER_SIZES = frozenset({0, 0xFFFFFFFF, 0x7FFFFFFF})
#: libsndfile's log line for a data chunk longer than the file: ``data : 16000 (should be 5000)``.
_SHORT_CHUNK = re.compile(r"^\s*(data|SSND)\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)


class AudioError(Exception):
    """A file that cannot become an utterance; subclasses name the reason."""


class NotARegularFile(AudioError):
    """A FIFO, a device or a socket: not a file to decode."""


class UnsupportedSampleRate(AudioError):
    """The header's sample rate is outside the range the pipeline decodes."""


class EmptyFile(AudioError):
    """The file has 0 bytes."""


class UnreadableAudio(AudioError):
    """libsndfile cannot open the file."""


class CorruptAudio(AudioError):
    """The decoder failed part-way through the file."""


class TruncatedAudio(AudioError):
    """The file holds fewer samples than its header declares."""


class ZeroSamples(AudioError):
    """The file is valid but holds no samples."""


class NonFiniteSamples(AudioError):
    """A decoded sample is NaN or infinite."""


class SegmentOutOfRange(AudioError):
    """A segment (``offset``, ``duration``) that is not inside the file."""


class TooShort(AudioError):
    """The file is too short for the features or the front-end."""


def _is_hidden(name: str) -> bool:
    return name.startswith(".")


def find_audio(root: str | os.PathLike[str], exclude: Sequence[str] = (),
               skip: str | os.PathLike[str] | None = None) -> list[str]:
    """Lists the audio files below ``root``, as sorted POSIX paths relative to it.

    Args:
        root: the folder to walk (recursively, following no symlinked folders).
        exclude: glob patterns (``fnmatch``, where ``*`` also matches ``/``) on
            the relative path; a file matching any of them is left out.
        skip: a folder below ``root`` to leave out entirely (e.g. the output).

    Returns:
        Relative paths such as ``"digits/one_us.flac"``, sorted by code point.
        Hidden files and folders (names starting with ``.``) and files whose
        extension is not in :data:`AUDIO_EXTENSIONS` are left out.

    Raises:
        NotADirectoryError: ``root`` is not a folder.
    """
    root_path = Path(root)
    if not root_path.is_dir():
        raise NotADirectoryError(f"INPUT_DIR must be a folder, got {os.fspath(root)!r}")
    skip_path = Path(skip).resolve() if skip is not None else None
    found = []
    for folder, dirs, files in os.walk(root_path):
        dirs[:] = [d for d in dirs if not _is_hidden(d)
                   and (skip_path is None or (Path(folder) / d).resolve() != skip_path)]
        for name in files:
            _, dot, extension = name.rpartition(".")
            if _is_hidden(name) or not dot or extension.lower() not in AUDIO_EXTENSIONS:
                continue
            relative = (Path(folder) / name).relative_to(root_path).as_posix()
            if not any(fnmatch.fnmatchcase(relative, pattern) for pattern in exclude):
                found.append(relative)
    return sorted(found)


@dataclass(frozen=True)
class AudioInfo:
    """What the header of an audio file says.

    Attributes:
        sample_rate: samples per second per channel.
        channels: number of channels.
        frames: samples per channel the header declares (libsndfile's ``frames``).
        format: container, e.g. ``"WAV"``.
        subtype: sample encoding, e.g. ``"PCM_16"``.
    """

    sample_rate: int
    channels: int
    frames: int
    format: str
    subtype: str


def _libsndfile_message(error: Exception) -> str:
    """libsndfile's own words, without the path soundfile puts in front of them."""
    return str(getattr(error, "error_string", None) or error).strip()


class AudioStream:
    """An open audio file read block by block; made by :func:`open_audio`.

    Attributes:
        info: the header, an :class:`AudioInfo`.
        frames_read: samples per channel decoded so far.
        start: the sample :meth:`blocks` started at.
    """

    def __init__(self, handle: soundfile.SoundFile) -> None:
        self._handle = handle
        self.info = AudioInfo(handle.samplerate, handle.channels, handle.frames,
                              handle.format, handle.subtype)
        self.frames_read = 0
        self.start = 0

    def blocks(self, block_frames: int, start: int = 0, frames: int | None = None
               ) -> Iterator[np.ndarray]:
        """Decodes the file as float32 blocks of ``(channels, n)``, ``1 <= n <= block_frames``.

        Args:
            block_frames: most samples per channel in a block.
            start: first sample to decode; the decoder seeks there (nothing
                before it is decoded), see :func:`segment_frames`.
            frames: samples per channel to decode from ``start``; None for all
                up to the end of the file.

        Each block is a transposed view of what soundfile decodes (time-major).
        Each block is checked for NaN and infinities as it is decoded, and the
        total is checked against the header (or ``frames``) at the end.

        Raises:
            CorruptAudio: the decoder fails part-way, or cannot seek to ``start``.
            NonFiniteSamples: a sample is NaN or infinite.
            TruncatedAudio: fewer samples than the header (or ``frames``) declares.
            ZeroSamples: the file holds no samples.
        """
        block_frames = check_positive_int("block_frames", block_frames)
        self.start = check_positive_int("start", start, minimum=0)
        wanted = self.info.frames - start if frames is None else check_positive_int("frames",
                                                                                    frames)
        if start:
            try:
                self._handle.seek(start)
            except (soundfile.LibsndfileError, RuntimeError) as error:
                raise CorruptAudio(f"cannot seek to sample {start}: "
                                   f"{_libsndfile_message(error)}") from None
        while frames is None or self.frames_read < frames:
            size = block_frames if frames is None else min(block_frames,
                                                           frames - self.frames_read)
            try:
                block = self._handle.read(size, dtype="float32", always_2d=True)
            except (soundfile.LibsndfileError, RuntimeError) as error:
                raise CorruptAudio(f"decoding failed after {start + self.frames_read} "
                                   f"samples: {_libsndfile_message(error)}") from None
            if not len(block):
                break
            self._check_finite(block)
            self.frames_read += len(block)
            yield block.T  # a view: no copy
        if self.frames_read == 0 and not start and frames is None:
            raise ZeroSamples("the file holds no samples (a valid header with 0 frames)")
        if self.frames_read < wanted:
            raise TruncatedAudio(f"decoded {self.frames_read} samples per channel from sample "
                                 f"{start}, but the header declares {self.info.frames} in all"
                                 if start or frames is not None else
                                 f"decoded {self.frames_read} samples per channel, but the "
                                 f"header declares {self.info.frames}")

    def _check_finite(self, block: np.ndarray) -> None:
        finite = np.isfinite(block)
        if not finite.all():
            sample, channel = np.argwhere(~finite)[0]
            index = self.start + self.frames_read + int(sample)
            raise NonFiniteSamples(
                f"sample {index} ({index / self.info.sample_rate:.3f} s) of channel "
                f"{int(channel)} is {block[sample, channel]}; audio samples must be finite"
            )


def _samples(seconds: float, sample_rate: int) -> int:
    """``seconds`` at ``sample_rate``, rounded to the nearest sample (halves up), exactly."""
    return int(Fraction(repr(float(seconds))) * sample_rate + Fraction(1, 2))


def segment_frames(info: AudioInfo, offset: float | None, duration: float | None
                   ) -> tuple[int, int | None]:
    """The first sample and the sample count of a segment ``[offset, offset + duration)``.

    Seconds become samples by rounding to the nearest (halves up). A segment
    that runs past the end by at most :data:`SEGMENT_TOLERANCE` seconds (the
    rounding of durations that manifests commonly hold) ends at the end of
    the file.

    Args:
        info: the file's header.
        offset: start in seconds (None: 0).
        duration: length in seconds (None: up to the end of the file).

    Returns:
        ``(start, frames)`` for :meth:`AudioStream.blocks`; ``frames`` is None
        for "up to the end".

    Raises:
        SegmentOutOfRange: the segment starts at or after the end of the file,
            holds no sample, or ends more than the tolerance after the end.

    Example:
        >>> info = AudioInfo(16000, 1, 32000, "WAV", "PCM_16")
        >>> segment_frames(info, 0.5, 1.0), segment_frames(info, 1.5, 0.51)
        ((8000, 16000), (24000, 8000))
    """
    rate = info.sample_rate
    start = 0 if offset is None else _samples(offset, rate)
    if start and start >= info.frames:
        raise SegmentOutOfRange(f"offset {offset} s is not inside the file, which holds "
                                f"{info.frames / rate:.6g} s ({info.frames} samples at {rate} Hz)")
    if duration is None:
        return start, None
    frames = _samples(duration, rate)
    if frames < 1:
        raise SegmentOutOfRange(f"duration {duration} s holds no sample at {rate} Hz")
    excess = start + frames - info.frames
    if excess > 0:
        if excess > SEGMENT_TOLERANCE * rate:
            raise SegmentOutOfRange(
                f"offset {offset or 0} s + duration {duration} s ends {excess / rate:.6g} s "
                f"after the end of the file ({info.frames / rate:.6g} s), more than the "
                f"{SEGMENT_TOLERANCE} s tolerance")
        frames -= excess
    return start, frames


def _check_header(handle: soundfile.SoundFile) -> None:
    """Raises TruncatedAudio where libsndfile found a data chunk longer than the file."""
    for chunk, declared, actual in _SHORT_CHUNK.findall(handle.extra_info):
        declared, actual = int(declared), int(actual)
        if declared > actual and declared not in _PLACEHOLDER_SIZES:
            raise TruncatedAudio(f"the {chunk!r} chunk declares {declared} bytes, but the file "
                                 f"holds only {actual}")


@contextmanager
def open_audio(path: str | os.PathLike[str]) -> Iterator[AudioStream]:
    """Opens an audio file for :meth:`AudioStream.blocks`.

    Args:
        path: the file.

    Yields:
        An :class:`AudioStream`.

    Raises:
        NotARegularFile: a folder, FIFO, device or socket (it is not opened).
        EmptyFile: the file has 0 bytes.
        UnreadableAudio: libsndfile cannot open it.
        UnsupportedSampleRate: the header's rate is outside
            [:data:`MIN_SAMPLE_RATE`, :data:`MAX_SAMPLE_RATE`].
        TruncatedAudio: the header declares more data than the file holds.
        OSError: the file cannot be opened at all (missing, permissions).

    Example:
        >>> with open_audio("audio_fixtures/formats/wav_pcm_16.wav") as audio:  # doctest: +SKIP
        ...     blocks = list(audio.blocks(4096))
    """
    status = os.stat(path)
    if not stat.S_ISREG(status.st_mode):
        kind = ("a folder" if stat.S_ISDIR(status.st_mode) else "a FIFO"
                if stat.S_ISFIFO(status.st_mode) else "a socket"
                if stat.S_ISSOCK(status.st_mode) else "a device")
        raise NotARegularFile(f"it is {kind}, not a regular file; it was not opened")
    if status.st_size == 0:
        raise EmptyFile("the file is empty (0 bytes)")
    try:
        handle = soundfile.SoundFile(path)
    except RuntimeError as error:  # soundfile.LibsndfileError and older soundfile's errors
        raise UnreadableAudio(f"libsndfile cannot open it: {_libsndfile_message(error)}") from None
    with handle:
        if not MIN_SAMPLE_RATE <= handle.samplerate <= MAX_SAMPLE_RATE:
            raise UnsupportedSampleRate(
                f"the header says {handle.samplerate} Hz; sample rates from {MIN_SAMPLE_RATE} "
                f"to {MAX_SAMPLE_RATE} Hz are decoded (a damaged header, or not audio)")
        _check_header(handle)
        yield AudioStream(handle)

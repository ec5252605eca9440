"""One utterance to one feature array: the work a preprocessing worker does.

:func:`process_file` decodes the file (or its ``offset``/``duration`` segment,
seeking to its start: nothing before it is decoded) block by block (float32), mixes it to
mono or keeps its channels, resamples each block with
:class:`~seqdown.dsp.streaming.StreamingResampler` (seqdown's ``Resample`` filter,
:data:`~seqdown.dataset.settings.RESAMPLING`), computes the features as the blocks
arrive (:class:`~seqdown.dataset.features.FeatureExtractor`), runs the front-end on
the feature sequence and saves the array atomically.

Memory does not depend on the source's length, rate or channels, only on the
features: one decoded block (:data:`BLOCK_SAMPLES` samples over all channels, float32),
the resampler's and the feature extractor's buffers (a filter length, a window),
and the features of the whole file, float32, which the concatenation of the
streamed frames and the front-end's working copies hold up to about five times
over. Measured peak growth (3 min of 96 kHz 4-channel audio, 276 MB decoded as
float32): 18 MB for log-mels, 27 MB with ``decimate:2``. For log-mels at 10 ms
the bound is ``5 * 80 * 4 * 100`` bytes per second, 0.6 GB per hour of audio
(one float64 copy of a 48 kHz stereo hour is 2.8 GB); ``--features wave`` at
16 kHz keeps the resampled waveform, twice that.

Every error of the file becomes a :class:`~seqdown.dataset.manifest.Failure` whose
``error`` is the exception's class name: a bad file never stops a run. The one
exception is :class:`~seqdown.dataset.atomic.StorageError` (OUTPUT_DIR cannot be
written: a full disk, a read-only mount): it says nothing about the file, so it
propagates, through the worker pool to the parent, and stops the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from seqdown.dataset.atomic import StorageError, save_array, sha256_file
from seqdown.dataset.audio import NonFiniteSamples, TooShort, open_audio, segment_frames
from seqdown.dataset.features import FeatureExtractor
from seqdown.dataset.journal import Entry
from seqdown.dataset.manifest import FEATURES_DIR, Failure, Record
from seqdown.dataset.settings import RESAMPLING, Settings
from seqdown.dataset.sources import Utterance
from seqdown.dsp.streaming import StreamingResampler
from seqdown.frontends.chain import Chain
from seqdown.lengths import resample_length

__all__ = ["BLOCK_SAMPLES", "Job", "process_file"]

#: Samples decoded at a time, over all channels (1 MiB as float32): a block holds
#: ``BLOCK_SAMPLES // channels`` frames. A constant, so that the float rounding of the
#: streaming steps is the same on every run.
BLOCK_SAMPLES = 1 << 18


@dataclass(frozen=True)
class Job:
    """An utterance to make.

    Attributes:
        utterance: what to make (a file or a segment of one) and what its input says.
        output_dir: the dataset folder (absolute).
        settings: the run's settings.
        source_size: the audio file's size when it was listed, in bytes.
        source_mtime_ns: its modification time then, in ns.
    """

    utterance: Utterance
    output_dir: str
    settings: Settings
    source_size: int
    source_mtime_ns: int

    @property
    def source(self) -> str:
        """The audio file as the input names it."""
        return self.utterance.source

    @property
    def audio_path(self) -> str:
        """Absolute path of the audio file."""
        return self.utterance.audio_path


@lru_cache(maxsize=4)
def _frontend(settings: Settings) -> Chain:
    return settings.build_frontend().eval()


@lru_cache(maxsize=16)
def _source_sha256(path: str, size: int, mtime_ns: int) -> str:
    """The SHA-256 of a source file, hashed once per worker for the segments of one file."""
    return sha256_file(path)


@dataclass(frozen=True)
class _Decoded:
    """Features of a file before the front-end, and the lengths on the way."""

    features: torch.Tensor  # (feature_channels, feature_frames) float32
    sample_rate: int
    channels: int
    start: int  # first sample decoded
    samples: int
    resampled: int


def _mix_to_mono(block: np.ndarray) -> np.ndarray:
    """The mean of the channels of ``(channels, n)``, as ``(1, n)`` float32.

    Channel by channel: on soundfile's time-major blocks this is 15 times faster
    than ``block.mean(axis=0)``, and it sums in a fixed order.
    """
    mixed = block[0].copy()
    for channel in block[1:]:
        mixed += channel
    mixed /= block.shape[0]
    return mixed[None]


def _decode(job: Job) -> _Decoded:
    """Decodes, mixes, resamples and computes the features of ``job``'s file, block by block."""
    settings = job.settings
    extractor = FeatureExtractor(settings.feature_spec)
    with open_audio(job.audio_path) as audio:
        info = audio.info
        start, frames = segment_frames(info, job.utterance.offset, job.utterance.duration)
        stream = StreamingResampler(info.sample_rate, settings.sample_rate, **RESAMPLING)
        # Blocks of a fixed number of samples, not frames: a 1024-channel file costs
        # what a mono one does.
        for block in audio.blocks(max(1, BLOCK_SAMPLES // info.channels), start, frames):
            if settings.channels == "mono" and block.shape[0] > 1:
                block = _mix_to_mono(block)
            extractor.push(stream.process(torch.from_numpy(block)))
        extractor.push(stream.flush())
        samples = audio.frames_read
    kernel = stream.kernel
    if stream.samples_out != resample_length(samples, kernel.up, kernel.down):  # pragma: no cover
        raise RuntimeError(f"resampled {samples} samples to {stream.samples_out}, but "
                           "resample_length disagrees; this is a bug in seqdown")
    return _Decoded(extractor.finish(), info.sample_rate, info.channels, start, samples,
                    stream.samples_out)


def _run(job: Job) -> Entry:
    settings = job.settings
    decoded = _decode(job)
    frontend = _frontend(settings)
    frames = decoded.features.shape[1]
    if frontend.output_length(frames) < 1:
        raise TooShort(f"{frames} feature frames, but --frontend {settings.frontend} needs at "
                       f"least {frontend.min_length} to give one step")
    with torch.no_grad():
        array = frontend(decoded.features[None])[0][0]
    if not torch.isfinite(array).all():
        raise NonFiniteSamples("the features are not finite: the samples are finite but so "
                               "large that their power overflows float32")
    if array.shape[1] != frontend.output_length(frames):  # pragma: no cover - a bug
        raise RuntimeError(f"the front-end gave {array.shape[1]} steps for {frames}, but its "
                           "output_length disagrees; this is a bug in seqdown")
    utterance = job.utterance
    relative = f"{FEATURES_DIR}/{utterance.array_name}.npy"
    digest, size = save_array(Path(job.output_dir) / relative, array.numpy())
    channels = 1 if settings.channels == "mono" else decoded.channels
    segment = utterance.offset is not None
    record = Record(
        id=utterance.record_id, source=utterance.source, audio_filepath=job.audio_path,
        duration=decoded.samples / decoded.sample_rate,
        orig_sampling_rate=decoded.sample_rate, sampling_rate=settings.sample_rate,
        orig_channels=decoded.channels, channels=channels,
        orig_num_samples=decoded.samples, num_samples=decoded.resampled,
        features=settings.features, feature_frames=frames, num_frames=int(array.shape[1]),
        frame_rate=float(settings.output_frame_rate()), feature_filepath=relative,
        shape=list(array.shape), sha256=digest,
        offset=decoded.start / decoded.sample_rate if segment else None, text=utterance.text,
        frame_shift=settings.frame_shift, frame_count=settings.frame_count,
        extra=utterance.extra)
    source_sha256 = _source_sha256(job.audio_path, job.source_size, job.source_mtime_ns)
    return Entry(record, job.source_size, job.source_mtime_ns, size, utterance.key,
                 utterance.digest, utterance.audio_digest, source_sha256)


def process_file(job: Job) -> Entry | Failure:
    """Processes one file; returns its journal entry, or the failure.

    Runs in a worker process (it is picklable by reference) or in the parent.
    Any exception becomes a :class:`Failure` naming its class, with the absolute
    path replaced by ``source`` in the message, except a :class:`StorageError`.

    Raises:
        StorageError: the array cannot be written to OUTPUT_DIR.
    """
    try:
        return _run(job)
    except StorageError:
        raise
    except Exception as error:  # a bad file must never stop the run
        message = str(error).replace(job.audio_path, job.source) or _no_message(error)
        return job.utterance.failure(type(error).__name__, message)


def _no_message(error: Exception) -> str:
    """Words for an exception raised without any (``MemoryError()``): never an empty message."""
    if isinstance(error, MemoryError):
        return "ran out of memory while processing the file"
    return f"{type(error).__name__} raised without a message while processing the file"

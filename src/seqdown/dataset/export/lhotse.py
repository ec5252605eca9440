"""``seqdown export lhotse``: a dataset folder as lhotse recordings, supervisions and cuts.

OUT_DIR gets::

    recordings.jsonl.gz    one Recording per audio file (several for the segments of one)
    supervisions.jsonl.gz  one SupervisionSegment per utterance: its span, text, speaker
    cuts.jsonl.gz          one cut per utterance, with the recording and the features
    features/<name>.npy    the arrays, time-major (num_frames, feature_channels) float32

Ids: a cut and its supervision have the record's ``id``; a recording has
:func:`~seqdown.dataset.manifest.utterance_id` of the record's ``source`` (for
folder inputs, the same id). A cut's recording is resampled (lhotse's
``Recording.resample``) to the dataset's ``sampling_rate`` where the file has
another rate, so ``cut.load_audio()`` gives the audio the features were made
from. A mono-mixed multi-channel file gives a ``MultiCut`` over all its
channels. The supervision carries ``text``, ``speaker``, ``language``
(``lang``) and ``gender`` from the record, and its other extra keys in ``custom``.

**Frames.** lhotse counts the frames of a span with
``lhotse.utils.compute_num_frames``: ``(samples + window // 2) // window`` for
``samples = round(duration * sampling_rate)`` and ``window = frame_shift *
sampling_rate``, while seqdown's arrays have ``num_frames`` from its own rule
(the record's ``frame_count``: a centred STFT has one frame more than that for
about half of all lengths). So that ``cut.load_features()`` returns every
frame, each cut's (and its features') ``duration`` is the utterance's duration
moved by less than one frame into the interval where lhotse's rule gives
exactly ``num_frames`` (:func:`cut_samples`); the supervision keeps the exact
duration of the audio. ``frame_shift`` is the record's, so ``window`` must be
a whole number of samples.

**Storage.** lhotse's ``numpy_files`` reader loads arrays as they are stored
and expects them time-major, while seqdown's are ``(feature_channels,
num_frames)``; so the export writes each array transposed into
``OUT_DIR/features`` (after checking it against the record's SHA-256), and
the cuts point there: OUT_DIR needs nothing of seqdown to be read.
"""

from __future__ import annotations

import hashlib
import io
import os
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from seqdown.dataset.atomic import save_array
from seqdown.dataset.audio import AudioError, open_audio
from seqdown.dataset.export.folder import (
    ExportSummary,
    import_for_export,
    prepare_output,
    read_dataset,
)
from seqdown.dataset.manifest import FEATURES_DIR, Record, utterance_id
from seqdown.dataset.settings import UsageError
from seqdown.dataset.trust import check_regular_file, confined_path

__all__ = ["LHOTSE_OUTPUTS", "cut_samples", "export_lhotse", "load_array"]

#: What the export writes in OUT_DIR (and ``--overwrite`` removes).
LHOTSE_OUTPUTS = ("recordings.jsonl.gz", "supervisions.jsonl.gz", "cuts.jsonl.gz", "features")
#: Extra keys that become SupervisionSegment fields (the rest go to ``custom``).
_SUPERVISION_FIELDS = {"speaker": "speaker", "language": "language", "lang": "language",
                       "gender": "gender"}


def cut_samples(num_frames: int, num_samples: int, window: int) -> int:
    """The samples of a cut whose lhotse frame count is ``num_frames``, nearest ``num_samples``.

    lhotse gives ``(samples + window // 2) // window`` frames, which equals
    ``num_frames`` exactly for ``num_frames * window - window // 2 <= samples <=
    (num_frames + 1) * window - window // 2 - 1``; this is ``num_samples``
    clamped into that interval (moved by less than one window).

    Args:
        num_frames: steps of the array.
        num_samples: samples of the utterance at the features' sampling rate.
        window: samples per step (``frame_shift * sampling_rate``).

    Example:
        >>> cut_samples(36, 5636, 160)  # lhotse would count 35 frames in 5636 samples
        5680
        >>> (5680 + 80) // 160
        36
    """
    low = num_frames * window - window // 2
    return min(max(num_samples, low), low + window - 1)


def load_array(folder: Path, record: Record) -> np.ndarray:
    """A record's array: a regular file in ``features/``, checked against its SHA-256 and shape.

    Raises:
        ValueError: the path leaves ``features/`` or is not a regular file, or the
            array is damaged or does not match its record.
    """
    what = f"utterance {record.id!r}"
    path = confined_path(folder, record.feature_filepath, FEATURES_DIR, what)
    check_regular_file(path, what)
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != record.sha256:
        raise ValueError(f"{os.fspath(path)!r} does not match the sha256 in the manifest; "
                         "the dataset was modified or damaged")
    array = np.load(io.BytesIO(data), allow_pickle=False)
    if list(array.shape) != record.shape or array.dtype != np.float32:
        raise ValueError(f"{os.fspath(path)!r} holds {array.dtype} {list(array.shape)}, but "
                         f"the manifest says float32 {record.shape}")
    return array


def _window(record: Record, frame_rate: Fraction) -> int:
    window = Fraction(record.sampling_rate) / frame_rate
    if window.denominator != 1:
        raise UsageError(f"lhotse needs frame_shift x sampling_rate to be a whole number of "
                         f"samples, but this dataset's steps are {window} samples at "
                         f"{record.sampling_rate} Hz; choose --hop-ms and --frontend so that "
                         "they are")
    return window.numerator


def _supervision_fields(extra: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    named = {_SUPERVISION_FIELDS[key]: value for key, value in extra.items()
             if key in _SUPERVISION_FIELDS and isinstance(value, str)}
    custom = {key: value for key, value in extra.items()
              if not (key in _SUPERVISION_FIELDS and isinstance(value, str))}
    return named, custom or None


def _audio_info(record: Record) -> Any:
    """The header of a record's audio, which its lhotse ``Recording`` points to."""
    try:
        with open_audio(record.audio_filepath) as audio:
            return audio.info
    except (OSError, AudioError) as error:
        raise UsageError(
            f"record {record.id!r}: its audio {record.audio_filepath!r} cannot be read "
            f"({type(error).__name__}: {error}); the lhotse recordings point to the audio, so "
            "restore it there (or preprocess from where it now lies)") from None


def export_lhotse(dataset_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str], *,
                  overwrite: bool = False) -> ExportSummary:
    """Writes a dataset folder as lhotse manifests whose cuts load seqdown's frames exactly.

    Args:
        dataset_dir: a complete folder of ``seqdown preprocess`` or ``merge``.
        out_dir: a new or empty folder (or, with ``overwrite``, an earlier export).
        overwrite: replace an earlier export in ``out_dir``.

    Returns:
        An :class:`~seqdown.dataset.export.ExportSummary`.

    Raises:
        ImportError: lhotse is not installed (the message says how to install it).
        UsageError: DATASET_DIR is not a complete dataset, OUT_DIR is not
            usable, the dataset's frame shift is not a whole number of samples, or a
            record's audio cannot be read where the manifest says.
        ValueError: an array is damaged.

    Example:
        >>> export_lhotse("build/digits", "build/digits-lhotse")  # doctest: +SKIP
        >>> from lhotse import CutSet  # doctest: +SKIP
        >>> cut = CutSet.from_file("build/digits-lhotse/cuts.jsonl.gz")[0]  # doctest: +SKIP
        >>> cut.load_features().shape == (cut.num_frames, 80)  # doctest: +SKIP
        True
    """
    lhotse = import_for_export("lhotse", "lhotse")
    dataset = read_dataset(dataset_dir)
    output = prepare_output(out_dir, LHOTSE_OUTPUTS, overwrite)
    features_dir = output / "features"
    features_dir.mkdir()
    frame_rate = dataset.settings.output_frame_rate()
    recordings: dict[str, Any] = {}
    supervisions, cuts, frames = [], [], 0
    for record in dataset.records:
        window = _window(record, frame_rate)
        recording_id = utterance_id(record.source)
        if recording_id not in recordings:
            info = _audio_info(record)
            recordings[recording_id] = lhotse.Recording(
                id=recording_id, sampling_rate=info.sample_rate, num_samples=info.frames,
                duration=info.frames / info.sample_rate,
                sources=[lhotse.AudioSource(type="file", channels=list(range(info.channels)),
                                            source=record.audio_filepath)])
        recording = recordings[recording_id]
        if recording.sampling_rate != record.sampling_rate:
            recording = recording.resample(record.sampling_rate)
        channel: int | list[int] = (0 if record.orig_channels == 1
                                    else list(range(record.orig_channels)))
        name = Path(record.feature_filepath).name
        save_array(features_dir / name,
                   np.ascontiguousarray(load_array(dataset.folder, record).T))
        start = record.offset or 0.0
        duration = cut_samples(record.num_frames, record.num_samples, window) / record.sampling_rate
        features = lhotse.Features(
            type=f"seqdown-{record.features}", num_frames=record.num_frames,
            num_features=record.shape[0], frame_shift=window / record.sampling_rate,
            sampling_rate=record.sampling_rate, start=start, duration=duration,
            storage_type="numpy_files", storage_path=os.fspath(features_dir), storage_key=name,
            recording_id=recording_id, channels=channel)
        named, custom = _supervision_fields(record.extra)
        supervision = lhotse.SupervisionSegment(
            id=record.id, recording_id=recording_id, start=start, duration=record.duration,
            channel=channel, text=record.text, custom=custom, **named)
        supervisions.append(supervision)
        kind = lhotse.MonoCut if isinstance(channel, int) else lhotse.MultiCut
        cuts.append(kind(id=record.id, start=start, duration=duration, channel=channel,
                         features=features, recording=recording,
                         supervisions=[supervision.with_offset(-start)]))
        frames += record.num_frames
    lhotse.RecordingSet.from_recordings(recordings.values()).to_file(
        output / "recordings.jsonl.gz")
    lhotse.SupervisionSet.from_segments(supervisions).to_file(output / "supervisions.jsonl.gz")
    lhotse.CutSet.from_cuts(cuts).to_file(output / "cuts.jsonl.gz")
    return ExportSummary(os.fspath(out_dir), len(cuts), frames)

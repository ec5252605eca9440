"""The settings of a preprocessed dataset, and its ``dataset.json``.

A dataset folder is made with one set of :class:`Settings`; a later run may
resume it only with the same ones, and shards merge only when theirs agree
(except the shard index). :func:`differences` names each option that differs
as the user typed it (``--sample-rate 8000 (this run: 16000)``).

Where the audio lives is not part of a dataset's identity: ``input_dir`` (an
absolute path on this machine) is left out of ``dataset.json`` and of
:func:`differences` (:data:`LOCATION`), so a corpus mounted at another path on
another node, or moved, resumes and merges without ``--overwrite``; a source
is known by its path relative to INPUT_DIR, its size and modification time.

``dataset.json`` holds the settings, the resampler, feature and front-end
parameters that follow from them (factor, receptive field, frame rate), the
library versions and the counts. It contains nothing that depends on the run
(no times, no worker count), so two runs on the same inputs give the same bytes.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seqdown import __version__
from seqdown._lazy import missing_extra
from seqdown._validation import check_choice, check_positive_int
from seqdown.dataset.features import FeatureSpec
from seqdown.dataset.options import (
    CHANNEL_MODES,
    DEFAULT_CHANNELS,
    DEFAULT_FEATURES,
    DEFAULT_FRONTEND,
    DEFAULT_HOP_MS,
    DEFAULT_N_MELS,
    DEFAULT_N_MFCC,
    DEFAULT_SAMPLE_RATE,
    DEFAULT_WIN_MS,
    OPTION_NAMES,
    ChannelMode,
    FeatureKind,
)
from seqdown.dsp.filters import RESAMPLE_ATTENUATION, RESAMPLE_TRANSITION
from seqdown.dsp.rates import check_sample_rate
from seqdown.frontends.chain import Chain, build_frontend

try:
    import soundfile
    import torchaudio
except ImportError as error:  # pragma: no cover - exercised by tests/test_extras.py
    raise missing_extra(error.name or "soundfile", "dataset", error) from error

__all__ = [
    "DATASET_FILE",
    "LOCATION",
    "RESAMPLING",
    "Settings",
    "SettingsMismatch",
    "UsageError",
    "describe_dataset",
    "differences",
    "read_dataset_file",
]

DATASET_FILE = "dataset.json"
#: Settings that say where the inputs are, not what is done to them: not stored, not compared.
LOCATION = ("input_dir",)
#: The anti-aliasing low-pass of every resampling: :class:`seqdown.Resample`'s defaults.
RESAMPLING = {"attenuation": RESAMPLE_ATTENUATION, "transition": RESAMPLE_TRANSITION}


class UsageError(Exception):
    """A command cannot run as asked (exit status 2); nothing has been changed."""


class SettingsMismatch(UsageError):
    """An existing dataset was made with other settings."""


@dataclass(frozen=True)
class Settings:
    """What ``seqdown preprocess`` does to every file; see :meth:`make`."""

    input_dir: str
    sample_rate: int
    features: FeatureKind
    n_mels: int | None
    n_mfcc: int | None
    win_ms: float | None
    hop_ms: float | None
    frontend: str
    channels: ChannelMode
    num_shards: int
    shard_index: int
    exclude: tuple[str, ...]
    manifest: str | None = None
    transcripts: tuple[str, ...] = ()
    require_text: bool = False

    @classmethod
    def make(cls, input_dir: str | os.PathLike[str] | None = None, *,
             manifest: str | os.PathLike[str] | None = None,
             transcripts: tuple[str | os.PathLike[str], ...] | list[str] = (),
             require_text: bool = False, sample_rate: int = DEFAULT_SAMPLE_RATE,
             features: FeatureKind = DEFAULT_FEATURES, n_mels: int = DEFAULT_N_MELS,
             n_mfcc: int = DEFAULT_N_MFCC, win_ms: float = DEFAULT_WIN_MS,
             hop_ms: float = DEFAULT_HOP_MS, frontend: str = DEFAULT_FRONTEND,
             channels: ChannelMode = DEFAULT_CHANNELS, num_shards: int = 1, shard_index: int = 0,
             exclude: tuple[str, ...] | list[str] = ()) -> Settings:
        """Validates and normalises the options of ``seqdown preprocess``.

        The input is a folder (``input_dir``, with ``transcripts`` files to
        fill ``text``) or a NeMo-style JSONL ``manifest``, whose folder becomes
        ``input_dir`` (relative ``audio_filepath`` values are read from it).
        ``require_text`` makes utterances without a text failures.

        Options that the chosen features do not use are stored as None (so
        that ``--n-mels`` does not matter for ``--features wave``), the
        front-end spec is lower-cased without spaces, and paths are made
        absolute.

        Raises:
            ValueError: a value out of range, an unknown choice, or a learnable
                front-end; the message names the option.
        """
        check_choice("--channels", channels, CHANNEL_MODES)
        if (input_dir is None) == (manifest is None):
            raise ValueError("give either INPUT_DIR or --manifest, not "
                             + ("both" if manifest is not None else "neither"))
        if manifest is not None and transcripts:
            raise ValueError("--transcripts is for INPUT_DIR inputs; with --manifest, put "
                             "each utterance's text in its line's 'text' key")
        manifest = None if manifest is None else os.path.abspath(manifest)
        folder = os.path.dirname(manifest) if manifest is not None else os.path.abspath(
            input_dir or "")
        num_shards = check_positive_int("--num-shards", num_shards)
        shard_index = check_positive_int("--shard-index", shard_index, minimum=0)
        if shard_index >= num_shards:
            raise ValueError(f"--shard-index must be < --num-shards ({num_shards}), "
                             f"got {shard_index}")
        sample_rate = check_sample_rate("--sample-rate", sample_rate)  # what resampling takes
        spec = FeatureSpec(features, sample_rate, n_mels, n_mfcc, win_ms, hop_ms)
        spectral = features != "wave"
        settings = cls(
            input_dir=folder, sample_rate=int(sample_rate),
            features=spec.kind, n_mels=int(n_mels) if spectral else None,
            n_mfcc=int(n_mfcc) if features == "mfcc" else None,
            win_ms=float(win_ms) if spectral else None,
            hop_ms=float(hop_ms) if spectral else None,
            frontend=frontend.replace(" ", "").lower(), channels=channels,
            num_shards=num_shards, shard_index=shard_index, exclude=tuple(exclude),
            manifest=manifest,
            transcripts=tuple(os.path.abspath(path) for path in transcripts),
            require_text=bool(require_text))
        settings.build_frontend()
        return settings

    @property
    def feature_spec(self) -> FeatureSpec:
        """The :class:`FeatureSpec` these settings give."""
        spectral = {key: value for key in ("n_mels", "n_mfcc", "win_ms", "hop_ms")
                    if (value := getattr(self, key)) is not None}
        return FeatureSpec(self.features, self.sample_rate, **spectral)

    def build_frontend(self) -> Chain:
        """The front-end, checked to be fixed (no learnable weights).

        Raises:
            ValueError: the spec is invalid or builds a learnable front-end.
        """
        try:
            frontend = build_frontend(self.frontend, channels=1)
        except ValueError as error:
            raise ValueError(f"--frontend: {error}") from None
        if any(True for _ in frontend.parameters()):
            raise ValueError(
                f"--frontend must be a fixed (non-learnable) front-end, got {self.frontend!r}, "
                "whose weights would be untrained here; use max, avg, decimate, blur or "
                "stack, and put a learnable 'conv' in the model instead")
        return frontend

    def output_frame_rate(self) -> Fraction:
        """Steps per second of the arrays: the feature frame rate over the front-end's factor."""
        factor = self.build_frontend().factor
        if factor is None:  # pragma: no cover - no spec name builds a pooling without time
            raise ValueError(f"--frontend {self.frontend!r} leaves no time axis")
        return self.feature_spec.frame_rate / factor

    @property
    def frame_shift(self) -> float:
        """Seconds between steps of the arrays, ``1 / output_frame_rate()``."""
        return float(1 / self.output_frame_rate())

    @property
    def frame_count(self) -> str:
        """The rule that gives each record's ``num_frames``, for its ``frame_count`` key.

        Example:
            >>> print(*Settings.make(".", frontend="decimate:2").frame_count.split("; "), sep="\\n")
            centred STFT: feature_frames = 1 + num_samples // 160
            num_frames = output_length(feature_frames) of --frontend decimate:2
        """
        rule = self.feature_spec.frame_rule
        if self.frontend == "none":
            return f"{rule}; num_frames = feature_frames"
        return f"{rule}; num_frames = output_length(feature_frames) of --frontend {self.frontend}"

    def to_dict(self) -> dict[str, Any]:
        """The settings as JSON values, without :data:`LOCATION` (``input_dir``)."""
        values = {key: value for key, value in asdict(self).items() if key not in LOCATION}
        values["exclude"] = list(self.exclude)
        values["transcripts"] = list(self.transcripts)
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Settings:
        """Inverse of :meth:`to_dict`; ``input_dir`` is ``""`` unless ``values`` has one.

        Older ``dataset.json`` files stored ``input_dir``: it is read, never compared.
        """
        known = {f.name for f in fields(cls)} - {"exclude", "transcripts"}
        return cls(**{"input_dir": "", **{key: value for key, value in values.items()
                                          if key in known}},
                   exclude=tuple(values.get("exclude", ())),
                   transcripts=tuple(values.get("transcripts", ())))

    def unsharded(self) -> Settings:
        """These settings as one unsharded run would have them (for merged shards)."""
        return replace(self, num_shards=1, shard_index=0)


def _show(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return " ".join(repr(v) for v in value) or "(none)"
    return "(unused)" if value is None else str(value)


def differences(old: Settings, new: Settings, ignore: tuple[str, ...] = ()) -> list[str]:
    """The options in which ``new`` differs from ``old``, as ``--option OLD (this run: NEW)``."""
    found = []
    for key in OPTION_NAMES:
        if key in ignore or key in LOCATION:
            continue
        before, after = getattr(old, key), getattr(new, key)
        if before != after:
            found.append(f"{OPTION_NAMES[key]} {_show(before)} (this run: {_show(after)})")
    return found


def _json_number(value: int | Fraction | None) -> int | str | None:
    """An int as is, a Fraction as ``"num/den"`` (JSON has no exact fractions)."""
    return value if value is None or isinstance(value, int) else str(value)


def describe_dataset(settings: Settings, complete: bool, counts: dict[str, Any] | None
                     ) -> dict[str, Any]:
    """The content of ``dataset.json`` for a dataset made with ``settings``.

    Args:
        settings: the settings.
        complete: whether every file of the run has been processed.
        counts: ``{"utterances": ..., "failures": ..., "hours": ...}``, or None
            while the run is in progress.
    """
    spec = settings.feature_spec
    frontend = settings.build_frontend()
    return {
        "format": "seqdown-dataset",
        "format_version": 1,
        "complete": complete,
        "settings": settings.to_dict(),
        "resampling": {"op": "seqdown.Resample", **RESAMPLING,
                       "sample_rate": settings.sample_rate},
        "features": spec.describe(),
        "frontend": {
            "spec": settings.frontend,
            "factor": _json_number(frontend.factor),
            "receptive_field": frontend.receptive_field,
            "min_length": frontend.min_length,
            "frame_rate": float(settings.output_frame_rate()),
        },
        "sharding": "an utterance goes to shard int(sha256(key).hexdigest()[:16], 16) % "
                    "num_shards",
        "counts": counts,
        "versions": {
            "seqdown": __version__, "torch": torch.__version__,
            "torchaudio": torchaudio.__version__, "numpy": np.__version__,
            "soundfile": soundfile.__version__, "libsndfile": soundfile.__libsndfile_version__,
        },
    }


def read_dataset_file(folder: str | os.PathLike[str]) -> tuple[dict[str, Any], Settings] | None:
    """Reads ``folder/dataset.json``; None when there is none.

    Raises:
        ValueError: the file exists but is not a seqdown ``dataset.json``.
    """
    path = Path(folder) / DATASET_FILE
    if not path.exists():
        return None
    try:
        description = json.loads(path.read_text(encoding="utf-8"))
        if description.get("format") != "seqdown-dataset":
            raise ValueError("no 'format': 'seqdown-dataset' entry")
        return description, Settings.from_dict(description["settings"])
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{os.fspath(path)!r} is not a seqdown dataset.json: {error}") from None

"""Speech features of a waveform that arrives in blocks: waveform, log-mel or MFCC.

The transforms are torchaudio's, with its defaults for everything not named:
``Spectrogram`` (periodic Hann window of ``win_length = n_fft`` samples, power
2, frames centred on ``t * hop_length`` with reflect padding of ``n_fft // 2``
at both ends), ``MelScale`` (HTK scale, 0 Hz to Nyquist, no filter
normalisation), then

* ``logmel``: ``ln(mel_power + 1e-6)`` (:data:`LOG_FLOOR`), ``(n_mels, frames)``;
* ``mfcc``: the orthonormal DCT-II of the log-mels, keeping ``n_mfcc``
  coefficients, ``(n_mfcc, frames)``: torchaudio's ``MFCC(log_mels=True)``;
* ``wave``: the waveform itself, ``(1, samples)`` per audio channel.

The number of frames of ``n`` samples is :func:`stft_frames`, the rule of
``torch.stft(center=True)``; nothing else in seqdown writes it.

Streaming: :class:`FeatureExtractor` computes each frame as soon as its
``n_fft`` samples have arrived and drops the samples no later frame needs, so
its working memory is one block plus ``n_fft`` samples per channel, besides the
features themselves (``channels * n_mels * frames`` float32). The frames are the
ones the one-shot transform gives (the same products; the tests check them
against ``torchaudio.transforms.MelSpectrogram`` and ``MFCC``).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Any

import torch
from torch import Tensor

from seqdown._lazy import missing_extra

try:
    import torchaudio
except ImportError as error:  # pragma: no cover - exercised by tests/test_extras.py
    raise missing_extra("torchaudio", "dataset", error) from error

from seqdown._validation import check_choice, check_finite_number, check_positive_int
from seqdown.dataset.audio import TooShort
from seqdown.dataset.options import (
    DEFAULT_HOP_MS,
    DEFAULT_N_MELS,
    DEFAULT_N_MFCC,
    DEFAULT_WIN_MS,
    FEATURE_KINDS,
    FeatureKind,
)
from seqdown.lengths import stft_frames

__all__ = [
    "LOG_FLOOR",
    "FeatureExtractor",
    "FeatureSpec",
    "compute_features",
    "stft_frames",
]

#: Added to the mel power before the natural log, so that silence gives ln(1e-6), not -inf.
LOG_FLOOR = 1e-6


def _milliseconds_to_samples(name: str, milliseconds: float, sample_rate: int) -> int:
    """``milliseconds`` at ``sample_rate``, rounded to the nearest sample (halves up)."""
    exact = Fraction(repr(float(milliseconds))) * sample_rate / 1000
    samples = int(exact + Fraction(1, 2))
    if samples < 1:
        raise ValueError(f"{name} must be at least one sample at {sample_rate} Hz, "
                         f"got {milliseconds} ms")
    return samples


@dataclass(frozen=True)
class FeatureSpec:
    """What features to compute, at which sample rate.

    Args:
        kind: ``"wave"``, ``"logmel"`` or ``"mfcc"``.
        sample_rate: rate of the waveform in Hz.
        n_mels: mel bands (logmel, mfcc).
        n_mfcc: cepstral coefficients kept (mfcc; at most ``n_mels``).
        win_ms: analysis window in ms; ``n_fft = win_length`` is it in samples.
        hop_ms: step between frames in ms (``hop_length`` in samples).

    Raises:
        ValueError: an unknown kind, a non-positive size, or ``n_mfcc > n_mels``.
    """

    kind: FeatureKind
    sample_rate: int
    n_mels: int = DEFAULT_N_MELS
    n_mfcc: int = DEFAULT_N_MFCC
    win_ms: float = DEFAULT_WIN_MS
    hop_ms: float = DEFAULT_HOP_MS

    def __post_init__(self) -> None:
        check_choice("features", self.kind, FEATURE_KINDS)
        check_positive_int("sample_rate", self.sample_rate)
        check_positive_int("n_mels", self.n_mels)
        check_positive_int("n_mfcc", self.n_mfcc)
        check_finite_number("win_ms", self.win_ms, 0.0)
        check_finite_number("hop_ms", self.hop_ms, 0.0)
        if self.kind == "mfcc" and self.n_mfcc > self.n_mels:
            raise ValueError(f"n_mfcc must be <= n_mels ({self.n_mels}), got {self.n_mfcc}")
        if self.kind != "wave" and self.n_fft < 2:
            raise ValueError(f"win_ms must give at least 2 samples at {self.sample_rate} Hz, "
                             f"got {self.win_ms} ms")
        # Sizes in samples are checked here so that a bad spec fails when it is made.
        _ = self.hop_length

    @property
    def n_fft(self) -> int:
        """Window length in samples (also the FFT size)."""
        return _milliseconds_to_samples("win_ms", self.win_ms, self.sample_rate)

    @property
    def hop_length(self) -> int:
        """Step between frames in samples."""
        return _milliseconds_to_samples("hop_ms", self.hop_ms, self.sample_rate)

    @property
    def frame_rate(self) -> Fraction:
        """Feature steps per second: the sample rate for ``wave``, else ``sample_rate / hop``."""
        if self.kind == "wave":
            return Fraction(self.sample_rate)
        return Fraction(self.sample_rate, self.hop_length)

    def channels(self, audio_channels: int) -> int:
        """Rows of the array for ``audio_channels`` channels (stacked channel by channel)."""
        per_channel = {"wave": 1, "logmel": self.n_mels, "mfcc": self.n_mfcc}[self.kind]
        return audio_channels * per_channel

    def frames(self, samples: int) -> int:
        """Feature steps of ``samples`` samples (:func:`stft_frames`, or ``samples`` for wave)."""
        if self.kind == "wave":
            return samples
        return stft_frames(samples, self.n_fft, self.hop_length)

    @property
    def frame_rule(self) -> str:
        """:meth:`frames` in words, with this spec's numbers (for manifests).

        Example:
            >>> FeatureSpec("logmel", 16000).frame_rule  # frame t is centred on sample t * 160
            'centred STFT: feature_frames = 1 + num_samples // 160'
        """
        if self.kind == "wave":
            return "waveform: feature_frames = num_samples"
        hop = self.hop_length
        # stft_frames, padding n_fft // 2 on each side: 1 + (n + 2 * (n_fft // 2) - n_fft) // hop.
        samples = "num_samples" if self.n_fft % 2 == 0 else "(num_samples - 1)"
        return f"centred STFT: feature_frames = 1 + {samples} // {hop}"

    @property
    def min_samples(self) -> int:
        """Fewest samples that give one feature step."""
        return 1 if self.kind == "wave" else self.n_fft // 2 + 1

    def describe(self) -> dict[str, Any]:
        """The parameters, for ``dataset.json``."""
        if self.kind == "wave":
            return {"kind": "wave", "frame_rate": float(self.frame_rate),
                    "frames": "samples of the resampled waveform"}
        description: dict[str, Any] = {
            "kind": self.kind, "n_mels": self.n_mels, "n_fft": self.n_fft,
            "win_length": self.n_fft, "hop_length": self.hop_length,
            "frame_rate": float(self.frame_rate), "window": "hann (periodic)", "power": 2.0,
            "center": True, "pad_mode": "reflect", "f_min": 0.0,
            "f_max": self.sample_rate / 2, "mel_scale": "htk", "mel_norm": None,
            "log": f"natural log of (mel power + {LOG_FLOOR})",
            "frames": "1 + (samples + 2 * (n_fft // 2) - n_fft) // hop_length",
        }
        if self.kind == "mfcc":
            description["n_mfcc"] = self.n_mfcc
            description["dct"] = "type II, orthonormal, of the log-mels"
        return description


@lru_cache(maxsize=8)
def _transforms(spec: FeatureSpec) -> tuple[torch.nn.Module, torch.nn.Module, Tensor | None]:
    """Spectrogram (without its own padding), MelScale and DCT matrix for ``spec``."""
    spectrogram = torchaudio.transforms.Spectrogram(
        n_fft=spec.n_fft, hop_length=spec.hop_length, center=False, power=2.0)
    mel = torchaudio.transforms.MelScale(n_mels=spec.n_mels, sample_rate=spec.sample_rate,
                                         n_stft=spec.n_fft // 2 + 1)
    dct = None
    if spec.kind == "mfcc":
        dct = torchaudio.functional.create_dct(spec.n_mfcc, spec.n_mels, norm="ortho")
    return spectrogram, mel, dct


class FeatureExtractor:
    """Computes the features of ``(channels, time)`` audio given block by block.

    Args:
        spec: the features; blocks must be at ``spec.sample_rate``.

    Call :meth:`push` with each block, then :meth:`finish` once.

    Example:
        >>> spec = FeatureSpec("logmel", 16000)
        >>> extractor = FeatureExtractor(spec)
        >>> for block in torch.randn(1, 16000).split(3000, dim=1):
        ...     extractor.push(block)
        >>> extractor.finish().shape  # (n_mels, stft_frames(16000, 400, 160))
        torch.Size([80, 101])
    """

    def __init__(self, spec: FeatureSpec) -> None:
        self.spec = spec
        self.samples = 0  # samples per channel received
        self._head: list[Tensor] = []  # the first samples, until the left padding can be made
        self._buffer: Tensor | None = None  # padded signal from _offset on
        self._offset = 0
        self._next = 0  # index of the next frame to compute
        self._outputs: list[Tensor] = []
        self._finished = False

    def push(self, block: Tensor) -> None:
        """Takes the next ``(channels, n)`` float32 block.

        Raises:
            RuntimeError: after :meth:`finish`.
        """
        if self._finished:
            raise RuntimeError("push() called after finish(); make a new FeatureExtractor")
        if block.dim() != 2:
            raise ValueError(f"block must have shape (channels, time), got {tuple(block.shape)}")
        if not block.shape[1]:
            return
        self.samples += block.shape[1]
        if self.spec.kind == "wave":
            self._outputs.append(block)
            return
        if self._buffer is None:
            self._head.append(block)
            pad = self.spec.n_fft // 2
            if self.samples <= pad:
                return
            start = torch.cat(self._head, dim=1)
            self._head = []
            # torch.stft's reflect padding: x[pad], ..., x[1] before x[0].
            self._buffer = torch.cat([start[:, 1:pad + 1].flip(1), start], dim=1)
        else:
            self._buffer = torch.cat([self._buffer, block], dim=1)
        self._compute(keep=self.spec.n_fft // 2 + 1)

    def finish(self) -> Tensor:
        """Returns the features, ``(spec.channels(channels), spec.frames(samples))`` float32.

        Raises:
            TooShort: fewer than ``spec.min_samples`` samples.
        """
        if self._finished:
            raise RuntimeError("finish() called twice; make a new FeatureExtractor")
        self._finished = True
        if self.spec.kind != "wave":
            if self._buffer is None:
                raise TooShort(
                    f"{self.samples} samples at {self.spec.sample_rate} Hz, but {self.spec.kind} "
                    f"with a {self.spec.win_ms} ms window needs at least {self.spec.min_samples}")
            pad = self.spec.n_fft // 2
            # Reflect padding at the end: x[n - 2], ..., x[n - 1 - pad] after x[n - 1].
            tail = self._buffer[:, self._buffer.shape[1] - pad - 1:-1].flip(1)
            self._buffer = torch.cat([self._buffer, tail], dim=1)
            self._compute(keep=0)
        features = torch.cat(self._outputs, dim=1)
        self._outputs = []
        expected = self.spec.frames(self.samples)
        if features.shape[1] != expected:  # pragma: no cover - a bug, not bad input
            raise RuntimeError(f"computed {features.shape[1]} frames for {self.samples} "
                               f"samples, but stft_frames gives {expected}")
        return features

    def _compute(self, keep: int) -> None:
        """Computes every frame whose samples are all here; keeps ``keep`` samples for the end."""
        assert self._buffer is not None, "_compute runs after the first block"  # invariant
        n_fft, hop = self.spec.n_fft, self.spec.hop_length
        end = self._offset + self._buffer.shape[1]
        count = (end - n_fft) // hop + 1 - self._next if end >= n_fft else 0
        if count > 0:
            start = self._next * hop - self._offset
            segment = self._buffer[:, start:start + (count - 1) * hop + n_fft]
            self._outputs.append(self._frames(segment))
            self._next += count
        drop = min(self._next * hop, end - keep) - self._offset
        if drop > 0:
            self._buffer = self._buffer[:, drop:]
            self._offset += drop

    def _frames(self, segment: Tensor) -> Tensor:
        """Features of the frames that tile ``segment`` (already padded)."""
        spectrogram, mel, dct = _transforms(self.spec)
        features = torch.log(mel(spectrogram(segment)) + LOG_FLOOR)  # (channels, n_mels, frames)
        if dct is not None:
            features = torch.matmul(features.transpose(-1, -2), dct).transpose(-1, -2)
        return features.reshape(-1, features.shape[-1])


def compute_features(waveform: Tensor, spec: FeatureSpec) -> Tensor:
    """The features of a whole ``(channels, time)`` waveform at ``spec.sample_rate``.

    Returns:
        ``(spec.channels(channels), spec.frames(time))`` float32.

    Raises:
        TooShort: ``time < spec.min_samples``.
    """
    extractor = FeatureExtractor(spec)
    extractor.push(waveform)
    return extractor.finish()

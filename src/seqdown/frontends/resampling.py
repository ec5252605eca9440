"""Anti-aliased integer decimation and rational resampling.

Both run a linear-phase low-pass designed from a spec (:func:`design_lowpass`)
through the polyphase engine (:mod:`seqdown.dsp.polyphase`): zero delay, zero
outside the signal, and the same numbers as ``scipy.signal.resample_poly(x, up,
down, window=design_lowpass(up, down, ...))``.

Defaults:

* ``Decimate`` / ``decimate`` suit short feature sequences: 60 dB with the
  passband flat to half the output Nyquist frequency. Taps for factor 2, 3, 4,
  5, 6 and 8: 31, 47, 61, 77, 91, 123 (:data:`seqdown.dsp.filters.DECIMATE_DEFAULT_TAPS`).
* ``Resample`` / ``resample`` suit waveforms: 100 dB of alias rejection with
  the passband flat to 0.9 of the output Nyquist frequency.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import torch
from torch import Tensor

from seqdown._validation import check_positive_int, check_waveform, is_tracing
from seqdown.dsp.filters import (
    DECIMATE_ATTENUATION,
    DECIMATE_TRANSITION,
    RESAMPLE_ATTENUATION,
    RESAMPLE_TRANSITION,
    design_lowpass,
)
from seqdown.dsp.polyphase import apply_kernel, rate_ratio, resampling_kernel
from seqdown.frontends.base import FrontEnd, require_steps
from seqdown.frontends.direct import direct_resample, direct_weight
from seqdown.frontends.streaming import StreamGeometry
from seqdown.lengths import Length, causal_delay, resample_length

__all__ = [
    "Decimate",
    "Resample",
    "decimate",
    "resample",
]

def decimate(x: Tensor, factor: int, *, attenuation: float = DECIMATE_ATTENUATION,
             transition: float = DECIMATE_TRANSITION) -> Tensor:
    """Low-pass filters ``x`` and keeps every ``factor``-th step, with zero delay.

    Equals ``scipy.signal.resample_poly(x, 1, factor, axis=-1, window=taps)`` with
    ``taps = design_lowpass(1, factor, attenuation=attenuation, transition=transition)``.

    Args:
        x: ``(..., time)`` floating-point tensor, any device.
        factor: integer decimation factor (1 returns a copy).
        attenuation: dB of rejection for everything at or above the output
            Nyquist frequency, and passband flatness.
        transition: fraction of the output Nyquist frequency given to the
            transition band; the gain is flat below ``1 - transition`` of it.

    Returns:
        ``(..., resample_length(time, 1, factor))`` = ``(..., ceil(time / factor))``,
        same dtype (half precision is filtered in float32). Differentiable.

    Raises:
        TypeError: ``x`` is not a real floating-point tensor, ``factor`` not an int.
        ValueError: ``factor`` < 1, ``attenuation``/``transition`` out of range, or
            ``x`` has no time step (as :class:`Decimate` without lengths).

    Example:
        >>> t = torch.arange(16000) / 16000
        >>> y = decimate(torch.sin(2 * math.pi * 7000 * t), 4)  # 7 kHz > 2 kHz Nyquist
        >>> y.shape, bool(y[100:-100].abs().max() < 1e-3)
        (torch.Size([4000]), True)
    """
    check_waveform(x)
    factor = check_positive_int("factor", factor)
    kernel = resampling_kernel(1, factor, attenuation, transition)
    require_steps("decimate", x.shape[-1], lambda n: resample_length(n, 1, factor))
    return apply_kernel(x, kernel)


def resample(x: Tensor, orig_freq: int, new_freq: int, *,
             attenuation: float = RESAMPLE_ATTENUATION,
             transition: float = RESAMPLE_TRANSITION) -> Tensor:
    """Resamples ``x`` from ``orig_freq`` to ``new_freq`` with an anti-aliasing low-pass.

    Equals ``scipy.signal.resample_poly(x, up, down, axis=-1, window=taps)`` with
    ``up / down = new_freq / orig_freq`` reduced and
    ``taps = design_lowpass(up, down, attenuation=attenuation, transition=transition)``.
    The stopband starts at the lower of the two Nyquist frequencies, so this both
    downsamples (44100 -> 16000) and upsamples (8000 -> 16000).

    Args:
        x: ``(..., time)`` floating-point tensor, any device.
        orig_freq: input sample rate in Hz (a positive integer).
        new_freq: output sample rate in Hz (a positive integer).
        attenuation: dB of alias (or image) rejection and passband flatness.
        transition: fraction of the lower Nyquist frequency given to the
            transition band.

    Returns:
        ``(..., resample_length(time, up, down))`` = ``(..., ceil(time * up / down))``,
        same dtype. Differentiable.

    Raises:
        TypeError: ``x`` is not a real floating-point tensor, or a rate not an int.
        ValueError: a rate < 1, ``attenuation``/``transition`` out of range, or ``x``
            has no time step (as :class:`Resample` without lengths).

    Example:
        >>> resample(torch.randn(2, 44100), 44100, 16000).shape
        torch.Size([2, 16000])
    """
    check_waveform(x)
    up, down = rate_ratio(orig_freq, new_freq)
    kernel = resampling_kernel(up, down, attenuation, transition)
    require_steps("resample", x.shape[-1], lambda n: resample_length(n, up, down))
    return apply_kernel(x, kernel)


class _Polyphase(FrontEnd):
    """Shared body of Decimate and Resample: one cached polyphase kernel."""

    weight: Tensor
    traced_weight: Tensor

    def __init__(self, up: int, down: int, attenuation: float, transition: float,
                 causal: bool = False) -> None:
        super().__init__()
        self.attenuation = float(attenuation)
        self.transition = float(transition)
        self.causal = bool(causal)
        self.kernel = resampling_kernel(up, down, self.attenuation, self.transition)
        self.register_buffer("weight", torch.tensor(self.kernel.weight), persistent=False)
        # Streaming and tracing see only the filter and the ratio, not the engine.
        self.ratio = (up, down)
        taps = self.taps
        self.register_buffer("traced_weight", direct_weight(taps, up), persistent=False)
        half = (taps.size - 1) // 2
        self._geometry = StreamGeometry(up, down, half, taps.size,
                                        causal_delay(half, taps.size) if self.causal else 0)

    @property
    def stream_geometry(self) -> StreamGeometry:
        return self._geometry

    @property
    def taps(self) -> np.ndarray:
        """The low-pass filter, as :func:`design_lowpass` returns it."""
        return design_lowpass(self.kernel.up, self.kernel.down, attenuation=self.attenuation,
                              transition=self.transition)

    @property
    def receptive_field(self) -> int:
        return self.kernel.span

    def output_length(self, n: Length) -> Length:
        return resample_length(n, self.kernel.up, self.kernel.down)

    def _shorten(self, x: Tensor) -> Tensor:
        if is_tracing():  # torch.export, ONNX, torch.compile: see seqdown.frontends.direct
            return direct_resample(x, self.traced_weight, *self.ratio)
        return apply_kernel(x, self.kernel, self.weight)


class Decimate(_Polyphase):
    """Anti-aliased integer decimation of ``(batch, channels, time)`` sequences.

    A linear-phase Kaiser low-pass designed from ``attenuation`` and
    ``transition`` (:func:`design_lowpass` ``(1, factor)``), then every
    ``factor``-th step, time-aligned. Tones at or above the output Nyquist
    frequency come out at least ``attenuation`` dB down; below
    ``1 - transition`` of it the gain deviates from 1 by at most
    ``10 ** (-attenuation / 20)``. The defaults (60 dB, half the output band
    flat) keep the filter short for feature sequences; see
    :data:`seqdown.dsp.filters.DECIMATE_DEFAULT_TAPS` for the tap counts.

    Args:
        factor: integer decimation factor.
        attenuation: stopband attenuation and passband flatness in dB.
        transition: transition band as a fraction of the output Nyquist frequency.
        causal: delay the input by ``delay = (taps - 1) // 2`` zeros (15 for the default
            factor 2), so that output step ``t`` depends on no input after ``t * factor``
            (``lookahead`` 0); the length law stays ``ceil(time / factor)``, so the
            last ``delay`` input steps reach the output only partly.

    Shape:
        - x: ``(batch, channels, time)``; lengths: ``(batch,)`` or None.
        - y: ``(batch, channels, ceil(time / factor))`` (:func:`resample_length`).

    The filter is a non-persistent buffer (moves with ``.to()``, not saved);
    autograd works; half precision is filtered in float32.

    Example:
        >>> y, out = Decimate(2)(torch.randn(2, 80, 7), torch.tensor([7, 3]))
        >>> y.shape, out.tolist()
        (torch.Size([2, 80, 4]), [4, 2])
    """

    def __init__(self, factor: int, attenuation: float = DECIMATE_ATTENUATION,
                 transition: float = DECIMATE_TRANSITION, causal: bool = False) -> None:
        factor = check_positive_int("factor", factor)
        super().__init__(1, factor, attenuation, transition, causal)

    @property
    def factor(self) -> int:
        return self.kernel.down


class Resample(_Polyphase):
    """Rational resampling of ``(batch, channels, time)`` with an anti-aliasing low-pass.

    ``factor`` is the downsampling ratio ``Fraction(orig_freq, new_freq)``
    (reduced): 441/160 for 44100 -> 16000, 1/2 for 8000 -> 16000. The stopband
    starts at the lower of the input and output Nyquist frequencies; the
    defaults give at least 100 dB of rejection there with the passband flat to
    0.9 of it.

    Args:
        orig_freq: input sample rate (positive int).
        new_freq: output sample rate (positive int).
        attenuation: stopband attenuation and passband flatness in dB.
        transition: transition band as a fraction of the lower Nyquist frequency.

    Shape:
        - x: ``(batch, channels, time)``; lengths: ``(batch,)`` or None.
        - y: ``(batch, channels, ceil(time * new / orig))`` (:func:`resample_length`).

    Example:
        >>> Resample(44100, 16000)(torch.randn(1, 2, 44100))[0].shape
        torch.Size([1, 2, 16000])
    """

    def __init__(self, orig_freq: int, new_freq: int,
                 attenuation: float = RESAMPLE_ATTENUATION,
                 transition: float = RESAMPLE_TRANSITION) -> None:
        up, down = rate_ratio(orig_freq, new_freq)
        super().__init__(up, down, attenuation, transition)
        self.orig_freq, self.new_freq = int(orig_freq), int(new_freq)

    @property
    def factor(self) -> Fraction:
        return Fraction(self.kernel.down, self.kernel.up)

    def extra_repr(self) -> str:
        return f"orig_freq={self.orig_freq}, new_freq={self.new_freq}, " + super().extra_repr()

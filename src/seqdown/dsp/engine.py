"""One resampling plan per spec, and the path that runs it: exact polyphase or FFT.

Two engines compute the same low-pass resampling:

* ``"direct"``: the exact polyphase ``conv1d`` of :mod:`seqdown.dsp.polyphase`
  with :func:`~seqdown.dsp.filters.design_lowpass` taps, the same numbers as
  ``scipy.signal.resample_poly(x, up, down, window=taps)``. Its kernel grows with
  ``up * down`` and its cost with the filter length, so it serves short filters
  at small ratios (the ``Decimate`` default on feature sequences).
* ``"fft"``: overlap-save (:mod:`seqdown.dsp.overlap_save`) with the
  :func:`~seqdown.dsp.filters.design_sinc` filter at the input rate. Its cost
  does not grow with the filter length and its memory does not grow with
  ``up * down``: any pair of rates up to 768 kHz. It equals ``resample_poly``
  with ``design_sinc(...).taps(up)`` up to the filter's stopband level (the
  spectrum bins it drops; see :func:`fft_error_bound`), and for ``up == 1`` its
  filter is exactly the ``design_lowpass`` one.

``"auto"`` picks ``"direct"`` when the filter is short (at most
:data:`DIRECT_MAX_TAPS` taps at the input rate) and its polyphase kernel small
(:data:`DIRECT_MAX_KERNEL` values), else ``"fft"``. Plans are cached per spec
in each process; designing one takes about a millisecond for any ratio (the
``"direct"`` design at the full rate is only made for small ``up * down``), so
worker processes need no shared cache.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, get_args

import numpy as np
import torch
from torch import Tensor

from seqdown._validation import check_choice, check_finite_number, check_positive_int
from seqdown.dsp.filters import design_lowpass, design_sinc, kaiser_spec
from seqdown.dsp.overlap_save import OverlapSavePlan, overlap_save, overlap_save_plan
from seqdown.dsp.padding import background, check_padtype
from seqdown.dsp.polyphase import PolyphaseKernel, polyphase_kernel, polyphase_resample

__all__ = [
    "DIRECT_MAX_KERNEL",
    "DIRECT_MAX_TAPS",
    "METHODS",
    "Method",
    "ResamplingPlan",
    "compute_dtype",
    "fft_error_bound",
    "plan_buffer",
    "resample_rows",
    "resampling_plan",
]

Method = Literal["auto", "direct", "fft"]
METHODS: tuple[str, ...] = get_args(Method)
#: ``"auto"`` runs the exact polyphase path for filters of at most this many taps at the
#: input rate (every ``Decimate`` default, ``Upsample``'s sinc filters up to 100 dB). It
#: is exact, and the fastest on feature batches (depthwise); on long waveforms the FFT
#: path is faster at every filter length (measured on 2 AVX-512 cores, 8 x 10 s).
DIRECT_MAX_TAPS = 144
#: ... whose polyphase kernel has at most this many values (8 MiB in float64).
DIRECT_MAX_KERNEL = 1 << 20
#: ``method="direct"`` is refused beyond this many kernel values (64 MiB in float64).
_DIRECT_LIMIT = 1 << 23


@dataclass(frozen=True)
class ResamplingPlan:
    """A resampling by ``up / down`` laid out for one engine.

    Attributes:
        up: upsampling factor (coprime with ``down``).
        down: downsampling factor.
        attenuation: stopband attenuation and passband flatness in dB.
        transition: transition band as a fraction of the lower Nyquist frequency.
        method: ``"direct"`` or ``"fft"``.
        kernel: the polyphase layout (``"direct"``), else None.
        fft: the overlap-save layout (``"fft"``), else None.
    """

    up: int
    down: int
    attenuation: float
    transition: float
    method: Literal["direct", "fft"]
    kernel: PolyphaseKernel | None
    fft: OverlapSavePlan | None

    @property
    def span(self) -> int:
        """The largest number of input steps one output step depends on."""
        if self.kernel is not None:
            return self.kernel.span
        assert self.fft is not None
        return 2 * self.fft.half + 1

    @property
    def nbytes(self) -> int:
        """Bytes of the plan's arrays (the kernel or the filter's spectrum)."""
        if self.kernel is not None:
            return int(self.kernel.weight.nbytes)
        assert self.fft is not None
        return int(self.fft.response.nbytes)

    def taps(self) -> np.ndarray:
        """The filter at ``up`` times the input rate, as ``resample_poly``'s ``window``.

        ``"direct"``: exactly the taps it runs (:func:`design_lowpass`); ``"fft"``:
        ``design_sinc(...).taps(up)``, which it matches up to :func:`fft_error_bound`.
        """
        if self.method == "direct":
            return design_lowpass(self.up, self.down, attenuation=self.attenuation,
                                  transition=self.transition)
        return design_sinc(self.up, self.down, attenuation=self.attenuation,
                           transition=self.transition).taps(self.up)


def _direct_kernel_size(up: int, down: int, attenuation: float, transition: float) -> int:
    """Kaiser's estimate of the polyphase kernel's values (before the design's margin)."""
    stop = 0.5 / max(up, down)
    numtaps, _ = kaiser_spec(attenuation, transition * stop)
    # up phases, each reading about numtaps / up + down inputs (polyphase_kernel's layout).
    return up * (numtaps // up + 2 * down)


@lru_cache(maxsize=128)
def _plan(up: int, down: int, attenuation: float, transition: float,
          method: str) -> ResamplingPlan:
    if method == "auto":
        design = design_sinc(up, down, attenuation=attenuation, transition=transition)
        short = 2 * design.half_width + 1 <= DIRECT_MAX_TAPS
        small = _direct_kernel_size(up, down, attenuation, transition) <= DIRECT_MAX_KERNEL
        method = "direct" if short and small else "fft"
    if method == "direct":
        values = _direct_kernel_size(up, down, attenuation, transition)
        if values > _DIRECT_LIMIT:
            raise ValueError(
                f"method='direct' for up={up}, down={down} needs a polyphase kernel of about "
                f"{values * 8 / 2**20:.0f} MiB; use method='fft' (or 'auto') for this ratio")
        taps = design_lowpass(up, down, attenuation=attenuation, transition=transition)
        return ResamplingPlan(up, down, attenuation, transition, "direct",
                              polyphase_kernel(taps, up, down), None)
    design = design_sinc(up, down, attenuation=attenuation, transition=transition)
    return ResamplingPlan(up, down, attenuation, transition, "fft", None,
                          overlap_save_plan(design.taps(), up, down))


def resampling_plan(up: int, down: int, attenuation: float, transition: float,
                    method: str = "auto") -> ResamplingPlan:
    """The cached plan for resampling by ``up / down`` with a spec.

    Args:
        up: upsampling factor; ``up`` and ``down`` are reduced by their gcd.
        down: downsampling factor.
        attenuation: stopband attenuation and passband flatness in dB.
        transition: transition band as a fraction of the lower Nyquist frequency.
        method: ``"auto"``, ``"direct"`` or ``"fft"`` (see the module notes).

    Raises:
        TypeError, ValueError: a bad factor, spec or method; ``"direct"`` for a
            ratio whose kernel would exceed 64 MiB.

    Example:
        >>> resampling_plan(1, 2, 60.0, 0.5).method, resampling_plan(160, 441, 120.0, 0.1).method
        ('direct', 'fft')
    """
    up = check_positive_int("up", up)
    down = check_positive_int("down", down)
    attenuation = check_finite_number("attenuation", attenuation, 10.0, 300.0)
    transition = check_finite_number("transition", transition, 0.0, 1.0)
    method = check_choice("method", method, METHODS)
    common = math.gcd(up, down)
    return _plan(up // common, down // common, attenuation, transition, method)


def fft_error_bound(attenuation: float) -> float:
    """Bound on ``|fft - resample_poly(x, window=plan.taps())|`` per unit RMS of ``x``.

    The FFT path drops the spectrum bins above the lower Nyquist frequency,
    where the filter's gain is at most ``10 ** (-attenuation / 20)``; the
    difference is that stopband content. For white noise (the worst case: its
    power is spread over every bin) it stays within 4 times that gain times the
    RMS of the input (measured on every ratio of the tests). With a ``padtype``
    other than ``"constant"``, the RMS is that of the input with its extension
    over the filter's support (a steep ``"smooth"`` continuation adds to it).
    """
    return 4.0 * 10.0 ** (-attenuation / 20.0)


def compute_dtype(x: Tensor) -> torch.dtype:
    """The dtype ``x`` is filtered in: float32 for half precision (long filters lose too
    much in 16 bits), else ``x``'s own."""
    return torch.float32 if x.dtype in (torch.float16, torch.bfloat16) else x.dtype


def plan_buffer(plan: ResamplingPlan) -> Tensor:
    """The plan's array as a real float64 tensor, for a Module's buffer.

    ``"direct"``: the polyphase weight; ``"fft"``: the filter's spectrum as
    ``(bins, 2)`` real and imaginary parts (a real buffer follows ``Module.to``).
    """
    if plan.kernel is not None:
        return torch.tensor(plan.kernel.weight)
    assert plan.fft is not None
    return torch.view_as_real(torch.tensor(plan.fft.response))


def _run(rows: Tensor, plan: ResamplingPlan, padtype: str, buffer: Tensor | None) -> Tensor:
    if plan.kernel is not None:
        weight = None if buffer is None else buffer.to(device=rows.device, dtype=rows.dtype)
        return polyphase_resample(rows, plan.kernel, weight, padtype)
    assert plan.fft is not None
    response = None
    if buffer is not None:
        response = torch.view_as_complex(buffer.to(device=rows.device, dtype=rows.dtype))
    return overlap_save(rows, plan.fft, padtype, response)


def resample_rows(x: Tensor, plan: ResamplingPlan, padtype: str = "constant",
                  buffer: Tensor | None = None) -> Tensor:
    """Resamples ``(..., time)`` along the last axis with ``plan``, keeping ``x``'s dtype.

    Args:
        x: ``(..., time)`` floating-point tensor, any device.
        plan: from :func:`resampling_plan`.
        padtype: one of :data:`seqdown.dsp.padding.PADTYPES`.
        buffer: :func:`plan_buffer` of ``plan`` (a Module's cached copy), or None.

    Returns:
        ``(..., resample_length(time, up, down))``; a copy of ``x`` when the ratio
        is 1. Half precision is computed in float32. Differentiable.
    """
    padtype = check_padtype(padtype)
    if plan.up == plan.down == 1:
        return x.clone()
    compute = compute_dtype(x)
    rows = x.reshape(math.prod(x.shape[:-1]), x.shape[-1]).to(compute)
    level = background(rows, padtype)
    y = _run(rows if level is None else rows - level, plan, padtype, buffer)
    if level is not None:
        y = y + level
    return y.reshape(*x.shape[:-1], y.shape[-1]).to(x.dtype)

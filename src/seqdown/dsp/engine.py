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

* ``"table"``: the same filter finely tabulated and interpolated
  (:mod:`seqdown.dsp.table`), where the FFT blocks would get large: ``down``
  above :data:`FFT_MAX_DOWN` (rates above 65.5 kHz with a nearly coprime
  partner) or output blocks above :data:`FFT_MAX_OUT` (huge ``up``).
* ``"cascade"``: extreme decimation in two stages (:mod:`seqdown.dsp.cascade`),
  each run by one of the engines above: a wide first stage to a multiple of the
  output rate, then the sharp decimation. The same spec, a different filter.

``"auto"`` picks ``"direct"`` when the filter is short (at most
:data:`DIRECT_MAX_TAPS` taps at the input rate) and its polyphase kernel small
(:data:`DIRECT_MAX_KERNEL` values), ``"cascade"`` when one stage would need more
than :data:`~seqdown.dsp.cascade.CASCADE_MIN_TAPS` taps and the ratio is a decimation
by at least 4 (:func:`~seqdown.dsp.cascade.cascade_applies`), else ``"fft"``
(``"table"`` where its blocks would be too large). Plans are cached per spec
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

from seqdown._validation import check_choice, check_length_values, check_positive_int
from seqdown.dsp.cascade import (
    CASCADE_MIN_TAPS,
    CascadeLayout,
    cascade_applies,
    cascade_factor,
    cascade_layout,
    cascade_resample,
    estimated_taps,
    stage_specs,
)
from seqdown.dsp.derived import derived
from seqdown.dsp.filters import SincDesign, check_spec, design_lowpass, design_sinc, kaiser_spec
from seqdown.dsp.overlap_save import OverlapSavePlan, overlap_save_plan, overlap_save_resample
from seqdown.dsp.padding import (
    PadType,
    background,
    check_lengths_padtype,
    check_padtype,
    zero_beyond,
)
from seqdown.dsp.polyphase import PolyphaseKernel, polyphase_kernel, polyphase_resample
from seqdown.dsp.table import TablePlan, table_plan, table_resample
from seqdown.lengths import ceil_div

__all__ = [
    "DIRECT_MAX_KERNEL",
    "DIRECT_MAX_TAPS",
    "FFT_MAX_DOWN",
    "FFT_MAX_OUT",
    "MAX_FILTER_TAPS",
    "METHODS",
    "Method",
    "ResamplingPlan",
    "compute_dtype",
    "fft_error_bound",
    "plan_buffer",
    "resample_rows",
    "resampling_plan",
]

Method = Literal["auto", "direct", "fft", "table", "cascade"]
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
#: The longest filter (taps at the input rate) one stage runs: 8 MiB of float64 taps.
#: Extreme decimation reaches it (768000 Hz -> 100 Hz at the default spec), which
#: ``"auto"`` runs in two stages long before; so does a far stricter spec than the
#: default near a ratio of 1 or in upsampling, which has no second stage to go to.
MAX_FILTER_TAPS = 1 << 20
#: ``"auto"`` runs the FFT path for ``down`` up to this (its blocks are multiples of
#: ``down``; beyond, their FFTs take over 64 MiB) and the tabulated filter above it.
FFT_MAX_DOWN = 1 << 16
#: ... and for output blocks of at most this many samples (huge ``up``, e.g. 1 -> 768000 Hz).
FFT_MAX_OUT = 1 << 20


@dataclass(frozen=True)
class ResamplingPlan:
    """A resampling by ``up / down`` laid out for one engine, or for two stages.

    Attributes:
        up: upsampling factor (coprime with ``down``).
        down: downsampling factor.
        attenuation: stopband attenuation and passband flatness in dB.
        transition: transition band as a fraction of the lower Nyquist frequency.
        method: ``"direct"``, ``"fft"``, ``"table"`` or ``"cascade"``.
        kernel: the polyphase layout (``"direct"``), else None.
        fft: the overlap-save layout (``"fft"``), else None.
        table: the tabulated filter (``"table"``), else None.
        stages: the two single-engine plans (``"cascade"``), else None.
        layout: where the stages read and write (``"cascade"``), else None.
    """

    up: int
    down: int
    attenuation: float
    transition: float
    method: Literal["direct", "fft", "table", "cascade"]
    kernel: PolyphaseKernel | None
    fft: OverlapSavePlan | None
    table: TablePlan | None = None
    stages: tuple[ResamplingPlan, ResamplingPlan] | None = None
    layout: CascadeLayout | None = None

    @property
    def span(self) -> int:
        """The largest number of input steps one output step depends on."""
        if self.kernel is not None:
            return self.kernel.span
        if self.stages is not None:  # stage 2's window, in input samples, plus stage 1's
            first, second = self.stages
            return first.span + ceil_div((second.span - 1) * first.down, first.up)
        half = self.fft.half if self.fft is not None else self._table().half
        return 2 * half + 1

    def _table(self) -> TablePlan:
        assert self.table is not None
        return self.table

    @property
    def nbytes(self) -> int:
        """Bytes of the plan's arrays (the kernel, the filter's spectrum or the table)."""
        if self.kernel is not None:
            return int(self.kernel.weight.nbytes)
        if self.fft is not None:
            return int(self.fft.response.nbytes)
        if self.stages is not None:
            return sum(stage.nbytes for stage in self.stages)
        return int(self._table().table.nbytes)

    def taps(self) -> np.ndarray:
        """The filter at ``up`` times the input rate, as ``resample_poly``'s ``window``.

        ``"direct"``: exactly the taps it runs (:func:`design_lowpass`); ``"fft"`` and
        ``"table"``: ``design_sinc(...).taps(up)``, which they match up to
        :func:`fft_error_bound` (``up`` times the filter span: large for huge ``up``).

        Raises:
            ValueError: a ``"cascade"`` plan: it runs two filters, no single one
                (see :attr:`stages`).
        """
        if self.stages is not None:
            raise ValueError(f"resampling by {self.up}/{self.down} runs in two stages, "
                             "not one filter; see plan.stages for each stage's taps")
        if self.method == "direct":
            return design_lowpass(self.up, self.down, attenuation=self.attenuation,
                                  transition=self.transition)
        return design_sinc(self.up, self.down, attenuation=self.attenuation,
                           transition=self.transition).taps(self.up)


def _fft_fits(up: int, down: int, design: SincDesign) -> bool:
    """Whether the FFT blocks stay small: ``down`` and the output block both bounded."""
    if down > FFT_MAX_DOWN:
        return False
    plan = overlap_save_plan(np.zeros(2 * design.half_width + 1), up, down)
    return plan.out_size <= FFT_MAX_OUT


def _direct_kernel_size(up: int, down: int, attenuation: float, transition: float) -> int:
    """Kaiser's estimate of the polyphase kernel's values (before the design's margin)."""
    stop = 0.5 / max(up, down)
    numtaps, _ = kaiser_spec(attenuation, transition * stop)
    # up phases, each reading about numtaps / up + down inputs (polyphase_kernel's layout).
    return up * (numtaps // up + 2 * down)


def _single(up: int, down: int, attenuation: float, transition: float, method: str,
            numtaps: int) -> ResamplingPlan:
    """The plan of one engine (``method`` other than ``"cascade"``)."""
    if numtaps > MAX_FILTER_TAPS:
        raise ValueError(
            f"resampling by {up}/{down} with attenuation={attenuation} and "
            f"transition={transition} needs a filter of about {numtaps} input samples, "
            f"beyond the {MAX_FILTER_TAPS} that one stage keeps in bounded memory; "
            "use method='auto' or 'cascade' (two stages through an intermediate rate)")
    if method == "auto":
        design = design_sinc(up, down, attenuation=attenuation, transition=transition)
        short = 2 * design.half_width + 1 <= DIRECT_MAX_TAPS
        small = _direct_kernel_size(up, down, attenuation, transition) <= DIRECT_MAX_KERNEL
        method = "direct" if short and small else "fft" if _fft_fits(up, down, design) else "table"
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
    if method == "table":
        return ResamplingPlan(up, down, attenuation, transition, "table", None, None,
                              table_plan(design, up, down, attenuation))
    return ResamplingPlan(up, down, attenuation, transition, "fft", None,
                          overlap_save_plan(design.taps(), up, down))


def _cascade(up: int, down: int, attenuation: float, transition: float) -> ResamplingPlan:
    """Two stages, each on the engine ``"auto"`` picks for it."""
    factor = cascade_factor(up, down, attenuation, transition)  # refuses down < 4 * up
    first_spec, second_spec = stage_specs(attenuation, transition, factor)
    common = math.gcd(up * factor, down)
    up1, down1 = up * factor // common, down // common
    taps = (estimated_taps(up1, down1, *first_spec), estimated_taps(1, factor, *second_spec))
    if max(taps) > MAX_FILTER_TAPS:
        raise ValueError(
            f"resampling by {up}/{down} with attenuation={attenuation} and "
            f"transition={transition} needs, even in two stages, a filter of about "
            f"{max(taps)} input samples, beyond MAX_FILTER_TAPS={MAX_FILTER_TAPS}; widen the "
            "transition or lower the attenuation")
    first = _single(up1, down1, *first_spec, "auto", taps[0])
    second = _single(1, factor, *second_spec, "auto", taps[1])
    layout = cascade_layout(up1, down1, factor, first.span, second.span)
    return ResamplingPlan(up, down, attenuation, transition, "cascade", None, None,
                          stages=(first, second), layout=layout)


@lru_cache(maxsize=128)
def _plan(up: int, down: int, attenuation: float, transition: float,
          method: str) -> ResamplingPlan:
    numtaps = estimated_taps(up, down, attenuation, transition)
    if method == "cascade" or (method == "auto" and numtaps > CASCADE_MIN_TAPS
                               and cascade_applies(up, down)):
        return _cascade(up, down, attenuation, transition)
    return _single(up, down, attenuation, transition, method, numtaps)


def resampling_plan(up: int, down: int, attenuation: float, transition: float,
                    method: str = "auto") -> ResamplingPlan:
    """The cached plan for resampling by ``up / down`` with a spec.

    Args:
        up: upsampling factor; ``up`` and ``down`` are reduced by their gcd.
        down: downsampling factor.
        attenuation: stopband attenuation and passband flatness in dB.
        transition: transition band as a fraction of the lower Nyquist frequency.
        method: one of :data:`METHODS` (see the module notes).

    Raises:
        TypeError, ValueError: a bad factor, spec or method; ``"direct"`` for a
            ratio whose kernel would exceed 64 MiB; one engine asked to run a filter
            longer than :data:`MAX_FILTER_TAPS` input samples (extreme decimation:
            ``"auto"`` runs it in two stages); ``"cascade"`` for ``down < 4 * up``;
            a spec so strict that even a stage of the cascade exceeds the limit.

    Example:
        >>> resampling_plan(1, 2, 60.0, 0.5).method, resampling_plan(160, 441, 120.0, 0.1).method
        ('direct', 'fft')
        >>> plan = resampling_plan(1, 768000, 120.0, 0.1)  # 768 kHz -> 1 Hz
        >>> plan.method, [stage.method for stage in plan.stages], plan.nbytes < 2**20
        ('cascade', ['fft', 'fft'], True)
    """
    up = check_positive_int("up", up)
    down = check_positive_int("down", down)
    attenuation, transition = check_spec(attenuation, transition)
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
    ``(bins, 2)`` real and imaginary parts (a real buffer follows ``Module.to``);
    ``"table"``: the table; ``"cascade"``: both stages' arrays, flattened one
    after the other.
    """
    if plan.stages is not None:
        return torch.cat([plan_buffer(stage).flatten() for stage in plan.stages])
    return torch.tensor(_engine_array(plan))


def _engine_array(plan: ResamplingPlan) -> np.ndarray:
    """The float64 array of a one-engine plan that :func:`plan_buffer` holds."""
    if plan.kernel is not None:
        return plan.kernel.weight
    if plan.fft is not None:  # (bins, 2): the real and imaginary parts
        return plan.fft.response.view(np.float64).reshape(-1, 2)
    return plan._table().table


def _stage_buffers(plan: ResamplingPlan, buffer: Tensor | None) -> list[Tensor | None]:
    """A cascade's :func:`plan_buffer` split back into its stages' buffers."""
    assert plan.stages is not None
    if buffer is None:
        return [None, None]
    shapes = [_engine_array(stage).shape for stage in plan.stages]
    first = math.prod(shapes[0])
    return [buffer[:first].view(shapes[0]), buffer[first:].view(shapes[1])]


def _kernel_weight(buffer: Tensor | None, rows: Tensor) -> Tensor | None:
    """The direct engine's weight from a Module's float64 buffer, in ``rows``' dtype and
    device (kept for the buffer: converted once, and the engine keeps what it derives)."""
    if buffer is None:
        return None
    return derived(buffer, ("as", rows.dtype, rows.device),
                   lambda: buffer.to(device=rows.device, dtype=rows.dtype))


def _run(rows: Tensor, plan: ResamplingPlan, padtype: str, buffer: Tensor | None) -> Tensor:
    if plan.kernel is not None:
        return polyphase_resample(rows, plan.kernel, _kernel_weight(buffer, rows), padtype)
    if plan.fft is not None:
        response = None
        if buffer is not None:
            response = torch.view_as_complex(buffer.to(device=rows.device, dtype=rows.dtype))
        return overlap_save_resample(rows, plan.fft, padtype, response)
    if plan.stages is not None:
        assert plan.layout is not None
        (first, second), (first_buffer, second_buffer) = plan.stages, _stage_buffers(plan, buffer)
        return cascade_resample(rows, plan.layout, plan.up, plan.down, padtype,
                                lambda x, pad: _run(x, first, pad, first_buffer),
                                lambda z, pad: _run(z, second, pad, second_buffer))
    table = None if buffer is None else buffer.to(device=rows.device, dtype=rows.dtype)
    return table_resample(rows, plan._table(), padtype, table)


def resample_rows(x: Tensor, plan: ResamplingPlan, padtype: PadType = "constant",
                  buffer: Tensor | None = None, lengths: Tensor | None = None) -> Tensor:
    """Resamples ``(..., time)`` along the last axis with ``plan``, keeping ``x``'s dtype.

    Args:
        x: ``(..., time)`` floating-point tensor, any device.
        plan: from :func:`resampling_plan`.
        padtype: one of :data:`seqdown.dsp.padding.PADTYPES`.
        buffer: :func:`plan_buffer` of ``plan`` (a Module's cached copy), or None.
        lengths: optional int64 ``(x.shape[0],)``: item ``b`` ends at ``lengths[b]``
            and whatever follows (NaN included) reads as zeros; its outputs from
            ``resample_length(lengths[b], up, down)`` on hold no meaning (the caller
            masks them). ``padtype="constant"`` only, eager only. The direct path
            redoes the few outputs that read each row's padding
            (:func:`~seqdown.dsp.polyphase.polyphase_resample`); the others zero it.

    Returns:
        ``(..., resample_length(time, up, down))``; a copy of ``x`` when the ratio
        is 1. Half precision is computed in float32. Differentiable.

    Raises:
        TypeError: ``lengths`` not integer.
        ValueError: ``lengths`` not of shape ``(x.shape[0],)``, with a value outside
            ``[0, time]`` (checked in eager mode), or with another padtype.
    """
    padtype = check_padtype(padtype)
    if lengths is not None:
        if x.dim() < 2 or tuple(lengths.shape) != x.shape[:1]:
            raise ValueError(f"lengths must have shape (x.shape[0],), one per item of x of "
                             f"shape {tuple(x.shape)} (at least 2-D), got "
                             f"{tuple(lengths.shape)}")
        check_lengths_padtype(padtype)
    if plan.up == plan.down == 1:
        return x.clone()
    compute = compute_dtype(x)
    rows = x.reshape(math.prod(x.shape[:-1]), x.shape[-1]).to(compute)
    if lengths is not None:
        if plan.kernel is not None:  # one length per item, for its rows (checked there)
            y = polyphase_resample(rows, plan.kernel, _kernel_weight(buffer, rows), padtype,
                                   lengths)
            return y.reshape(*x.shape[:-1], y.shape[-1]).to(x.dtype)
        rows = zero_beyond(rows, check_length_values(lengths, x.shape[-1]).to(rows.device))
    level = background(rows, padtype)
    y = _run(rows if level is None else rows - level, plan, padtype, buffer)
    if level is not None:
        y = y + level
    return y.reshape(*x.shape[:-1], y.shape[-1]).to(x.dtype)

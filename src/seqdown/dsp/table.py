"""Resampling with a finely tabulated filter: bounded memory for ratios with huge terms.

The overlap-save path needs blocks of a multiple of ``down`` input samples; past
about 65536 (a 767999 Hz -> 768000 Hz file, say) its FFTs alone take hundreds of
MiB. This path does what band-limited interpolation and soxr do instead. Output
``j`` sits at input time ``j * down / up = base + frac`` (``base`` an integer,
``0 <= frac < 1``) and is

    y[j] = sum_m x[base - half + m] h(frac + half - m),   m = 0 .. 2 * half.

``h`` (the :class:`~seqdown.dsp.filters.SincDesign`) is tabulated at ``phases + 1``
fractions ``l / phases`` and interpolated linearly between them; each row of the
table is scaled to sum to 1, so that every phase has unit gain at DC. The error
of linear interpolation is about ``(pi * cutoff / phases) ** 2 / 2`` of the
filter; ``phases`` is chosen to keep it 20 dB below the stopband, up to a
table of :data:`MAX_TABLE` values (so the ``"vhq"`` spec is met only for
moderate filter lengths on this path). Outputs run in chunks whose gathered
windows stay within a few MiB.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from seqdown.dsp.filters import SincDesign
from seqdown.dsp.padding import extension, segment
from seqdown.lengths import resample_length

__all__ = ["MAX_TABLE", "TablePlan", "last_input", "table_plan", "table_resample", "table_steps"]

#: The most values a table holds (32 MiB in float64).
MAX_TABLE = 1 << 22
#: Gathered input values per chunk of outputs.
_CHUNK_VALUES = 1 << 19
#: Table values designed at a time (each temporary of the design is this many float64).
_DESIGN_VALUES = 1 << 17


@dataclass(frozen=True)
class TablePlan:
    """The tabulated filter for :func:`table_resample`.

    Attributes:
        up: upsampling factor (coprime with ``down``).
        down: downsampling factor.
        half: filter half-length in input samples.
        table: float64 ``(phases + 1, 2 * half + 1)``: row ``l`` holds
            ``h(l / phases + half - m)`` for ``m = 0 .. 2 * half``, scaled to sum to 1.
    """

    up: int
    down: int
    half: int
    table: np.ndarray

    @property
    def phases(self) -> int:
        """Table intervals per input sample."""
        return self.table.shape[0] - 1


def table_plan(design: SincDesign, up: int, down: int, attenuation: float) -> TablePlan:
    """Tabulates ``design`` finely enough for ``attenuation`` (up to :data:`MAX_TABLE`)."""
    half = design.half_width
    width = 2 * half + 1
    wanted = math.pi * design.cutoff * math.sqrt(10 ** ((attenuation + 20) / 20) / 2)
    phases = max(16, min(math.ceil(wanted), MAX_TABLE // width - 1))
    table = np.empty((phases + 1, width))
    # A few rows at a time: the temporaries of the Kaiser window and the sinc stay within
    # a few MiB whatever the table's size (a whole-table expression took 160 MiB).
    rows = max(1, _DESIGN_VALUES // width)
    for low in range(0, phases + 1, rows):
        t = np.arange(low, min(low + rows, phases + 1))[:, None] / phases + half
        t = t - np.arange(width)[None, :]
        window = np.i0(design.beta * np.sqrt(np.clip(1.0 - (t / half) ** 2, 0.0, None)))
        part = 2 * design.cutoff * np.sinc(2 * design.cutoff * t) * window
        table[low : low + rows] = part / part.sum(axis=1, keepdims=True)
    table.setflags(write=False)
    return TablePlan(up, down, half, table)


def _outputs(read: Callable[[int, int], Tensor], plan: TablePlan, table: Tensor, first: int,
             stop: int, rows: int, like: Tensor) -> Tensor:
    """Outputs ``first:stop``; ``read(low, high)`` returns input samples ``low:high``."""
    width = 2 * plan.half + 1
    y = like.new_empty(rows, stop - first)
    chunk = max(1, _CHUNK_VALUES // (rows * width))
    for start in range(first, stop, chunk):
        j = torch.arange(start, min(start + chunk, stop), device=like.device)
        position = j * plan.down  # in units of 1 / up input samples
        base = torch.div(position, plan.up, rounding_mode="floor")
        scaled = (position - base * plan.up) * plan.phases  # frac * phases * up
        index = torch.div(scaled, plan.up, rounding_mode="floor")
        alpha = ((scaled - index * plan.up).to(like.dtype) / plan.up)[:, None]
        # index_select: whole rows, several times faster than indexing with a tensor.
        weights = torch.lerp(table.index_select(0, index), table.index_select(0, index + 1),
                             alpha)  # (chunk, width)
        # Python ints for the slice bounds: eager only, as the rest of the engines.
        low, high = int(base[0]) - plan.half, int(base[-1]) + plan.half + 1
        # Each window is a row of the unfolded view (no copy): picking them copies only them,
        # with one index per window (measured 40x faster than an index per sample).
        windows = read(low, high).unfold(-1, width, 1)[:, base - base[0]]
        y[:, start - first : start - first + j.numel()] = torch.einsum("rmk,mk->rm", windows,
                                                                       weights)
    return y


def last_input(plan: TablePlan, output: int) -> int:
    """One past the last input sample that output ``output`` reads."""
    return output * plan.down // plan.up + plan.half + 1


def table_steps(x: Tensor, plan: TablePlan, table: Tensor, first: int, stop: int,
                origin: int) -> Tensor:
    """Outputs ``first:stop`` from ``x``, whose sample 0 is input sample ``origin``.

    ``x`` must hold every sample those outputs read (from ``first``'s window on
    to :func:`last_input` of ``stop - 1``); the streaming resampler keeps that much.
    """
    return _outputs(lambda low, high: x[:, low - origin : high - origin], plan, table, first,
                    stop, x.shape[0], x)


def table_resample(x: Tensor, plan: TablePlan, padtype: str = "constant",
                   table: Tensor | None = None) -> Tensor:
    """Resamples the rows of ``x`` by ``plan.up / plan.down``.

    Args:
        x: ``(rows, time)`` float32 or float64 tensor, any device.
        plan: from :func:`table_plan`.
        padtype: what lies beyond the ends (:mod:`seqdown.dsp.padding`; background
            padtypes must have been subtracted already, they read as zeros here).
        table: ``plan.table`` as a tensor of ``x``'s dtype and device, or None.

    Returns:
        ``(rows, resample_length(time, up, down))``. Differentiable.
    """
    rows, time = x.shape
    n_out = resample_length(time, plan.up, plan.down)
    if n_out == 0:
        return x.new_zeros(rows, 0)
    if table is None:
        table = torch.tensor(plan.table, dtype=x.dtype, device=x.device)
    end = last_input(plan, n_out - 1)
    left, right = extension(x, padtype, plan.half, max(0, end - time))
    return _outputs(lambda low, high: segment(x, left, right, low, high), plan, table, 0, n_out,
                    rows, x)

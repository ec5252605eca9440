"""Polyphase FIR resampling as one ``conv1d``: the engine behind Decimate and Resample.

Resampling by ``up / down`` with a centred filter ``h`` of odd length
``K = 2 * half + 1`` (scaled by ``up``) computes, as
``scipy.signal.resample_poly`` does::

    y[t] = sum_i x[i] * h[i * up - t * down + half]

Only the products with a non-zero upsampled input are computed. Split the
output index ``t = q * up + r`` by phase ``r`` and write the input index as
``i = q * down + j``; the filter index becomes ``j * up - r * down + half``,
which no longer depends on ``q``::

    y[q * up + r] = sum_j x[q * down + j] * g_r[j],   g_r[j] = h[j * up - r * down + half]

So each output phase ``r`` is a strided correlation of ``x`` with its own short
filter ``g_r``, and all ``up`` phases are one ``conv1d`` with ``up`` output
channels and stride ``down``. A strided convolution wastes the fast kernels, so
``x`` is also split into its ``down`` input phases (``x[a * down + b]`` is step
``a`` of channel ``b``) and ``g_r[j]`` with ``j = c * down + b`` becomes the tap
``c`` of input channel ``b``: the op is a stride-1 ``conv1d`` from ``down``
channels to ``up`` channels, whose output is interleaved back into time.
Cost per output step: about ``K / up`` multiply-adds, the minimum for the filter.

A conv1d with few output channels leaves the matrix kernels idle (decimation has
one phase), so ``block`` consecutive conv steps are fused into one: the same
derivation with ``up * block`` output phases and ``down * block`` input phases
(substitute ``t = q * up * block + r`` and ``i = q * down * block + j``; the
filter index is unchanged). This adds about ``block * down`` zero taps per
output step, and is chosen so that the waste stays below the useful work.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from seqdown._validation import check_positive_int
from seqdown.dsp.filters import design_lowpass
from seqdown.lengths import ceil_div, resample_length

__all__ = [
    "PolyphaseKernel",
    "apply_kernel",
    "compute_dtype",
    "polyphase_kernel",
    "polyphase_resample",
    "polyphase_steps",
    "rate_ratio",
    "resampling_kernel",
]


@dataclass(frozen=True)
class PolyphaseKernel:
    """The filter ``h`` laid out for :func:`polyphase_resample`.

    Attributes:
        weight: float64 ``(up * block, down * block, taps_per_phase)`` conv1d weight.
        left: zeros to prepend to the input (the filter's look-behind).
        up: upsampling factor.
        down: downsampling factor.
        block: conv steps fused into one (see the module notes).
        span: largest number of input steps that one output step depends on.
    """

    weight: np.ndarray
    left: int
    up: int
    down: int
    block: int
    span: int


#: Output channels that keep the CPU matrix kernels busy (measured on AVX2 with oneDNN).
_TARGET_PHASES = 16


#: Input values per chunk of a long input (4 MiB in float32), and the input size up to
#: which one chunk does it all. Both measured on 2 AVX2 cores; see polyphase_resample.
_CHUNK_FLOATS = 1 << 20
_ONE_SHOT_FLOATS = 1 << 22


def _choose_block(up: int, down: int, span: int) -> int:
    """Largest power of two with at most ``_TARGET_PHASES`` phases and ``block * down <= 2 * span``.

    The second bound keeps the added zero taps (``block * down`` per output step)
    below twice the useful ones (``span``).
    """
    block = 1
    while up * block * 2 <= _TARGET_PHASES and down * block * 2 <= 2 * span:
        block *= 2
    return block


def polyphase_kernel(taps: np.ndarray, up: int, down: int, block: int | None = None
                     ) -> PolyphaseKernel:
    """Splits a centred, odd-length filter summing to 1 into polyphase conv1d weights.

    Args:
        taps: the low-pass filter, e.g. from :func:`seqdown.dsp.filters.design_lowpass`.
        up: upsampling factor (coprime with ``down``).
        down: downsampling factor.
        block: conv steps to fuse; chosen for speed when None.
    """
    h = np.asarray(taps, dtype=np.float64) * up
    half = (h.size - 1) // 2
    if block is None:
        block = _choose_block(up, down, -(-h.size // up))
    phases = up * block
    j_low = -(half // up)
    j_high = (half + (phases - 1) * down) // up
    width = j_high - j_low + 1
    # g_r[j] for every phase r and every j in [j_low, j_high]; out-of-range taps are 0.
    index = (np.arange(width)[None, :] + j_low) * up - np.arange(phases)[:, None] * down + half
    inside = (index >= 0) & (index < h.size)
    dense = np.where(inside, h[np.clip(index, 0, h.size - 1)], 0.0)
    # The taps of one phase are contiguous, so its support is their count.
    # Tap w = c * down + b of phase r goes to input channel b, kernel position c.
    strides = down * block
    per_phase = ceil_div(width, strides)
    padded = np.zeros((phases, per_phase * strides))
    padded[:, :width] = dense
    weight = padded.reshape(phases, per_phase, strides).transpose(0, 2, 1).copy()
    weight.setflags(write=False)
    return PolyphaseKernel(weight, -j_low, up, down, block, int(inside.sum(axis=1).max()))


def polyphase_steps(x: Tensor, weight: Tensor, steps: int) -> Tensor:
    """Runs ``steps`` conv steps over already left-padded input.

    Args:
        x: ``(rows, time)`` with at least ``(steps + taps_per_phase - 1) * inputs``
            steps, where ``weight`` is ``(outputs, inputs, taps_per_phase)``; step
            ``q`` reads ``x[q * inputs : (q + taps_per_phase) * inputs]``.
        weight: the polyphase weight as a tensor of ``x``'s dtype and device.
        steps: conv steps to compute.

    Returns:
        ``(rows, steps * outputs)``, the outputs of the steps in time order.
    """
    outputs, inputs, per_phase = weight.shape
    rows = x.shape[0]
    if steps <= 0:
        return x.new_zeros(rows, 0)
    x = x[:, :(steps + per_phase - 1) * inputs]
    phases = x.reshape(rows, steps + per_phase - 1, inputs).transpose(1, 2).contiguous()
    y = F.conv1d(phases, weight)  # (rows, outputs, steps)
    return y.transpose(1, 2).reshape(rows, steps * outputs)


def polyphase_resample(x: Tensor, kernel: PolyphaseKernel, weight: Tensor | None = None) -> Tensor:
    """Resamples the rows of ``x`` by ``kernel.up / kernel.down``.

    Long inputs run in chunks of conv steps, each reading about
    ``_CHUNK_FLOATS`` input values, so that the copies around the convolution
    stay in cache instead of streaming whole recordings through memory several
    times (measured: about twice as fast on 30 s of 8-channel audio).

    Args:
        x: ``(rows, time)`` floating-point tensor.
        kernel: the layout from :func:`polyphase_kernel`.
        weight: ``kernel.weight`` already as a tensor of ``x``'s dtype and device
            (a Module's cached buffer); built from ``kernel`` when None.

    Returns:
        ``(rows, resample_length(time, up, down))``, as ``scipy.signal.resample_poly``
        with the same filter: zero outside the signal, zero delay.
    """
    rows, time = x.shape
    n_out = resample_length(time, kernel.up, kernel.down)
    if weight is None:
        weight = torch.tensor(kernel.weight, dtype=x.dtype, device=x.device)
    outputs, inputs, per_phase = weight.shape
    steps = ceil_div(n_out, outputs)
    whole = rows * time <= _ONE_SHOT_FLOATS
    chunk = max(1, steps if whole else _CHUNK_FLOATS // (rows * inputs))
    y = x.new_empty(rows, steps * outputs)
    for first in range(0, steps, chunk):
        count = min(chunk, steps - first)
        # Conv step q reads x[q * inputs - left : (q + per_phase) * inputs - left], zero outside.
        start = first * inputs - kernel.left
        stop = (first + count + per_phase - 1) * inputs - kernel.left
        part = F.pad(x[:, max(start, 0) : min(stop, time)], (max(0, -start), max(0, stop - time)))
        y[:, first * outputs : (first + count) * outputs] = polyphase_steps(part, weight, count)
    return y[:, :n_out]


def rate_ratio(orig_freq: int, new_freq: int) -> tuple[int, int]:
    """``(up, down)``: the ratio ``new_freq / orig_freq`` of two sample rates, reduced.

    Raises:
        TypeError: a rate is not an integer.
        ValueError: a rate is < 1.
    """
    orig_freq = check_positive_int("orig_freq", orig_freq)
    new_freq = check_positive_int("new_freq", new_freq)
    common = math.gcd(orig_freq, new_freq)
    return new_freq // common, orig_freq // common


@lru_cache(maxsize=64)
def resampling_kernel(up: int, down: int, attenuation: float,
                      transition: float) -> PolyphaseKernel:
    """The :func:`design_lowpass` filter for ``up / down`` laid out as a kernel (cached)."""
    taps = design_lowpass(up, down, attenuation=attenuation, transition=transition)
    return polyphase_kernel(taps, up, down)


def compute_dtype(x: Tensor) -> torch.dtype:
    """The dtype ``x`` is filtered in: float32 for half precision (long filters lose too
    much in 16 bits), else ``x``'s own."""
    return torch.float32 if x.dtype in (torch.float16, torch.bfloat16) else x.dtype


def apply_kernel(x: Tensor, kernel: PolyphaseKernel, weight: Tensor | None = None) -> Tensor:
    """Resamples ``(..., time)`` with ``kernel`` along the last axis, keeping ``x``'s dtype.

    Args:
        x: ``(..., time)`` floating-point tensor.
        kernel: from :func:`resampling_kernel` or :func:`polyphase_kernel`.
        weight: ``kernel.weight`` already as a tensor (a Module's buffer), or None.

    Returns:
        ``(..., resample_length(time, kernel.up, kernel.down))``; a copy of ``x`` when
        the ratio is 1.
    """
    if kernel.up == kernel.down == 1:
        return x.clone()
    compute = compute_dtype(x)
    rows = x.reshape(math.prod(x.shape[:-1]), x.shape[-1]).to(compute)
    if weight is not None:
        weight = weight.to(device=x.device, dtype=compute)
    y = polyphase_resample(rows, kernel, weight)
    return y.reshape(*x.shape[:-1], y.shape[-1]).to(x.dtype)

"""Polyphase FIR resampling as one ``conv1d``: the exact engine (``method="direct"``).

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

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from seqdown.dsp.padding import extension, segment
from seqdown.lengths import ceil_div, resample_length

__all__ = ["PolyphaseKernel", "polyphase_kernel", "polyphase_resample", "polyphase_steps"]


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


#: Decimation of at least this many rows of at most this many steps runs depthwise
#: (measured on 2 AVX-512 cores: faster from about 16 rows of feature-sequence length).
_DEPTHWISE_ROWS = 16
_DEPTHWISE_TIME = 1 << 16
#: Input values per depthwise convolution (2 MiB in float32): oneDNN copies its input to a
#: blocked layout, and a 10 MiB copy per call lands on fresh pages more often than not;
#: each call also costs about 60 us, so chunks stay few (measured on 2560 x 1000 rows).
_DEPTHWISE_FLOATS = 1 << 19
#: Output phases of the flat layout (:func:`_flat_interior`). Its convolution alone runs
#: 1.5x faster with 16 (oneDNN's channel block on AVX-512), but 16 leaves about 23
#: outputs at each end of every row to the matrix products instead of 15: the whole op
#: measured 1.1-1.4x slower with 16 than with 8 on 2560 x 1000 rows, factors 2 and 4.
_FLAT_BLOCK = 8

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


def _depthwise_end(n_out: int, kernel: PolyphaseKernel) -> int:
    """One past the last input sample the depthwise decimation reads."""
    return (n_out - 1) * kernel.down + kernel.span - kernel.left


def _band(taps: Tensor, count: int, width: int, down: int) -> Tensor:
    """``(count, width)``: row ``t`` holds ``taps`` from column ``t * down``, zeros elsewhere."""
    size = taps.shape[0]
    index = (torch.arange(width, device=taps.device)[None, :]
             - down * torch.arange(count, device=taps.device)[:, None])
    inside = (index >= 0) & (index < size)
    return torch.where(inside, taps[index.clamp(0, size - 1)], taps.new_zeros(()))


def _decimate_stretch(part: Tensor, taps: Tensor, count: int, down: int) -> Tensor:
    """The ``count`` outputs of ``(rows, (count - 1) * down + len(taps))`` samples, as one
    matrix product with the banded matrix whose row ``t`` holds ``taps`` from column
    ``t * down`` (the few outputs at the ends of the depthwise path).

    The product runs as ``band @ part.T``: with the rows last, it is several times
    faster than ``part @ band.T`` for the short ``count`` of the ends (measured).
    """
    band = _band(taps, count, (count - 1) * down + taps.shape[0], down)
    return (band @ part.t()).t()


def _flat_interior(x: Tensor, taps: Tensor, down: int, half: int
                   ) -> tuple[Tensor, int, int, int] | None:
    """The interior outputs of every row as one stride-1 ``conv1d`` of all rows end to end.

    With ``time`` a multiple of ``down``, row ``r``'s output ``t`` is output
    ``g = r * n_out + t`` of the whole batch read as one signal, centred on its
    sample ``g * down``. The polyphase derivation (module notes) with ``up = 1`` and
    ``block = B``: conv step ``q`` holds outputs ``q * B + j`` and reads the
    ``per * D`` samples from ``(q * B) * down - half``, ``D = B * down``, with the
    weight ``w[j, b, c] = h[c * D + b - j * down]``. Viewed as ``(1, D, steps)``, the
    signal is a channels-last tensor without any copy, which oneDNN reads as it is (no
    reordered copy of the input, unlike the depthwise kernel), and its output is
    already in time order: measured 2x faster than the depthwise path on 2560 x 1000.

    A step reads up to ``(B - 1) * down`` samples before its outputs' windows and
    ``per * D - len(taps)`` after them (its zero taps; 0 times a NaN is NaN), so the
    outputs near each row's ends, which read the next row, are left to the caller.

    Returns:
        ``(y, first, stop, reach)``: ``y`` is ``(rows, n_out)`` with columns
        ``first:stop`` computed, and each of those outputs reads the samples
        ``[t * down - half - (B - 1) * down, t * down - half + reach)`` of its own row;
        None where fewer than ``B`` outputs of a row would be computed.
    """
    rows, time = x.shape
    n_out = time // down
    block = _FLAT_BLOCK
    inputs = block * down
    span = taps.shape[0]
    per_phase = ceil_div(span + (block - 1) * down, inputs)
    shift = ceil_div(half, inputs)  # the first step starts at sample shift * inputs - half >= 0
    start = shift * inputs - half
    steps = (rows * time - start) // inputs - per_phase + 1
    offset = shift * block  # the output of step 0
    reach = per_phase * inputs
    first = max(offset, block - 1 + ceil_div(half, down))
    # Clean where the step stays inside the row, and (last row) where the steps reach.
    stop = min((time + half - reach) // down + 1, offset + steps * block - (rows - 1) * n_out)
    if steps < 1 or stop - first < block:
        return None
    weight = _band(taps, block, per_phase * inputs, down).view(block, per_phase, inputs)
    weight = weight.transpose(1, 2)[:, :, None].contiguous(memory_format=torch.channels_last)
    signal = x.reshape(-1)[start : start + (steps + per_phase - 1) * inputs]
    signal = signal.view(1, steps + per_phase - 1, inputs).transpose(1, 2)[:, :, None]
    out = F.conv2d(signal, weight)[0, :, 0].t().reshape(-1)
    y = x.new_empty(rows * n_out)
    y[offset : offset + out.shape[0]] = out[: y.shape[0] - offset]
    return y.view(rows, n_out), first, stop, reach


def _depthwise_decimate(x: Tensor, kernel: PolyphaseKernel, weight: Tensor, left: Tensor,
                        right: Tensor, lengths: Tensor | None = None) -> Tensor:
    """Decimation (``up == 1``) of many short rows as one depthwise strided ``conv1d``.

    For a batch of feature sequences the depthwise kernel of oneDNN beats the
    polyphase layout (measured 2x on 2560 rows of 1000 steps): the same products.
    ``y[t] = sum_k h[k] x[t * down + k - half]``; with ``lead`` zeros prepended to
    ``h`` so that ``half + lead`` is a multiple of ``down``, the interior outputs
    are one convolution of ``x`` itself (no padded copy, and no ``padding``
    argument, which takes oneDNN off its fast kernel): its step ``s`` is output
    ``s + (half + lead) / down``, and it runs on chunks of rows
    (``_DEPTHWISE_FLOATS``) written into the output. The few outputs at each end read
    the extension: each end is one small matrix product (:func:`_decimate_stretch`),
    not a convolution (oneDNN's set-up costs more than those products).

    With ``lengths`` the rows are filtered as they are, padding included, and the
    outputs that read a row's padding are computed again from its own samples
    (:func:`_redo_row_ends`): no masked copy of the input.
    """
    time = x.shape[-1]
    n_out = resample_length(time, 1, kernel.down)
    down, span, half = kernel.down, kernel.span, kernel.left
    # Phase 0 holds h itself (tap w = c * down + b at [0, b, c]); conv1d correlates.
    taps = weight[0].t().reshape(-1)[:span]
    flat = None
    if time % down == 0 and x.is_contiguous() and x.device.type == "cpu":
        flat = _flat_interior(x, taps, down, half)
    y: Tensor | None
    if flat is not None:
        y, first, stop, reach = flat
    else:
        lead = -half % down
        first = min(n_out, (half + lead) // down)  # the first output the interior conv gives
        stop = first + max(0, min((time - span - lead) // down + 1, n_out - first))
        reach = span
        y = _depthwise_interior(x, taps, down, lead, first, stop) if stop > first else None
    if y is None:
        whole = segment(x, left, right, -half, _depthwise_end(n_out, kernel))
        y = _decimate_stretch(whole, taps, n_out, down)
        first = stop = 0
    else:
        if first > 0:
            head = segment(x, left, right, -half, (first - 1) * down + span - half)
            y[:, :first] = _decimate_stretch(head, taps, first, down)
        if stop < n_out:
            part = segment(x, left, right, stop * down - half, _depthwise_end(n_out, kernel))
            y[:, stop:] = _decimate_stretch(part, taps, n_out - stop, down)
    if lengths is not None:
        # Which outputs read only samples before the row's end: those of the interior
        # whose computation ends at or before it; the ends' matrix products read their
        # whole stretch (a 0 tap times a NaN of the padding is NaN).
        if stop <= first:
            clean = torch.zeros_like(lengths)
        else:
            head_end = (first - 1) * down + span - half if first > 0 else 0
            interior = torch.div(lengths + half - reach, down, rounding_mode="floor") + 1
            clean = torch.where(lengths < head_end, 0, interior.clamp(first, stop))
        clean = torch.where(lengths >= time, n_out, clean)
        _redo_row_ends(y, x, taps, down, half, lengths, clean)
    return y


def _depthwise_interior(x: Tensor, taps: Tensor, down: int, lead: int, first: int,
                        stop: int) -> Tensor:
    """``(rows, n_out)`` with columns ``first:stop`` from depthwise convolutions of ``x``."""
    rows, time = x.shape
    y = x.new_empty(rows, resample_length(time, 1, down))
    bank = F.pad(taps, (lead, 0)).expand(rows, 1, -1)
    chunk = max(16, _DEPTHWISE_FLOATS // time // 16 * 16)
    for start in range(0, rows, chunk):
        end = min(rows, start + chunk)
        # On x itself (a slice of it would be a strided copy): its outputs beyond `stop`
        # are dropped.
        y[start:end, first:stop] = F.conv1d(x[None, start:end], bank[start:end].contiguous(),
                                            stride=down, groups=end - start)[0, :, : stop - first]
    return y


def _redo_row_ends(y: Tensor, x: Tensor, taps: Tensor, down: int, half: int, lengths: Tensor,
                   clean: Tensor) -> None:
    """Writes into ``y`` each row's outputs from ``clean[r]`` to ``resample_length(lengths[r])``
    as if the row ended at ``lengths[r]`` (zeros after it); the outputs after those are
    left as they are (the caller masks them).

    Every row redoes its last ``steps`` outputs, enough for the row with the most
    outputs to redo (about ``len(taps) / down``): their windows are gathered from
    ``x`` with the samples at or beyond the row's end read as zeros, and computed as
    one small matrix product (:func:`_decimate_stretch`); a row that fills the time
    axis keeps its outputs. Eager only (the sizes depend on the values of ``lengths``).
    """
    n_out = y.shape[-1]
    out_lengths = resample_length(lengths, 1, down)
    steps = min(n_out, int((out_lengths - clean).max()))
    if steps > 0:
        # Start at out_lengths - steps (at most clean): the redone outputs never pass n_out.
        first = (out_lengths - steps).clamp(min=0)
        index = (first[:, None] * down - half
                 + torch.arange((steps - 1) * down + taps.shape[0], device=x.device))
        inside = (index >= 0) & (index < lengths[:, None])
        window = torch.where(inside, x.gather(1, index.clamp(0, x.shape[-1] - 1)),
                             x.new_zeros(()))
        ends = _decimate_stretch(window, taps, steps, down)
        short = (lengths < x.shape[-1]).nonzero()[:, 0]
        at = first[short, None] + torch.arange(steps, device=x.device)
        y[short[:, None], at] = ends[short]


def polyphase_resample(x: Tensor, kernel: PolyphaseKernel, weight: Tensor | None = None,
                       padtype: str = "constant", lengths: Tensor | None = None) -> Tensor:
    """Resamples the rows of ``x`` by ``kernel.up / kernel.down``.

    Long inputs run in chunks of conv steps, each reading about
    ``_CHUNK_FLOATS`` input values, so that the copies around the convolution
    stay in cache instead of streaming whole recordings through memory several
    times (measured: about twice as fast on 30 s of 8-channel audio). Decimation
    of many short rows (feature batches) runs as one depthwise convolution.

    Args:
        x: ``(rows, time)`` floating-point tensor.
        kernel: the layout from :func:`polyphase_kernel`.
        weight: ``kernel.weight`` already as a tensor of ``x``'s dtype and device
            (a Module's cached buffer); built from ``kernel`` when None.
        padtype: what lies beyond the ends (:mod:`seqdown.dsp.padding`; background
            padtypes must have been subtracted already, they read as zeros here).
        lengths: optional int64 ``(rows,)``, each in ``[0, time]``: row ``r`` ends at
            ``lengths[r]`` and whatever follows it (NaN included) is read as zeros. Its
            outputs from ``resample_length(lengths[r], up, down)`` on hold no meaning:
            the caller masks them once (as ``FrontEnd.forward`` does). Only with
            ``padtype="constant"``; eager only (the depthwise path redoes the few
            outputs that read each row's padding instead of masking a copy of ``x``).

    Returns:
        ``(rows, resample_length(time, up, down))``, as ``scipy.signal.resample_poly``
        with the same filter and padtype: zero delay.

    Raises:
        ValueError: ``lengths`` is not ``(rows,)``, or given with another padtype.
    """
    rows, time = x.shape
    n_out = resample_length(time, kernel.up, kernel.down)
    if lengths is not None:
        if tuple(lengths.shape) != (rows,):
            raise ValueError(f"lengths must have shape ({rows},) (one per row of x), "
                             f"got {tuple(lengths.shape)}")
        if padtype != "constant":
            raise ValueError(f"lengths needs padtype='constant' (the padding reads as zeros), "
                             f"got padtype={padtype!r}")
        lengths = lengths.to(device=x.device, dtype=torch.int64)
    if weight is None:
        weight = torch.tensor(kernel.weight, dtype=x.dtype, device=x.device)
    outputs, inputs, per_phase = weight.shape
    steps = ceil_div(n_out, outputs)
    # Conv step q reads x[q * inputs - left : (q + per_phase) * inputs - left].
    end = (steps + per_phase - 1) * inputs - kernel.left
    depthwise = kernel.up == 1 and rows >= _DEPTHWISE_ROWS and time <= _DEPTHWISE_TIME
    if depthwise and n_out > 0:
        end = max(end, _depthwise_end(n_out, kernel))
    left, right = extension(x, padtype, kernel.left, max(0, end - time))
    if depthwise and n_out > 0:
        return _depthwise_decimate(x, kernel, weight, left, right, lengths)
    if lengths is not None:
        inside = torch.arange(time, device=x.device) < lengths[:, None]
        x = torch.where(inside, x, x.new_zeros(()))
    whole = rows * time <= _ONE_SHOT_FLOATS
    chunk = max(1, steps if whole else _CHUNK_FLOATS // (rows * inputs))
    y = x.new_empty(rows, steps * outputs)
    for first in range(0, steps, chunk):
        count = min(chunk, steps - first)
        start = first * inputs - kernel.left
        stop = (first + count + per_phase - 1) * inputs - kernel.left
        part = segment(x, left, right, start, stop)
        y[:, first * outputs : (first + count) * outputs] = polyphase_steps(part, weight, count)
    return y[:, :n_out]

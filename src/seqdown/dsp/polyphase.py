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
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from seqdown._validation import check_length_values, is_batched, is_tracing
from seqdown.dsp.derived import derived
from seqdown.dsp.padding import (
    check_lengths_padtype,
    extends_with_zeros,
    extension,
    pieces,
    segment,
    zero_beyond,
)
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
#: Output phases of the flat layout (:func:`_flat_decimate`): oneDNN's channel block on
#: AVX-512. On 2560 x 1000 rows, factors 2 and 4, one thread, its convolution alone
#: took 0.73-0.76 ms with 16 against 1.01-1.04 ms with 8; the whole Decimate in
#: bench_resample.py's interleaved loop took 1.74-1.99 ms with 16 against 2.09-2.35 ms
#: with 8 (3 runs each).
#: The ends cost the same either way (only the outputs that read another row are redone).
_FLAT_BLOCK = 16

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
    """``(count, width)``: row ``t`` holds ``taps`` from column ``t * down``, zeros elsewhere
    (kept for ``taps``: :func:`~seqdown.dsp.derived.derived`)."""
    return derived(taps, ("band", count, width, down),
                    lambda: _build_band(taps, count, width, down))


def _build_band(taps: Tensor, count: int, width: int, down: int) -> Tensor:
    """:func:`_band`, built."""
    size = taps.shape[0]
    index = (torch.arange(width, device=taps.device)[None, :]
             - down * torch.arange(count, device=taps.device)[:, None])
    inside = (index >= 0) & (index < size)
    return torch.where(inside, taps[index.clamp(0, size - 1)], taps.new_zeros(()))


def _band_products(band: Tensor, parts: list[tuple[int, Tensor]], rows: int) -> Tensor:
    """``(rows, count)``: the sum over ``parts`` of ``part @ band[:, offset : offset + width].T``.

    Each product runs as ``band @ part.T``: with the rows last, it is several times
    faster than ``part @ band.T`` for the short ``count`` of the ends (measured), and a
    part that is a slice of a longer row is read where it lies (no copy).
    """
    y = None
    for offset, part in parts:
        term = band[:, offset : offset + part.shape[-1]] @ part.t()
        y = term if y is None else y + term
    return band.new_zeros(rows, band.shape[0]) if y is None else y.t()


def _decimate_stretch(part: Tensor, taps: Tensor, count: int, down: int) -> Tensor:
    """The ``count`` outputs of ``(rows, (count - 1) * down + len(taps))`` samples."""
    band = _band(taps, count, (count - 1) * down + taps.shape[0], down)
    return _band_products(band, [(0, part)], part.shape[0])


def _decimate_range(x: Tensor, left: Tensor, right: Tensor, taps: Tensor, first: int,
                    count: int, down: int, half: int) -> Tensor:
    """Outputs ``first : first + count`` of every row, ``(rows, count)``, as banded matrix
    products with the parts of ``cat(left, x, right)`` they read (zeros beyond).

    Output ``t`` reads the samples ``t * down - half`` to ``t * down + half``; each part
    (:func:`~seqdown.dsp.padding.pieces`: the extension, the row itself) is multiplied
    where it lies, and an empty extension (a zero padtype) costs nothing.
    """
    start = first * down - half
    stop = (first + count - 1) * down - half + taps.shape[0]
    band = _band(taps, count, stop - start, down)
    return _band_products(band, pieces(x, left, right, start, stop), x.shape[0])


class _Flat(NamedTuple):
    """What :func:`_flat_decimate` computed: every output of ``y`` came from the convolution.

    Outputs ``own_first:own_stop`` read, through the filter's taps, samples of their own
    row only; of those, ``clean_first:clean_stop`` also read nothing of another row
    through the zero taps of their conv step (the others are exact unless a value read
    there is NaN or infinite: ``0 * inf`` is NaN). Every output ``t`` reads no sample
    from ``t * down + ahead`` on. The convolution's zero padding after the batch
    stands in for its samples from ``tail * down - half`` on (all of them are there
    when ``rows * n_out`` is a multiple of the block): the outputs ``g = r * n_out + t``
    of the batch read as one signal are right up to ``g = tail``.
    """

    y: Tensor
    own_first: int
    own_stop: int
    clean_first: int
    clean_stop: int
    ahead: int
    tail: int


def _flat_decimate(x: Tensor, taps: Tensor, down: int, half: int) -> _Flat | None:
    """Every output of every row as one convolution of all rows end to end.

    With ``time`` a multiple of ``down``, row ``r``'s output ``t`` is output
    ``g = r * n_out + t`` of the whole batch read as one signal, centred on its
    sample ``g * down``. With ``lead`` zeros before the taps, so that
    ``front = half + lead`` is a multiple of ``down``, output ``g`` reads
    ``front + half + 1`` samples from ``g * down - front``. The polyphase derivation
    (module notes) with ``up = 1`` and ``block = B``: conv step ``q`` holds outputs
    ``q * B + j`` and reads the ``per_phase * D`` samples from ``q * D - front``,
    ``D = B * down``, with the weight ``w[j, b, c] = h'[c * D + b - j * down]``.
    Viewed as ``(1, D, 1, steps)`` (a stride-1 ``conv2d`` over its last axis), the
    signal is a channels-last tensor without any copy,
    which oneDNN reads as it is (no reordered copy of the input, unlike the depthwise
    kernel), and its output is already in time order. The convolution's own zero
    padding of ``pad`` steps stands for the zeros before the batch: step 0 reads from
    sample ``-pad * D``, and so holds outputs from ``-(pad * B - front / down)`` on;
    ``y`` is the output from output 0 on, a view (no copy). Outputs that read the
    padding through their taps are at the ends of rows, which the caller redoes.

    Returns:
        :class:`_Flat`, or None where no output of a row reads only its own samples or
        the batch holds less than one conv step (``rows * time < 16 * down``).
    """
    rows, time = x.shape
    n_out = time // down
    block = _FLAT_BLOCK
    inputs = block * down
    span = taps.shape[0]
    lead = -half % down
    front = half + lead
    per_phase = ceil_div(span + lead + (block - 1) * down, inputs)
    own_first, own_stop = ceil_div(half, down), (time - 1 - half) // down + 1
    length = rows * time // inputs
    if own_stop <= own_first or length < 1:
        return None
    # Enough padding for the output to reach from output -skip to the batch's last.
    pad = max(ceil_div(front, inputs),
              ceil_div(rows * n_out - front // down, block) - length + per_phase - 1)
    skip = pad * block - front // down
    reach = per_phase * inputs
    weight = derived(taps, ("flat", block, per_phase, down), lambda: (
        _build_band(F.pad(taps, (lead, 0)), block, reach, down)
        .view(block, per_phase, inputs)
        .transpose(1, 2)[:, :, None].contiguous(memory_format=torch.channels_last)))
    signal = x.reshape(-1)[: length * inputs].view(1, length, inputs).transpose(1, 2)[:, :, None]
    out = F.conv2d(signal, weight, padding=(0, pad))[0, :, 0].t().reshape(-1)
    clean_first = min(own_stop, max(own_first, block - 1 + front // down))
    clean_stop = max(clean_first, min(own_stop, (time + front - reach) // down + 1))
    # Samples from length * inputs on are left to the padding (when there are any).
    tail = rows * n_out if length * inputs == rows * time else (length * inputs - half) // down
    return _Flat(out[skip : skip + rows * n_out].view(rows, n_out), own_first, own_stop,
                 clean_first, clean_stop, reach - front, tail)


def _redo_crossings(y: Tensor, x: Tensor, left: Tensor, right: Tensor, taps: Tensor,
                    flat: _Flat, down: int, half: int) -> None:
    """Redoes, in the rows where it is NaN, any output between the own and the clean range.

    Such an output reads the neighbouring row through zero taps only: it is exact
    unless one of those products is NaN (``0 * inf``, ``0 * nan``), and then it is NaN.
    So one look at those few outputs finds the rows to redo, and a batch of finite
    values redoes none.
    """
    for start, end in ((flat.own_first, flat.clean_first), (flat.clean_stop, flat.own_stop)):
        if end > start:
            zone = y[:, start:end]
            # One sum finds out whether there is a NaN (or infinities of both signs).
            if not bool(zone.sum().isnan()):
                continue
            rows = zone.isnan().any(dim=1).nonzero()[:, 0]
            if rows.numel():
                y[rows, start:end] = _decimate_range(x[rows], left[rows], right[rows], taps,
                                                     start, end - start, down, half)


def _redo_batch_tail(y: Tensor, x: Tensor, left: Tensor, right: Tensor, taps: Tensor,
                     flat: _Flat, stop: int, down: int, half: int,
                     lengths: Tensor | None) -> None:
    """Writes the outputs before ``stop`` that read the samples the flat convolution's
    padding stands for (from ``flat.tail`` on, counted over the whole batch).

    With ``lengths`` (one per item of ``rows // items`` rows) those rows are read with
    their padding zeroed: the outputs redone here include valid ones that the caller
    keeps, and a NaN in the padding would reach them through the band's zeros.
    """
    rows, n_out = y.shape
    full, part = divmod(flat.tail, n_out)
    for low, high, start in ((full, full + 1, part), (full + 1, rows, 0)):
        high = min(rows, high)
        if high > low and stop > start:
            read = x[low:high]
            if lengths is not None:
                read = zero_beyond(read, lengths.repeat_interleave(rows // lengths.shape[0])
                                   [low:high])
            y[low:high, start:stop] = _decimate_range(
                read, left[low:high], right[low:high], taps, start, stop - start, down, half)


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
    (``_DEPTHWISE_FLOATS``) written into the output. For a contiguous ``x`` on the CPU
    whose ``time`` is a multiple of ``down``, the flat layout (:func:`_flat_decimate`)
    replaces it where some output of a row reads only that row. The few outputs at
    each end read the extension: each end is one small banded matrix product
    (:func:`_decimate_range`), not a convolution (oneDNN's set-up costs more).

    With ``lengths`` the rows are filtered as they are, padding included, and the
    outputs that read a row's padding are computed again from its own samples
    (:func:`_redo_row_ends`): no masked copy of the input.
    """
    time = x.shape[-1]
    n_out = resample_length(time, 1, kernel.down)
    down, span, half = kernel.down, kernel.span, kernel.left
    # Phase 0 holds h itself (tap w = c * down + b at [0, b, c]); conv1d correlates.
    taps = derived(weight, ("taps",), lambda: weight[0].t().reshape(-1)[:span])
    flat = None
    if time % down == 0 and x.is_contiguous() and x.device.type == "cpu":
        flat = _flat_decimate(x, taps, down, half)
    y: Tensor | None
    if flat is not None:
        y, ahead = flat.y, flat.ahead
        if is_tracing() or is_batched(y):  # the values cannot be looked at: redo them all
            first, stop = flat.clean_first, flat.clean_stop
        else:
            first, stop = flat.own_first, flat.own_stop
            _redo_crossings(y, x, left, right, taps, flat, down, half)
    else:
        lead = -half % down
        first = min(n_out, (half + lead) // down)  # the first output the interior conv gives
        stop = first + max(0, min((time - span - lead) // down + 1, n_out - first))
        ahead = span - half
        y = _depthwise_interior(x, taps, down, lead, n_out, first, stop) if stop > first else None
    if y is None:
        y = _decimate_range(x, left, right, taps, 0, n_out, down, half)
        first = stop = 0
    else:
        if first > 0:
            y[:, :first] = _decimate_range(x, left, right, taps, 0, first, down, half)
        if stop < n_out:
            y[:, stop:] = _decimate_range(x, left, right, taps, stop, n_out - stop, down, half)
        if flat is not None:
            _redo_batch_tail(y, x, left, right, taps, flat, stop, down, half, lengths)
    if lengths is not None:
        # Which outputs read only samples before the row's end: those of the interior
        # whose computation ends at or before it (in the flat layout, whose taps do, if
        # no NaN shows: _past_zero_taps); the ends' matrix products read their whole
        # stretch (a 0 tap times a NaN of the padding is NaN).
        if stop <= first:
            clean = torch.zeros_like(lengths)
        else:
            head_end = (first - 1) * down + span - half if first > 0 else 0
            interior = torch.div(lengths - ahead, down, rounding_mode="floor") + 1
            if flat is not None:
                interior = _past_zero_taps(y, lengths, interior, span - half, down)
            clean = torch.where(lengths < head_end, 0, interior.clamp(first, stop))
        clean = torch.where(lengths >= time, n_out, clean)
        _redo_row_ends(y, x, taps, down, half, lengths, clean)
    return y


def _past_zero_taps(y: Tensor, lengths: Tensor, interior: Tensor, own_ahead: int,
                    down: int) -> Tensor:
    """Per item, the first output of the flat layout that may not be exact, given lengths.

    From ``interior`` on, an output's conv step reaches the item's padding, but up to
    ``own`` (the first output whose taps read it, ``t * down + own_ahead > length``) only
    through zero taps: exact unless a value read there is NaN or infinite, which makes
    the output NaN. So ``own`` when none of those outputs is NaN, else ``interior``
    (and the caller redoes the outputs from there). ``lengths`` hold one value per item
    of ``rows // items`` rows.
    """
    own = torch.div(lengths - own_ahead, down, rounding_mode="floor") + 1
    width = int((own - interior).max())
    if width <= 0:
        return interior
    (rows, n_out), items = y.shape, lengths.shape[0]
    offsets = torch.arange(width, device=y.device)
    valid = offsets < (own - interior)[:, None]
    at = (interior[:, None] + offsets).clamp(0, n_out - 1)[:, None]
    zone = y.reshape(items, rows // items, n_out).gather(2, at.expand(-1, rows // items, -1))
    if bool(torch.where(valid[:, None], zone, y.new_zeros(())).sum().isnan()):
        return interior
    return torch.maximum(own, interior)


def _depthwise_interior(x: Tensor, taps: Tensor, down: int, lead: int, n_out: int,
                        first: int, stop: int) -> Tensor:
    """``(rows, n_out)`` with columns ``first:stop`` from depthwise convolutions of ``x``."""
    rows, time = x.shape
    y = x.new_empty(rows, n_out)
    chunk = min(rows, max(16, _DEPTHWISE_FLOATS // time // 16 * 16))
    bank = F.pad(taps, (lead, 0)).expand(chunk, 1, -1).contiguous()
    for start in range(0, rows, chunk):
        end = min(rows, start + chunk)
        # On x itself (a slice of it would be a strided copy): its outputs beyond `stop`
        # are dropped.
        y[start:end, first:stop] = F.conv1d(x[None, start:end], bank[: end - start],
                                            stride=down, groups=end - start)[0, :, : stop - first]
    return y


def _redo_row_ends(y: Tensor, x: Tensor, taps: Tensor, down: int, half: int, lengths: Tensor,
                   clean: Tensor) -> None:
    """Writes into ``y`` each item's outputs from ``clean[b]`` (or earlier) to
    ``resample_length(lengths[b])`` as if its rows ended at ``lengths[b]`` (zeros after
    it); the outputs after those are left as they are (the caller masks them).

    ``lengths`` and ``clean`` hold one value per item, an item being ``rows // items``
    consecutive rows (one row, or the channels of a batch item). Every item shorter than
    the time axis redoes its last ``steps`` outputs, enough for the item with the most
    outputs to redo (about ``len(taps) / down``, up to a conv step more in the flat
    layout when a NaN shows): their windows are gathered from ``x``
    with one index per item, not per row (on 32 x 80 rows a per-row index took 6-8x
    longer, and so did advanced indexing), the samples at or beyond the item's end read
    as zeros, and computed as one small matrix product (:func:`_decimate_stretch`); an
    item that fills the time axis keeps its outputs. Eager only (the sizes depend on the
    values of ``lengths``).
    """
    (rows, n_out), time, items = y.shape, x.shape[-1], lengths.shape[0]
    group = rows // items
    out_lengths = resample_length(lengths, 1, down)
    steps = min(n_out, int((out_lengths - clean).max()))
    if steps <= 0:
        return
    # Start at out_lengths - steps (at most clean): the redone outputs never pass n_out.
    first = (out_lengths - steps).clamp(min=0)
    index = (first[:, None] * down - half
             + torch.arange((steps - 1) * down + taps.shape[0], device=x.device))
    inside = (index >= 0) & (index < lengths[:, None])
    # One index per item, expanded over its rows (gather reads it without a copy).
    window = x.reshape(items, group, time).gather(
        2, index.clamp(0, time - 1)[:, None].expand(-1, group, -1))
    window = torch.where(inside[:, None], window, x.new_zeros(()))
    ends = _decimate_stretch(window.flatten(0, 1), taps, steps, down)
    short = (lengths < time).nonzero()[:, 0]
    rows_of = (short[:, None] * group + torch.arange(group, device=x.device)).flatten()
    at = first[short].repeat_interleave(group)[:, None] + torch.arange(steps, device=x.device)
    y[rows_of[:, None], at] = ends[rows_of]


def polyphase_resample(x: Tensor, kernel: PolyphaseKernel, weight: Tensor | None = None,
                       padtype: str = "constant", lengths: Tensor | None = None) -> Tensor:
    """Resamples the rows of ``x`` by ``kernel.up / kernel.down``.

    Long inputs run in chunks of conv steps, each reading about
    ``_CHUNK_FLOATS`` input values, so that the copies around the convolution
    stay in cache instead of streaming whole recordings through memory several
    times (measured: about twice as fast on 30 s of 8-channel audio). Decimation
    of many short rows (feature batches) runs as one convolution of all rows end to
    end (the flat layout) or as depthwise convolutions on chunks of rows.

    Args:
        x: ``(rows, time)`` floating-point tensor.
        kernel: the layout from :func:`polyphase_kernel`.
        weight: ``kernel.weight`` already as a tensor of ``x``'s dtype and device
            (a Module's cached buffer); built from ``kernel`` when None.
        padtype: what lies beyond the ends (:mod:`seqdown.dsp.padding`; background
            padtypes must have been subtracted already, they read as zeros here).
        lengths: optional int64, each in ``[0, time]``: ``(rows,)``, row ``r`` ends at
            ``lengths[r]``, or ``(items,)`` with ``items`` dividing ``rows``, each
            length holding for ``rows // items`` consecutive rows (the channels of a
            batch item). Whatever follows a row's end (NaN included) is read as zeros,
            and its outputs from ``resample_length(length, up, down)`` on hold no
            meaning: the caller masks them once (as ``FrontEnd.forward`` does). Only
            with ``padtype="constant"``; eager only (the depthwise path redoes the few
            outputs that read each row's padding instead of masking a copy of ``x``).

    Returns:
        ``(rows, resample_length(time, up, down))``, as ``scipy.signal.resample_poly``
        with the same filter and padtype: zero delay.

    Raises:
        TypeError: ``lengths`` not integer.
        ValueError: ``lengths`` is not 1-D with a divisor of ``rows`` values, holds a
            value outside ``[0, time]`` (checked in eager mode), or is given with
            another padtype.
    """
    rows, time = x.shape
    n_out = resample_length(time, kernel.up, kernel.down)
    if lengths is not None:
        items = lengths.shape[0] if lengths.dim() == 1 else -1
        if items < 0 or (rows % items if items else rows):
            raise ValueError(f"lengths must have shape ({rows},) (one per row of x) or one "
                             f"value per group of consecutive rows (a divisor of {rows}), "
                             f"got {tuple(lengths.shape)}")
        check_lengths_padtype(padtype)
        lengths = check_length_values(lengths, time).to(x.device)
    if weight is None:
        weight = torch.tensor(kernel.weight, dtype=x.dtype, device=x.device)
    outputs, inputs, per_phase = weight.shape
    steps = ceil_div(n_out, outputs)
    # Conv step q reads x[q * inputs - left : (q + per_phase) * inputs - left].
    end = (steps + per_phase - 1) * inputs - kernel.left
    if kernel.up == 1 and rows >= _DEPTHWISE_ROWS and time <= _DEPTHWISE_TIME and n_out > 0:
        end = max(end, _depthwise_end(n_out, kernel))
        # A zero extension has no samples: the ends' matrix products skip it.
        nothing = x.new_zeros(rows, 0)
        left, right = ((nothing, nothing) if extends_with_zeros(padtype)
                       else extension(x, padtype, kernel.left, max(0, end - time)))
        return _depthwise_decimate(x, kernel, weight, left, right, lengths)
    left, right = extension(x, padtype, kernel.left, max(0, end - time))
    if lengths is not None:
        x = zero_beyond(x, lengths)
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

"""Overlap-save FFT resampling: any ratio, a cost that does not grow with the filter.

The low-pass ``h`` is a continuous function of time in input samples
(:class:`seqdown.dsp.filters.SincDesign`), band-limited to the lower of the two
Nyquist frequencies. Output ``j`` sits at input time ``j * down / up`` and is

    y[j] = sum_i x[i] h(j * down / up - i).

Cut the input into blocks of ``size = a * down`` samples, overlapping by
``size - hop`` (``hop`` a multiple of ``down``), block ``b`` starting at input
sample ``b * hop - half``. Within a block, ``sum_i x[i] h(tau - i)`` for every
real ``tau`` is the band-limited interpolation of the circular convolution of
the block with the input-rate taps ``h(k)`` (placed so that ``tau = 0`` falls on
block sample ``half``): ``h`` has no energy above the lower Nyquist frequency, so
nothing is lost by sampling it at the input rate. Its spectrum is the block's
``rfft`` times the taps' ``rfft``. Evaluating that interpolation on the output
grid is an inverse FFT of ``size * up / down`` points of the same spectrum,
truncated to the output band (downsampling) or zero-extended (upsampling): the
spectrum folding of decimation, done by keeping only the bins that survive the
filter. The bins dropped are in the filter's stopband, so the result differs
from the exact sum by at most about the stopband level times the signal. The
first ``hop * up / down`` outputs of each block are exact (their taps do not
wrap around the block); the blocks' outputs follow each other without a gap.

Per input sample this costs one real FFT of ``size`` points, ``up / down`` of an
inverse one and a complex product on the kept bins, whatever the filter's
length: ``size`` only has to exceed the filter span by a margin. Memory is a few
blocks, whatever ``up * down``: ``size`` is at most about ``2 * down`` beyond the
default block length.

The blocks run in groups that fit the CPU caches (measured on 2 AVX-512 cores:
about twice as fast as one FFT call over the whole input).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from seqdown.dsp.padding import extension, segment
from seqdown.lengths import ceil_div, resample_length

__all__ = [
    "OverlapSavePlan",
    "overlap_save_blocks",
    "overlap_save_plan",
    "overlap_save_resample",
    "overlap_save_steps",
    "response_tensor",
]

#: Block length (input samples) aimed at beyond the overlap: long enough that the
#: overlap is a small share, short enough for the caches (measured, see the module notes).
_TARGET_BLOCK = 4096
#: Values per group of blocks transformed in one FFT call, counting each block's input
#: and output (``size + out_size``), whatever the dtype. Measured on 2 AVX-512 cores, 8 x
#: 30 s at the five ratios of the benchmark: fewer, larger calls than 128 Ki input values
#: are up to 20% faster on one thread, and on two they keep torch's parallel regions (each
#: a synchronisation of the threads) few enough to matter little on a busy machine.
_GROUP_VALUES = 3 << 18


def _group_blocks(plan: OverlapSavePlan) -> int:
    """Blocks (of all rows together) per FFT call."""
    return max(1, _GROUP_VALUES // (plan.size + plan.out_size))


def _smooth(n: int) -> bool:
    """Whether ``n`` has no prime factor above 7 (fast FFT lengths)."""
    for prime in (2, 3, 5, 7):
        while n % prime == 0:
            n //= prime
    return n == 1


@dataclass(frozen=True)
class OverlapSavePlan:
    """The block layout and the filter's spectrum for :func:`overlap_save`.

    Attributes:
        up: upsampling factor (coprime with ``down``).
        down: downsampling factor.
        half: filter half-length in input samples (the look-behind and look-ahead).
        size: input samples per block, a multiple of ``down``.
        hop: input samples between block starts, a multiple of ``down``.
        response: complex128 ``(bins,)``: the taps' spectrum on the kept bins,
            scaled for the inverse FFT of ``size * up / down`` points.
    """

    up: int
    down: int
    half: int
    size: int
    hop: int
    response: np.ndarray

    @property
    def out_size(self) -> int:
        """Points of each block's inverse FFT (output samples per block)."""
        return self.size * self.up // self.down

    @property
    def out_hop(self) -> int:
        """Exact output samples per block."""
        return self.hop * self.up // self.down


def _block_size(up: int, down: int, overlap: int) -> int:
    """The block length: a multiple of ``down`` past the overlap, preferring fast FFT sizes."""
    multiple = max(ceil_div(overlap + max(_TARGET_BLOCK, 3 * overlap), down), 2)
    if down > 1 << 12:
        return multiple * down  # huge down: any multiple is as (un)smooth as another
    for candidate in range(multiple, 2 * multiple + 1):
        if _smooth(candidate * down) and _smooth(candidate * up):
            return candidate * down
    return multiple * down


def overlap_save_plan(taps: np.ndarray, up: int, down: int) -> OverlapSavePlan:
    """Lays out the input-rate filter ``taps`` (odd length, centred) for :func:`overlap_save`.

    Args:
        taps: the low-pass at the input rate, e.g. ``design_sinc(up, down).taps()``.
        up: upsampling factor (coprime with ``down``).
        down: downsampling factor.
    """
    taps = np.asarray(taps, dtype=np.float64)
    half = (taps.size - 1) // 2
    overlap = down * ceil_div(2 * half + 1, down)
    size = _block_size(up, down, overlap)
    # Output time tau (from block sample `half`) needs h(half + tau - i) at block sample i,
    # so the circular filter holds h(k) at index k - half (mod size).
    circular = np.zeros(size)
    np.add.at(circular, (np.arange(-half, half + 1) - half) % size, taps)
    bins = min(size, size * up // down) // 2 + 1
    response = np.fft.rfft(circular)[:bins] * (up / down)
    response.setflags(write=False)
    return OverlapSavePlan(up, down, half, size, size - overlap, response)


def response_tensor(plan: OverlapSavePlan, x: Tensor) -> Tensor:
    """``plan.response`` as a complex tensor of ``x``'s precision, on ``x``'s device."""
    complex_dtype = torch.complex128 if x.dtype == torch.float64 else torch.complex64
    return torch.tensor(plan.response, dtype=complex_dtype, device=x.device)


def overlap_save_blocks(frames: Tensor, plan: OverlapSavePlan, response: Tensor) -> Tensor:
    """The exact outputs of whole blocks.

    Args:
        frames: ``(..., blocks, plan.size)`` input blocks (any strides).
        plan: the layout.
        response: ``plan.response`` as a complex tensor on ``frames``' device.

    Returns:
        ``(..., blocks, plan.out_hop)``: the outputs of each block (a view).
    """
    spectrum = torch.fft.rfft(frames, dim=-1)[..., : response.shape[0]] * response
    return torch.fft.irfft(spectrum, n=plan.out_size, dim=-1)[..., : plan.out_hop]


def overlap_save_steps(x: Tensor, plan: OverlapSavePlan, response: Tensor, blocks: int) -> Tensor:
    """Runs ``blocks`` whole blocks over an input whose sample 0 is block 0's first sample.

    Args:
        x: ``(rows, time)`` with ``time >= (blocks - 1) * plan.hop + plan.size``.
        plan: the layout.
        response: ``plan.response`` as a complex tensor on ``x``'s device.
        blocks: blocks to compute.

    Returns:
        ``(rows, blocks * plan.out_hop)``, in groups that fit the caches.
    """
    rows = x.shape[0]
    y = x.new_empty(rows, blocks * plan.out_hop)
    group = max(1, _group_blocks(plan) // max(rows, 1))
    for low in range(0, blocks, group):
        high = min(blocks, low + group)
        frames = x[:, low * plan.hop : (high - 1) * plan.hop + plan.size]
        out = y[:, low * plan.out_hop : high * plan.out_hop].view(rows, high - low, plan.out_hop)
        out.copy_(overlap_save_blocks(frames.unfold(-1, plan.size, plan.hop), plan, response))
    return y


def overlap_save_resample(x: Tensor, plan: OverlapSavePlan, padtype: str = "constant",
                 response: Tensor | None = None) -> Tensor:
    """Resamples the rows of ``x`` by ``plan.up / plan.down``.

    Args:
        x: ``(rows, time)`` float32 or float64 tensor, any device.
        plan: the layout from :func:`overlap_save_plan`.
        padtype: what lies beyond the ends (:mod:`seqdown.dsp.padding`; background
            padtypes must have been subtracted already, they read as zeros here).
        response: ``plan.response`` as a complex tensor of ``x``'s precision and
            device (a Module's cached buffer); made from ``plan`` when None.

    Returns:
        ``(rows, resample_length(time, up, down))``. Differentiable.
    """
    rows, time = x.shape
    n_out = resample_length(time, plan.up, plan.down)
    if n_out == 0:
        return x.new_zeros(rows, 0)
    if response is None:
        response = response_tensor(plan, x)
    blocks = ceil_div(n_out, plan.out_hop)
    end = (blocks - 1) * plan.hop - plan.half + plan.size  # one past the last sample read
    left, right = extension(x, padtype, plan.half, max(0, end - time), hold=plan.half)
    # Blocks that lie inside x are views of it; the ones at the ends are read via `segment`.
    first = min(blocks, ceil_div(plan.half, plan.hop))
    last = max(first, min(blocks, (time + plan.half - plan.size) // plan.hop + 1))
    group_rows = max(1, min(rows, _group_blocks(plan)))
    group_blocks = max(1, _group_blocks(plan) // group_rows)
    y = x.new_empty(rows, blocks * plan.out_hop)
    for r in range(0, rows, group_rows):
        part, ends = x[r : r + group_rows], (left[r : r + group_rows], right[r : r + group_rows])
        spans: list[tuple[int, int]] = [(0, first), (last, blocks)]
        spans += [(b, min(b + group_blocks, last)) for b in range(first, last, group_blocks)]
        for low, high in spans:
            if high <= low:
                continue
            start, stop = low * plan.hop - plan.half, (high - 1) * plan.hop - plan.half + plan.size
            if low >= first and high <= last:
                frames = part[:, start:stop].unfold(-1, plan.size, plan.hop)
            else:
                frames = segment(part, *ends, start, stop).unfold(-1, plan.size, plan.hop)
            out = y[r : r + group_rows, low * plan.out_hop : high * plan.out_hop]
            out = out.view(-1, high - low, plan.out_hop)
            out.copy_(overlap_save_blocks(frames, plan, response))
    return y[:, :n_out]

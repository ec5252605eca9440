"""Block-by-block resampling of long recordings in bounded memory.

``StreamingResampler`` runs the same plan as :func:`seqdown.resample` (the exact
polyphase path or the overlap-save FFT path, :mod:`seqdown.dsp.engine`) over a
stream of blocks. Both engines advance in steps: a polyphase conv step reads
``taps_per_phase * inputs`` input samples and emits ``outputs``; an FFT block
reads ``size`` samples and emits ``out_hop``; with the tabulated filter a step
is one period of ``down`` inputs and ``up`` outputs. Step ``q`` starts ``q * advance``
samples after the first one, which sits ``left`` samples before the signal (the
filter's look-behind, zeros). A step runs as soon as its whole window has
arrived, and the input before the next step's window is dropped, so the state
is less than one window plus one block, for every ratio (the FFT window is a
few thousand samples, at most about ``2 * down``). ``flush`` pads the end with
zeros, as the one-shot resampler does (``padtype="constant"``), and emits
exactly the remaining ``resample_length(total, up, down)`` samples. The steps
are the ones the one-shot path computes, so the concatenated output equals
``resample(whole, orig_freq, new_freq)`` up to float rounding.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from seqdown._validation import check_waveform
from seqdown.dsp.engine import ResamplingPlan, compute_dtype, resampling_plan
from seqdown.dsp.filters import RESAMPLE_ATTENUATION, RESAMPLE_TRANSITION
from seqdown.dsp.overlap_save import overlap_save_steps, response_tensor
from seqdown.dsp.polyphase import polyphase_steps
from seqdown.dsp.rates import rate_ratio
from seqdown.dsp.table import table_steps
from seqdown.lengths import ceil_div, resample_length

__all__ = ["EngineSteps", "StreamingResampler", "engine_array", "engine_steps", "run_steps"]


@dataclass(frozen=True)
class EngineSteps:
    """How a plan's engine advances over its input (the module notes).

    Step ``q`` reads the ``window`` input samples from ``q * advance - left`` on
    (samples before the signal are its padding) and emits the ``outputs`` output
    samples from ``q * outputs`` on, exactly as the one-shot path computes them.

    Attributes:
        advance: input samples between the starts of consecutive steps.
        outputs: output samples per step.
        window: input samples one step reads.
        left: samples step 0 reads before the signal (the filter's look-behind).
    """

    advance: int
    outputs: int
    window: int
    left: int

    def count(self, n: int) -> int:
        """Steps whose whole window lies within the padding and the first ``n`` samples."""
        return max(0, (n + self.left - self.window) // self.advance + 1)


def engine_steps(plan: ResamplingPlan) -> EngineSteps:
    """The step layout of ``plan``'s engine (a polyphase conv step, an FFT block, a period)."""
    if plan.kernel is not None:
        outputs, inputs, per_phase = plan.kernel.weight.shape
        return EngineSteps(inputs, outputs, per_phase * inputs, plan.kernel.left)
    if plan.fft is not None:
        fft = plan.fft
        return EngineSteps(fft.hop, fft.out_hop, fft.size, fft.half)
    table = plan._table()  # one output period of `down` inputs and `up` outputs
    return EngineSteps(table.down, table.up, table.down + 2 * table.half + 1, table.half)


def engine_array(plan: ResamplingPlan, like: Tensor) -> Tensor:
    """``plan``'s array (weight, spectrum or table) in ``like``'s precision and device."""
    if plan.kernel is not None:
        return torch.tensor(plan.kernel.weight, dtype=like.dtype, device=like.device)
    if plan.fft is not None:
        return response_tensor(plan.fft, like)
    return torch.tensor(plan._table().table, dtype=like.dtype, device=like.device)


def run_steps(plan: ResamplingPlan, array: Tensor, x: Tensor, first: int, steps: int) -> Tensor:
    """Runs engine steps ``first .. first + steps - 1`` of ``plan``.

    Args:
        plan: the plan.
        array: :func:`engine_array` of ``plan`` for ``x``.
        x: ``(rows, time)`` input from step ``first``'s first sample on, holding at
            least ``(steps - 1) * advance + window`` samples (:func:`engine_steps`).
        first: the index of the first step (the tabulated filter needs it).
        steps: how many steps to run.

    Returns:
        ``(rows, steps * outputs)``: the one-shot path's outputs of those steps.
    """
    if steps <= 0:
        return x.new_zeros(x.shape[0], 0)
    if plan.kernel is not None:
        return polyphase_steps(x, array, steps)
    if plan.fft is not None:
        return overlap_save_steps(x, plan.fft, array, steps)
    # Period p covers outputs [p * up, (p + 1) * up), reading inputs from p * down - half.
    table = plan._table()
    start = first * table.up
    return table_steps(x, table, array, start, start + steps * table.up,
                       first * table.down - table.half)


class StreamingResampler:
    """Resamples ``(channels, time)`` audio that arrives in blocks.

    Args:
        orig_freq: input sample rate in Hz (an integer or integral float, <= 768000).
        new_freq: output sample rate in Hz, likewise.
        attenuation: as :func:`seqdown.resample` (default 120 dB).
        transition: as :func:`seqdown.resample` (default 0.1).

    The engine is the one ``method="auto"`` picks for the spec.

    Blocks must all have the same number of channels, dtype and device.
    Computation is in float32 for float16/bfloat16 blocks, as :func:`resample`.

    Example:
        >>> stream = StreamingResampler(48000, 16000)
        >>> x = torch.randn(2, 48000)
        >>> y = torch.cat([stream.process(b) for b in x.split(10000, dim=1)] + [stream.flush()], 1)
        >>> torch.allclose(y, seqdown.resample(x, 48000, 16000), atol=1e-5)
        True
    """

    def __init__(self, orig_freq: float, new_freq: float,
                 attenuation: float = RESAMPLE_ATTENUATION,
                 transition: float = RESAMPLE_TRANSITION) -> None:
        up, down = rate_ratio(orig_freq, new_freq)
        self.plan = resampling_plan(up, down, attenuation, transition)
        self._step = engine_steps(self.plan)
        self._array: Tensor | None = None  # the weight or the response, on the blocks' device
        self._buffer: Tensor | None = None  # input from the next step's first sample on
        self._dtype: torch.dtype | None = None  # dtype of the blocks, and of the outputs
        self._consumed = 0  # input samples received
        self._produced = 0  # output samples emitted
        self._produced_steps = 0  # steps computed
        self._finished = False

    @property
    def samples_in(self) -> int:
        """Input samples received so far."""
        return self._consumed

    @property
    def samples_out(self) -> int:
        """Output samples emitted so far."""
        return self._produced

    @property
    def kernel(self) -> ResamplingPlan:
        """The plan that runs (its ``up`` and ``down`` give the ratio); same as :attr:`plan`."""
        return self.plan

    @property
    def window(self) -> int:
        """Input samples one step reads: the state is below ``window`` plus one block."""
        return self._step.window

    def _identity(self) -> bool:
        return self.plan.up == self.plan.down == 1

    def _start(self, block: Tensor) -> None:
        """Sets up dtype, the plan's array and the leading zeros from the first block."""
        compute = compute_dtype(block)
        self._dtype = block.dtype
        self._array = engine_array(self.plan, block.new_zeros(0, dtype=compute))
        # The first step reads `left` samples before the signal: zeros.
        self._buffer = block.new_zeros(block.shape[0], self._step.left, dtype=compute)

    def _steps(self, buffer: Tensor, steps: int) -> Tensor:
        assert self._array is not None
        return run_steps(self.plan, self._array, buffer, self._produced_steps, steps)

    def _emit(self, y: Tensor) -> Tensor:
        self._produced += y.shape[1]
        return y.to(self._dtype)

    def process(self, block: Tensor) -> Tensor:
        """Takes the next ``(channels, n)`` block; returns the outputs it completes.

        Raises:
            RuntimeError: after :meth:`flush`.
            ValueError: ``block`` is not 2-D or changes the channel count.
        """
        if self._finished:
            raise RuntimeError("process() called after flush(); make a new StreamingResampler")
        check_waveform(block, "block")
        if block.dim() != 2:
            raise ValueError(f"block must have shape (channels, time), got {tuple(block.shape)}")
        if self._buffer is None:
            self._start(block)
        assert self._buffer is not None
        if block.shape[0] != self._buffer.shape[0]:
            raise ValueError(f"block must have {self._buffer.shape[0]} channels like the "
                             f"previous blocks, got shape {tuple(block.shape)}")
        self._consumed += block.shape[1]
        if self._identity():
            return self._emit(block.clone())
        buffer = torch.cat([self._buffer, block.to(self._buffer.dtype)], dim=1)
        steps = self._step.count(buffer.shape[1] - self._step.left)
        self._buffer = buffer[:, steps * self._step.advance:]
        out = self._steps(buffer, steps)
        self._produced_steps += steps
        return self._emit(out)

    def flush(self) -> Tensor:
        """Pads the end with zeros and returns the remaining outputs.

        After ``flush``, :attr:`samples_out` equals
        ``resample_length(samples_in, up, down)``. Returns a ``(0, 0)`` tensor
        when no block was given.
        """
        if self._finished:
            raise RuntimeError("flush() called twice; make a new StreamingResampler")
        self._finished = True
        if self._buffer is None:
            return torch.zeros(0, 0)
        remaining = resample_length(self._consumed, self.plan.up, self.plan.down)
        remaining -= self._produced
        if self._identity():
            return self._emit(self._buffer[:, :0])
        step = self._step
        steps = max(0, ceil_div(remaining, step.outputs))
        needed = (steps - 1) * step.advance + step.window if steps else 0
        buffer = F.pad(self._buffer, (0, max(0, needed - self._buffer.shape[1])))
        return self._emit(self._steps(buffer, steps)[:, :remaining])

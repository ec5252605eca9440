"""Block-by-block resampling of long recordings in bounded memory.

``StreamingResampler`` runs the same plan as :func:`seqdown.resample` (the exact
polyphase path, the overlap-save FFT path, the tabulated filter or the two-stage
cascade, :mod:`seqdown.dsp.engine`) over a stream of blocks. Every engine
advances in steps: a polyphase conv step reads ``taps_per_phase * inputs`` input
samples and emits ``outputs``; an FFT block reads ``size`` samples and emits
``out_hop``; with the tabulated filter a step is one period of ``down`` inputs and
``up`` outputs. Step ``q`` starts ``q * advance`` samples after the first one,
which sits ``left`` samples before the signal (the filter's look-behind, zeros).
A step runs as soon as its whole window has arrived, and the input before the
next step's window is dropped, so the state is less than one window plus one
block, for every ratio (the FFT window is a few thousand samples, at most about
``2 * down``). ``flush`` pads the end with zeros, as the one-shot resampler does
(``padtype="constant"``), and emits exactly the remaining ``resample_length(total,
up, down)`` samples. The steps are the ones the one-shot path computes, on the
same samples, so the concatenated output equals ``resample(whole, orig_freq,
new_freq)`` up to float rounding (FFT calls over other groups of blocks may round
differently).

A cascade (:mod:`seqdown.dsp.cascade`) streams as its two stages in turn
(:class:`CascadeStream`): stage 1 sees the same ``lead`` zeros before and after
the signal as in one shot, stage 2 the same zeros where the intermediate signal
is the extension's continuation, and both run their own steps.
"""

from __future__ import annotations

import math
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

__all__ = [
    "CascadeStream",
    "EngineSteps",
    "EngineStream",
    "PlanStream",
    "StreamOrder",
    "StreamingResampler",
    "engine_array",
    "engine_steps",
    "plan_stream",
    "run_steps",
]


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

    def finish(self, remaining: int) -> tuple[int, int]:
        """The steps that give ``remaining`` more outputs, and the input samples from the
        first of them on that they read (the end of a stream, padded to that)."""
        steps = max(0, ceil_div(remaining, self.outputs))
        return steps, (steps - 1) * self.advance + self.window if steps else 0


def engine_steps(plan: ResamplingPlan) -> EngineSteps:
    """The step layout of ``plan``'s engine (a polyphase conv step, an FFT block, a period).

    Raises:
        ValueError: a ``"cascade"`` plan (each of its stages has its own steps).
    """
    if plan.stages is not None:
        raise ValueError("a cascade has no single step layout: each of plan.stages has its "
                         "own (see CascadeStream)")
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


class StreamOrder:
    """The order every stream keeps: pushes (at least one that took), then one flush."""

    def __init__(self) -> None:
        self.done = False

    def push(self) -> None:
        """Raises a RuntimeError after the flush."""
        if self.done:
            raise RuntimeError("push() after flush(): the stream has ended; make a new stream")

    def flush(self, started: bool) -> None:
        """Raises a RuntimeError after the flush or unless ``started`` (a push took); else
        records the flush."""
        if self.done or not started:
            raise RuntimeError("flush() needs a stream that was pushed at least one chunk "
                               "(possibly empty) and not flushed yet")
        self.done = True


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
    if steps <= 0 or x.shape[0] == 0:  # nothing to compute (no row: some kernels refuse it)
        return x.new_zeros(x.shape[0], max(0, steps) * engine_steps(plan).outputs)
    if plan.kernel is not None:
        return polyphase_steps(x, array, steps)
    if plan.fft is not None:
        return overlap_save_steps(x, plan.fft, array, steps)
    # Period p covers outputs [p * up, (p + 1) * up), reading inputs from p * down - half.
    table = plan._table()
    start = first * table.up
    return table_steps(x, table, array, start, start + steps * table.up,
                       first * table.down - table.half)


class EngineStream:
    """Runs one engine's steps over ``(rows, time)`` blocks, with zeros before and after.

    ``push`` returns the outputs of every step whose window has arrived; ``flush``
    pads the end with zeros and returns the rest, ``resample_length(received, up,
    down)`` outputs in all. The blocks must be in the dtype the plan computes in.
    """

    def __init__(self, plan: ResamplingPlan) -> None:
        self.plan = plan
        self.steps = engine_steps(plan)
        self._array: Tensor | None = None  # the plan's array on the blocks' device
        self._buffer: Tensor | None = None  # input from the next step's first sample on
        self._next = 0  # the first step not run yet
        self._order = StreamOrder()
        self.received = 0  #: input samples pushed.
        self.emitted = 0  #: output samples returned.

    @property
    def buffered(self) -> int:
        """Input samples held (less than one step's window plus one block)."""
        return 0 if self._buffer is None else self._buffer.shape[1]

    def ready(self, n: int) -> int:
        """Outputs returned after ``n`` input samples have been pushed (not flushed)."""
        return self.steps.count(n) * self.steps.outputs

    def _run(self, buffer: Tensor, count: int) -> Tensor:
        assert self._array is not None
        y = run_steps(self.plan, self._array, buffer, self._next, count)
        self._next += count
        self._buffer = buffer[:, count * self.steps.advance :]
        return y

    def push(self, x: Tensor) -> Tensor:
        """Takes ``(rows, n)`` input samples; returns the outputs they complete."""
        self._order.push()
        if self._buffer is None:
            self._array = engine_array(self.plan, x)
            self._buffer = x.new_zeros(x.shape[0], self.steps.left)  # the look-behind
        self.received += x.shape[1]
        buffer = torch.cat([self._buffer, x], dim=1)
        y = self._run(buffer, self.steps.count(buffer.shape[1] - self.steps.left))
        self.emitted += y.shape[1]
        return y

    def flush(self) -> Tensor:
        """Pads the end with zeros and returns the remaining outputs (after a push)."""
        self._order.flush(self._buffer is not None)
        assert self._buffer is not None
        remaining = resample_length(self.received, self.plan.up, self.plan.down) - self.emitted
        count, needed = self.steps.finish(remaining)
        buffer = F.pad(self._buffer, (0, max(0, needed - self._buffer.shape[1])))
        y = self._run(buffer, count)[:, :remaining]
        self.emitted += y.shape[1]
        return y


class CascadeStream:
    """Runs a ``"cascade"`` plan's two stages over ``(rows, time)`` blocks (module notes).

    The same interface as :class:`EngineStream`; the outputs are the one-shot
    path's (``padtype="constant"``), computed on the same samples.
    """

    def __init__(self, plan: ResamplingPlan) -> None:
        if plan.stages is None or plan.layout is None:
            raise ValueError(f"CascadeStream needs a 'cascade' plan, got method={plan.method!r} "
                             "(plan_stream picks the stream of any plan)")
        self.plan, self.layout = plan, plan.layout
        self.first, self.second = EngineStream(plan.stages[0]), EngineStream(plan.stages[1])
        layout = self.layout
        self._drop_middle = layout.unread  # stage 1 outputs still to drop
        self._drop_out = layout.skip  # stage 2 outputs still to drop
        self._pending: Tensor | None = None  # outputs computed, not returned yet
        self._order = StreamOrder()
        self.received = 0  #: input samples pushed.
        self.emitted = 0  #: output samples returned.

    @property
    def buffered(self) -> int:
        """Samples held by both stages (each in its own rate) and outputs not yet due."""
        pending = 0 if self._pending is None else self._pending.shape[1]
        return self.first.buffered + self.second.buffered + pending

    def ready(self, n: int) -> int:
        """Outputs returned after ``n`` input samples have been pushed (not flushed)."""
        layout = self.layout
        middle = self.first.ready(layout.lead + n) - layout.unread
        fed = max(0, middle) + layout.uncomputed
        out = max(0, self.second.ready(fed) - layout.skip)
        return min(out, resample_length(n, self.plan.up, self.plan.down))

    def events(self) -> range:
        """The input counts at which :meth:`ready` can change (those that complete a
        stage 1 step), until the emission repeats itself.

        Stage 2 completes a step each ``advance`` intermediate samples, stage 1 emits
        ``outputs`` per step: their phases repeat every ``advance / gcd(outputs,
        advance)`` stage 1 steps, once stage 2's first window has been filled.
        """
        first, second = self.first.steps, self.second.steps
        # Stage 1's step count changes where lead + n reaches window - left + k * advance.
        start = first.window - first.left - self.layout.lead
        start = start if start >= 0 else start % first.advance
        fill = ceil_div(self.layout.back + second.window, first.outputs) + 2
        period = second.advance // math.gcd(first.outputs, second.advance)
        return range(start, start + (fill + period + 1) * first.advance + 1, first.advance)

    def _second(self, middle: Tensor) -> None:
        drop = min(self._drop_middle, middle.shape[1])
        self._drop_middle -= drop
        y = self.second.push(middle[:, drop:])
        self._keep(y)

    def _keep(self, y: Tensor) -> None:
        drop = min(self._drop_out, y.shape[1])
        self._drop_out -= drop
        y = y[:, drop:]
        self._pending = y if self._pending is None else torch.cat([self._pending, y], dim=1)

    def _take(self, due: int) -> Tensor:
        assert self._pending is not None
        count = max(0, due - self.emitted)
        y, self._pending = self._pending[:, :count], self._pending[:, count:]
        self.emitted += y.shape[1]
        return y

    def push(self, x: Tensor) -> Tensor:
        """Takes ``(rows, n)`` input samples; returns the outputs they complete."""
        self._order.push()
        layout = self.layout
        if self.first.received == 0:  # the zeros stage 1 reads before the signal
            self._second(self.first.push(x.new_zeros(x.shape[0], layout.lead)))
            if layout.uncomputed:  # ... and stage 2 before stage 1's first
                self._keep(self.second.push(x.new_zeros(x.shape[0], layout.uncomputed)))
        self.received += x.shape[1]
        self._second(self.first.push(x))
        return self._take(resample_length(self.received, self.plan.up, self.plan.down))

    def flush(self) -> Tensor:
        """Pads the end as the one-shot path does and returns the remaining outputs."""
        self._order.flush(self._pending is not None)
        assert self._pending is not None
        layout, n = self.layout, self.received
        rows = self._pending.shape[0]
        middle = self.first.push(self._pending.new_zeros(rows, layout.lead))
        self._second(torch.cat([middle, self.first.flush()], dim=1))
        end, stop = layout.first_end(n), layout.second_end(n, self.plan.up, self.plan.down)
        if stop > end:  # the continuation of the zeros: zeros
            self._second(self._pending.new_zeros(rows, stop - end))
        self._keep(self.second.flush())
        return self._take(resample_length(n, self.plan.up, self.plan.down))


#: The streams of :func:`plan_stream`: one engine or a cascade.
PlanStream = EngineStream | CascadeStream


def plan_stream(plan: ResamplingPlan) -> PlanStream:
    """A new stream of ``plan`` over ``(rows, time)`` blocks (zeros beyond the ends)."""
    return CascadeStream(plan) if plan.stages is not None else EngineStream(plan)


class StreamingResampler:
    """Resamples ``(channels, time)`` audio that arrives in blocks.

    Args:
        orig_freq: input sample rate in Hz (an integer or integral float, <= 768000).
        new_freq: output sample rate in Hz, likewise.
        attenuation: as :func:`seqdown.resample` (default 120 dB).
        transition: as :func:`seqdown.resample` (default 0.1).

    The engine is the one ``method="auto"`` picks for the spec (two stages for
    extreme decimation). Blocks must all have the same number of channels, dtype
    and device. Computation is in float32 for float16/bfloat16 blocks, as
    :func:`resample`.

    Example:
        >>> stream = StreamingResampler(48000, 16000)
        >>> x = torch.randn(2, 48000)
        >>> y = torch.cat([stream.process(b) for b in x.split(10000, dim=1)] + [stream.flush()], 1)
        >>> torch.allclose(y, seqdown.resample(x, 48000, 16000), rtol=1e-6, atol=1e-6)
        True
    """

    def __init__(self, orig_freq: float, new_freq: float,
                 attenuation: float = RESAMPLE_ATTENUATION,
                 transition: float = RESAMPLE_TRANSITION) -> None:
        up, down = rate_ratio(orig_freq, new_freq)
        self.plan = resampling_plan(up, down, attenuation, transition)
        self._stream = None if self._identity() else plan_stream(self.plan)
        self._like: Tensor | None = None  # an empty slice of the first block (channels, dtype)
        self._consumed = 0  # input samples received
        self._produced = 0  # output samples emitted
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
        """Input samples one step reads (for a cascade, stage 1's step and stage 2's,
        in its own samples): the state is below ``window`` plus one block."""
        if isinstance(self._stream, CascadeStream):
            return self._stream.first.steps.window + self._stream.second.steps.window
        return 0 if self._stream is None else self._stream.steps.window

    @property
    def buffered(self) -> int:
        """Samples held as state (input samples, for a cascade those of both stages)."""
        return 0 if self._stream is None else self._stream.buffered

    def _identity(self) -> bool:
        return self.plan.up == self.plan.down == 1

    def _emit(self, y: Tensor) -> Tensor:
        self._produced += y.shape[1]
        assert self._like is not None
        return y.to(self._like.dtype)

    def process(self, block: Tensor) -> Tensor:
        """Takes the next ``(channels, n)`` block; returns the outputs it completes.

        Raises:
            RuntimeError: after :meth:`flush`.
            ValueError: ``block`` is not 2-D, or changes the channel count, the dtype or
                the device.
        """
        if self._finished:
            raise RuntimeError("process() called after flush(); make a new StreamingResampler")
        check_waveform(block, "block")
        if block.dim() != 2:
            raise ValueError(f"block must have shape (channels, time), got {tuple(block.shape)}")
        if self._like is None:
            self._like = block[:, :0]
        like = self._like
        if (block.shape[0], block.dtype, block.device) != (like.shape[0], like.dtype, like.device):
            raise ValueError(f"block must have {like.shape[0]} channels, dtype {like.dtype} and "
                             f"device {like.device} like the previous blocks, got shape "
                             f"{tuple(block.shape)}, dtype {block.dtype} on {block.device}")
        self._consumed += block.shape[1]
        if self._stream is None:
            return self._emit(block.clone())
        return self._emit(self._stream.push(block.to(compute_dtype(block))))

    def flush(self) -> Tensor:
        """Pads the end with zeros and returns the remaining outputs.

        After ``flush``, :attr:`samples_out` equals
        ``resample_length(samples_in, up, down)``. Returns a ``(0, 0)`` tensor
        when no block was given.
        """
        if self._finished:
            raise RuntimeError("flush() called twice; make a new StreamingResampler")
        self._finished = True
        if self._like is None:
            return torch.zeros(0, 0)
        if self._stream is None:
            return self._like.clone()
        return self._emit(self._stream.flush())

"""Chunked == offline: one streaming engine for every front-end, driven by its geometry.

Every seqdown op is local: output step ``t`` reads a window of input steps
whose bounds are linear in ``t`` (:func:`~seqdown.lengths.window_start` and
:func:`~seqdown.lengths.window_stop`, fixed by four integers: ``up``, ``down``,
``left`` and ``span``, the :class:`StreamGeometry`). The engine keeps the input
from the start of the first window it has not emitted yet, and after each chunk
runs the module's *own offline op* on that buffer, keeping only the output
steps whose window lies inside it (:func:`~seqdown.lengths.ready_length`):

* a buffer that starts at an input step ``a`` with ``a * up / down`` a whole
  number gives output ``u`` equal to the offline output ``a * up / down + u``
  wherever the window lies inside the buffer, because the op is shift
  equivariant away from its edges; the buffer's own edges only change outputs
  whose window crosses them, and those are not taken (except at the true start
  and, on :meth:`Streamer.flush`, the true end, where the edges are the signal's);
* so the concatenated output is the offline output, computed by the same code,
  and the state is one window plus less than one chunk of input.

A causal op (``delay`` > 0) is the offline op on the input delayed by ``delay``
steps of its padding value; the engine delays the stream the same way. The
offline length law decides how many steps exist in all, so :meth:`flush` emits
exactly ``output_length(total)`` steps altogether.

An op whose offline path advances in whole *engine steps* on a fixed grid
(``Resample``'s overlap-save FFT blocks and tabulated periods,
:class:`~seqdown.dsp.streaming.EngineSteps`) is not shift equivariant at the
float level: its blocks start at ``q * advance - left``, wherever the buffer
starts. Its geometry carries those ``steps``, and :class:`StepStreamer` runs the
offline path's own steps on the offline path's grid (through
:func:`~seqdown.dsp.streaming.run_steps`), each as soon as its whole block has
arrived, so every output is the offline one, computed on the same samples. A step
emits as a block, so its lookahead is about one block (``advance + window``), more
than the filter's half length; the state is below one block plus one chunk.

``Resample``'s two-stage path (extreme decimation) has no single grid: its
:class:`RowsStreamer` hands each chunk's rows to the resampling engine's own
stream of the cascade (:class:`~seqdown.dsp.streaming.CascadeStream`), which runs
both stages' steps on the one-shot path's samples.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from seqdown._validation import check_signal
from seqdown.dsp.engine import compute_dtype
from seqdown.dsp.streaming import EngineSteps, PlanStream, StreamOrder
from seqdown.lengths import ready_length, stream_lookahead, window_start

#: ``extend(signal, before, after) -> (leading, trailing)`` steps beyond a signal's ends.
Extension = Callable[[Tensor, int, int], tuple[Tensor, Tensor]]

__all__ = ["ChainStreamer", "EncoderStreamer", "RowsStreamer", "StepStreamer", "StreamGeometry",
           "Streamer"]


@dataclass(frozen=True)
class StreamGeometry:
    """Where each output step of an op reads its input (see the module notes).

    Attributes:
        up: output steps per ``down`` input steps, in lowest terms with ``down``.
        down: input steps per ``up`` output steps (an integer op's stride).
        left: how far, in steps of the ``up``-times upsampled input, the window
            of output ``t`` starts before ``t * down`` (an op's left padding).
        span: the window's length in the same steps (an op's kernel span).
        delay: input steps of padding a causal op prepends (0: not causal).
        steps: the engine steps an op advances in on a fixed grid (streamed by
            :class:`StepStreamer`), or None: each output is its window's alone.
    """

    up: int = 1
    down: int = 1
    left: int = 0
    span: int = 1
    delay: int = 0
    steps: EngineSteps | None = None

    @property
    def align(self) -> int:
        """The buffer may start only at multiples of this many input steps."""
        return self.down // math.gcd(self.up, self.down)

    def ready(self, n: int) -> int:
        """Output steps computable from the first ``n`` (undelayed) input steps.

        Those whose window lies in them, or with engine ``steps``, the outputs of
        the steps whose whole block does.
        """
        if self.steps is not None:
            return self.steps.count(n + self.delay) * self.steps.outputs
        return ready_length(n + self.delay, self.up, self.down, self.left, self.span)

    def first_needed(self, t: int) -> int:
        """The aligned (delayed) input step a buffer must start at to compute output ``t``.

        Not after ``t``'s own position: an output may read no input at all (a transposed
        convolution's kernel shorter than its factor), and the op run on the buffer
        gives the outputs from the buffer's start on.
        """
        start = min(window_start(t, self.up, self.down, self.left), t * self.down // self.up)
        return max(0, start // self.align * self.align)

    def horizon(self) -> int:
        """Input steps after which emission is periodic (for :func:`stream_lookahead`)."""
        if self.steps is not None:  # periodic with the step, from the first block on
            return self.steps.window + 3 * self.steps.advance + self.delay + 16
        return 4 * (-(-(self.span + self.left) // self.up) + self.delay + self.down) + 16


def _check_chunk(chunk: object, reference: Tensor | None) -> Tensor:
    x = check_signal(chunk, "chunk")
    if reference is not None and (x.shape[:2] != reference.shape[:2] or x.dtype != reference.dtype
                                  or x.device != reference.device):
        raise ValueError(
            "chunk must continue the stream with the same (batch, channels), dtype and device "
            f"as the first chunk, {tuple(reference.shape[:2])} {reference.dtype} on "
            f"{reference.device}; got {tuple(x.shape[:2])} {x.dtype} on {x.device}"
        )
    return x


class Streamer:
    """Runs a front-end over a stream of chunks; the output equals the offline output.

    Made by a front-end's ``streamer()``; see the module notes for how it works.
    The ``batch`` items of a chunk are streams that advance together.

    Args:
        op: the module's offline op on ``(batch, channels, time)`` without padding.
        geometry: where each output step reads its input.
        output_length: the module's length law, for ints.
        output_channels: the module's channel rule.
        pad_value: what the op sees outside the signal (prepended ``delay`` times).

    Example:
        >>> pool = seqdown.MaxPool(3, stride=2, padding=1)
        >>> stream, x = pool.streamer(), torch.randn(1, 2, 9)
        >>> parts = [stream.push(c) for c in x.split([4, 0, 1, 4], dim=-1)] + [stream.flush()]
        >>> [p.shape[-1] for p in parts], torch.equal(torch.cat(parts, -1), pool(x)[0])
        ([2, 0, 0, 2, 1], True)
    """

    def __init__(self, op: Callable[[Tensor], Tensor], geometry: StreamGeometry,
                 output_length: Callable[[int], int], output_channels: Callable[[int], int],
                 pad_value: float = 0.0) -> None:
        self._op, self.geometry = op, geometry
        self._output_length, self._output_channels = output_length, output_channels
        self._pad_value = pad_value
        self._buffer: Tensor | None = None  # delayed input steps [_start, _received + delay)
        self._start = 0
        self._skip = 0  # input steps still to arrive that no output needs (a sparse stride)
        self.received = 0  #: input steps pushed so far.
        self.emitted = 0  #: output steps returned so far.
        self._order = StreamOrder()

    @property
    def buffered(self) -> int:
        """Input steps held as state (bounded by one window plus one chunk)."""
        return 0 if self._buffer is None else self._buffer.shape[-1]

    def push(self, chunk: Tensor) -> Tensor:
        """Adds ``(batch, channels, n)`` input steps (any ``n >= 0``).

        Returns:
            ``(batch, output_channels, m)``: the output steps this chunk completes.

        Raises:
            RuntimeError: after :meth:`flush`.
            TypeError, ValueError: ``chunk`` is not a 3-D floating tensor that
                continues the stream (same batch, channels, dtype, device).
        """
        self._order.push()
        chunk = _check_chunk(chunk, self._buffer)
        if self._buffer is None:
            self._buffer = chunk.new_full((*chunk.shape[:2], self._lead()), self._pad_value)
        self._append(chunk)
        self.received += chunk.shape[-1]
        ready = min(self._output_length(self.received), self.geometry.ready(self.received))
        return self._emit(ready)

    def _lead(self) -> int:
        """Padding steps the buffer starts with, before the first input step."""
        return self.geometry.delay

    def _append(self, chunk: Tensor) -> None:
        skip = min(self._skip, chunk.shape[-1])
        self._skip -= skip
        assert self._buffer is not None
        self._buffer = torch.cat([self._buffer, chunk[..., skip:]], dim=-1)

    def flush(self) -> Tensor:
        """Ends the stream and returns the remaining output steps.

        Raises:
            RuntimeError: called twice, or before any chunk (the batch and channels
                are unknown).
        """
        self._order.flush(self._buffer is not None)
        y = self._emit(self._output_length(self.received), final=True)
        self._buffer = None
        return y

    def _emit(self, ready: int, final: bool = False) -> Tensor:
        buffer = self._buffer
        assert buffer is not None
        batch, channels = buffer.shape[:2]
        if ready <= self.emitted:
            return buffer.new_zeros(batch, self._output_channels(channels), 0)
        geometry = self.geometry
        first = self._start * geometry.up // geometry.down  # output step of the buffer's start
        y = self._op(buffer)[..., self.emitted - first : ready - first]
        self.emitted = ready
        start = max(self._start, geometry.first_needed(ready))
        end = self._start + buffer.shape[-1]
        if start >= end > self._start:
            # Keep one aligned step: the last outputs may read only padding (a padding of
            # the kernel's span or more), and the op needs an input to pad.
            start = max(self._start, (end - 1) // geometry.align * geometry.align)
        self._skip = max(0, start - end)
        self._buffer = buffer[..., start - self._start :]
        self._start = start
        return y


class StepStreamer(Streamer):
    """Streams an op that advances in whole engine steps on a fixed grid (the module notes).

    Made by ``Resample(...).streamer()`` on the FFT and tabulated paths. The buffer
    holds the input from the first step not run yet (at first its ``left`` steps of
    padding), and each push runs every step whose block has arrived.

    Args:
        run: ``run(buffer, first, count)`` runs steps ``first .. first + count - 1`` on
            a ``(batch, channels, time)`` buffer that starts at step ``first``'s first
            input step; returns ``(batch, output_channels, count * outputs)``.
        geometry: the op's geometry, with its ``steps``.
        output_length: the module's length law, for ints.
        output_channels: the module's channel rule.
        pad_value: what the op sees outside the signal (before it, and at the end).
        extend: for an op that continues the signal past its ends (a ``padtype`` that
            reads only the first and the last samples), ``extend(signal, before,
            after)`` returns the ``before`` steps preceding ``signal`` and the
            ``after`` following it; the leading ones are made once 2 steps have arrived.

    Example:
        >>> resample = seqdown.Resample(48000, 16000, method="fft")
        >>> stream, x = resample.streamer(), torch.randn(1, 1, 9600, dtype=torch.float64)
        >>> y = torch.cat([stream.push(c) for c in x.split(480, dim=-1)] + [stream.flush()], -1)
        >>> torch.allclose(y, resample.double()(x)[0], rtol=1e-10, atol=1e-12)
        True
    """

    def __init__(self, run: Callable[[Tensor, int, int], Tensor], geometry: StreamGeometry,
                 output_length: Callable[[int], int], output_channels: Callable[[int], int],
                 pad_value: float = 0.0, extend: Extension | None = None) -> None:
        if geometry.steps is None:
            raise ValueError("StepStreamer needs a geometry with engine steps, got steps=None")
        super().__init__(lambda x: x, geometry, output_length, output_channels, pad_value)
        self.steps: EngineSteps = geometry.steps
        self._run, self._extend = run, extend
        self._next = 0  # the first step not run yet; the buffer starts at its block
        self._pending: Tensor | None = None  # outputs run but not emitted yet
        self._head = extend is not None  # the leading extension still waits for 2 samples

    def _lead(self) -> int:
        return 0 if self._head else self.steps.left + self.geometry.delay

    def _append(self, chunk: Tensor) -> None:
        assert self._buffer is not None
        self._buffer = torch.cat([self._buffer, chunk], dim=-1)

    def _pad(self, buffer: Tensor, before: int, after: int) -> Tensor:
        """``buffer`` with ``before`` steps of its leading and ``after`` of its trailing
        extension (``buffer`` ends with the signal received so far)."""
        if not before and not after:
            return buffer
        if self._extend is None:
            pieces = [buffer.new_full((*buffer.shape[:2], before), self._pad_value), buffer,
                      buffer.new_full((*buffer.shape[:2], after), self._pad_value)]
        else:
            signal = buffer[..., buffer.shape[-1] - min(self.received, buffer.shape[-1]):]
            left, right = self._extend(signal, before, after)
            pieces = [left, buffer, right]
        return torch.cat(pieces, dim=-1)

    def _emit(self, ready: int, final: bool = False) -> Tensor:
        buffer, steps = self._buffer, self.steps
        assert buffer is not None
        if self._head and (final or buffer.shape[-1] >= 2):  # the signal's first samples
            self._head = False
            buffer = self._pad(buffer, self._lead(), 0)
        if final:  # the end of the signal is padding: run the steps the length law needs
            count, needed = steps.finish(ready - self._next * steps.outputs)
            buffer = self._pad(buffer, 0, max(0, needed - buffer.shape[-1]))
        else:
            count = 0 if self._head else steps.count(buffer.shape[-1] - steps.left)
        self._buffer = buffer
        if count:
            y = self._run(buffer, self._next, count)
            self._next += count
            self._buffer = buffer[..., count * steps.advance :]
            self._pending = y if self._pending is None else torch.cat([self._pending, y], -1)
        if self._pending is None:
            channels = self._output_channels(buffer.shape[1])
            return buffer.new_zeros(buffer.shape[0], channels, 0)
        take = max(0, ready - self.emitted)
        y, self._pending = self._pending[..., :take], self._pending[..., take:]
        self.emitted += y.shape[-1]
        return y


class RowsStreamer:
    """Streams an op computed row by row by an engine stream (``Resample``'s cascade).

    Each chunk's ``(batch, channels)`` rows go through ``stream`` (a
    :data:`~seqdown.dsp.streaming.PlanStream`, in float32 for half precision);
    the output is the offline output, and the state the stream's.

    Args:
        stream: a new engine stream over rows, zero-padded at both ends.
        output_length: the module's length law, for ints.
        delay: zeros a causal op prepends (the output law stays ``output_length``).
    """

    def __init__(self, stream: PlanStream, output_length: Callable[[int], int],
                 delay: int = 0) -> None:
        self._stream, self._output_length, self._delay = stream, output_length, delay
        self._reference: Tensor | None = None  # an empty slice of the first chunk
        self._pending: Tensor | None = None  # outputs computed, not due yet (a causal op)
        self.received = 0  #: input steps pushed so far.
        self.emitted = 0  #: output steps returned so far.
        self._order = StreamOrder()

    @property
    def buffered(self) -> int:
        """Steps held as state by the engine stream."""
        return self._stream.buffered

    def _rows(self, x: Tensor) -> Tensor:
        return x.reshape(x.shape[0] * x.shape[1], x.shape[-1]).to(compute_dtype(x))

    def _take(self, y: Tensor, due: int) -> Tensor:
        assert self._reference is not None
        batch, channels = self._reference.shape[:2]
        y = y.reshape(batch, channels, y.shape[-1]).to(self._reference.dtype)
        y = y if self._pending is None else torch.cat([self._pending, y], dim=-1)
        count = max(0, due - self.emitted)
        y, self._pending = y[..., :count], y[..., count:]
        self.emitted += y.shape[-1]
        return y

    def push(self, chunk: Tensor) -> Tensor:
        """As :meth:`Streamer.push`."""
        self._order.push()
        x = _check_chunk(chunk, self._reference)
        self.received += x.shape[-1]
        if self._reference is None:
            self._reference = x[..., :0]
            x = torch.cat([x.new_zeros(*x.shape[:2], self._delay), x], dim=-1)
        return self._take(self._stream.push(self._rows(x)), self._output_length(self.received))

    def flush(self) -> Tensor:
        """As :meth:`Streamer.flush`."""
        self._order.flush(self._reference is not None)
        return self._take(self._stream.flush(), self._output_length(self.received))


class ChainStreamer:
    """Streams through every stage of a :class:`~seqdown.Chain` in turn.

    Example:
        >>> chain = seqdown.build_frontend("decimate:2+max:2")
        >>> stream, x = chain.streamer(), torch.randn(2, 80, 50)
        >>> y = torch.cat([stream.push(c) for c in x.split(7, dim=-1)] + [stream.flush()], -1)
        >>> torch.allclose(y, chain(x)[0], atol=1e-6)
        True
    """

    def __init__(self, stages: Sequence[Streamer | RowsStreamer | ChainStreamer]) -> None:
        self.stages = list(stages)

    @property
    def buffered(self) -> int:
        """Steps held as state by all stages together (each in its own input steps)."""
        return sum(stage.buffered for stage in self.stages)

    def push(self, chunk: Tensor) -> Tensor:
        """As :meth:`Streamer.push`, through every stage."""
        for stage in self.stages:
            chunk = stage.push(chunk)
        return chunk

    def flush(self) -> Tensor:
        """As :meth:`Streamer.flush`: each stage's remainder goes through the later stages."""
        y = self.stages[0].flush()
        for stage in self.stages[1:]:
            y = torch.cat([stage.push(y), stage.flush()], dim=-1)
        return y


def chain_lookahead(streamers: Sequence[tuple[StreamGeometry, Callable[[int], int]]],
                    output_length: Callable[[int], int], factor_bound: int) -> int:
    """The exact lookahead of stages streamed in sequence (used by ``Chain.lookahead``).

    Args:
        streamers: each stage's geometry and length law, in order.
        output_length: the whole chain's length law.
        factor_bound: an integer at least the chain's total downsampling factor,
            so that the horizon covers a full period of the composed emission.
    """

    def emitted(n: int) -> int:
        for geometry, length in streamers:
            n = min(length(n), geometry.ready(n))
        return n

    horizon, scale = 16, 1
    for geometry, _ in streamers:
        horizon += geometry.horizon() * scale
        scale *= -(-geometry.down // geometry.up)
    return stream_lookahead(emitted, output_length, horizon + 4 * factor_bound)


class EncoderStreamer:
    """Streams an :class:`~seqdown.RNNEncoder`: front-end state plus recurrent state.

    Example:
        >>> encoder = seqdown.RNNEncoder(8, 16, frontend="decimate:2+max:2").eval()
        >>> stream, x = encoder.streamer(), torch.randn(1, 8, 40)
        >>> y = torch.cat([stream.push(c) for c in x.split(4, dim=-1)] + [stream.flush()], 1)
        >>> torch.allclose(y, encoder(x)[0], atol=1e-6)
        True
    """

    def __init__(self, frontend: Streamer | RowsStreamer | ChainStreamer,
                 rnn: nn.RNNBase) -> None:
        self.frontend, self.rnn = frontend, rnn
        self.state: Tensor | tuple[Tensor, Tensor] | None = None

    @property
    def buffered(self) -> int:
        """Input steps held by the front-end (the recurrent state is fixed-size)."""
        return self.frontend.buffered

    def _encode(self, features: Tensor) -> Tensor:
        sequence = features.transpose(1, 2)  # (batch, steps, channels)
        if not sequence.shape[1]:
            return sequence.new_zeros(sequence.shape[0], 0, self.rnn.hidden_size)
        output: Tensor
        output, self.state = self.rnn(sequence, self.state)
        return output

    def push(self, chunk: Tensor) -> Tensor:
        """Adds ``(batch, input_size, n)`` features; returns ``(batch, m, hidden_size)``."""
        return self._encode(self.frontend.push(chunk))

    def flush(self) -> Tensor:
        """Ends the stream; returns the remaining ``(batch, m, hidden_size)``."""
        return self._encode(self.frontend.flush())

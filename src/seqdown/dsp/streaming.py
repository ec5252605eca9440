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

__all__ = ["StreamingResampler"]


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
        if self.plan.kernel is not None:
            outputs, inputs, per_phase = self.plan.kernel.weight.shape
            # (input samples per step, output samples per step, window, look-behind)
            self._step = (inputs, outputs, per_phase * inputs, self.plan.kernel.left)
        elif self.plan.fft is not None:
            fft = self.plan.fft
            self._step = (fft.hop, fft.out_hop, fft.size, fft.half)
        else:  # the tabulated filter: one output period of `down` inputs and `up` outputs
            table = self.plan._table()
            self._step = (table.down, table.up, table.down + 2 * table.half + 1, table.half)
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
        return self._step[2]

    def _identity(self) -> bool:
        return self.plan.up == self.plan.down == 1

    def _start(self, block: Tensor) -> None:
        """Sets up dtype, the plan's array and the leading zeros from the first block."""
        compute = compute_dtype(block)
        self._dtype = block.dtype
        probe = block.new_zeros(0, dtype=compute)
        if self.plan.kernel is not None:
            self._array = torch.tensor(self.plan.kernel.weight, dtype=compute,
                                       device=block.device)
        elif self.plan.fft is not None:
            self._array = response_tensor(self.plan.fft, probe)
        else:
            self._array = torch.tensor(self.plan._table().table, dtype=compute,
                                       device=block.device)
        # The first step reads `left` samples before the signal: zeros.
        self._buffer = block.new_zeros(block.shape[0], self._step[3], dtype=compute)

    def _steps(self, buffer: Tensor, steps: int) -> Tensor:
        assert self._array is not None
        if steps <= 0:
            return buffer.new_zeros(buffer.shape[0], 0)
        if self.plan.kernel is not None:
            return polyphase_steps(buffer, self._array, steps)
        if self.plan.fft is not None:
            return overlap_save_steps(buffer, self.plan.fft, self._array, steps)
        # Period p covers outputs [p * up, (p + 1) * up), reading inputs from p * down - half;
        # `buffer` starts at the first unfinished period's first input (minus half).
        table = self.plan._table()
        first = self._produced_steps * table.up
        origin = self._produced_steps * table.down - table.half
        return table_steps(buffer, table, self._array, first, first + steps * table.up, origin)

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
        advance, _, window, _ = self._step
        steps = max(0, (buffer.shape[1] - window) // advance + 1)
        self._buffer = buffer[:, steps * advance:]
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
        advance, outputs, window, _ = self._step
        steps = max(0, ceil_div(remaining, outputs))
        needed = (steps - 1) * advance + window if steps else 0
        buffer = F.pad(self._buffer, (0, max(0, needed - self._buffer.shape[1])))
        return self._emit(self._steps(buffer, steps)[:, :remaining])

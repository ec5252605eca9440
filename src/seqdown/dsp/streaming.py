"""Block-by-block resampling of long recordings in bounded memory.

``StreamingResampler`` runs the same polyphase kernel as :func:`resample` over a
stream of blocks. The polyphase convolution advances in steps of ``inputs``
input samples and ``outputs`` output samples (see :mod:`seqdown.dsp.polyphase`);
step ``q`` reads the input range ``[q * inputs - left, (q + taps_per_phase) *
inputs - left)``. A step is computed as soon as its whole range has arrived, and
the input before the next step's range is dropped, so memory is one block plus
one filter length. ``flush`` pads the end with zeros, as the one-shot resampler
does, and emits exactly the remaining ``resample_length(total, up, down)``
samples. The concatenated output equals ``resample(whole, orig_freq, new_freq)``
up to float rounding (the same products, summed in possibly different order).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from seqdown._validation import check_waveform
from seqdown.dsp.filters import RESAMPLE_ATTENUATION, RESAMPLE_TRANSITION
from seqdown.dsp.polyphase import compute_dtype, polyphase_steps, rate_ratio, resampling_kernel
from seqdown.lengths import ceil_div, resample_length

__all__ = ["StreamingResampler"]


class StreamingResampler:
    """Resamples ``(channels, time)`` audio that arrives in blocks.

    Args:
        orig_freq: input sample rate (positive int).
        new_freq: output sample rate (positive int).
        attenuation: as :func:`seqdown.resample`.
        transition: as :func:`seqdown.resample`.

    Blocks must all have the same number of channels, dtype and device.
    Computation is in float32 for float16/bfloat16 blocks, as :func:`resample`.

    Example:
        >>> stream = StreamingResampler(48000, 16000)
        >>> x = torch.randn(2, 48000)
        >>> y = torch.cat([stream.process(b) for b in x.split(10000, dim=1)] + [stream.flush()], 1)
        >>> torch.allclose(y, seqdown.resample(x, 48000, 16000), atol=1e-5)
        True
    """

    def __init__(self, orig_freq: int, new_freq: int,
                 attenuation: float = RESAMPLE_ATTENUATION,
                 transition: float = RESAMPLE_TRANSITION) -> None:
        up, down = rate_ratio(orig_freq, new_freq)
        self.kernel = resampling_kernel(up, down, attenuation, transition)
        self._weight: Tensor | None = None
        self._buffer: Tensor | None = None  # input from the next step's first sample on
        self._dtype: torch.dtype | None = None  # dtype of the blocks, and of the outputs
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

    def _identity(self) -> bool:
        return self.kernel.up == self.kernel.down == 1

    def _start(self, block: Tensor) -> None:
        """Sets up dtype, weight and the leading zeros from the first block."""
        compute = compute_dtype(block)
        self._dtype = block.dtype
        self._weight = torch.tensor(self.kernel.weight, dtype=compute, device=block.device)
        # The first step reads `left` samples before the signal: zeros.
        self._buffer = block.new_zeros(block.shape[0], self.kernel.left, dtype=compute)

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
        elif block.shape[0] != self._buffer.shape[0]:
            raise ValueError(f"block must have {self._buffer.shape[0]} channels like the "
                             f"previous blocks, got shape {tuple(block.shape)}")
        self._consumed += block.shape[1]
        if self._identity():
            return self._emit(block.clone())
        assert self._buffer is not None and self._weight is not None  # set by _start
        buffer = torch.cat([self._buffer, block.to(self._buffer.dtype)], dim=1)
        _, inputs, per_phase = self._weight.shape
        steps = max(0, buffer.shape[1] // inputs - per_phase + 1)
        self._buffer = buffer[:, steps * inputs:]
        return self._emit(polyphase_steps(buffer, self._weight, steps))

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
        remaining = resample_length(self._consumed, self.kernel.up, self.kernel.down)
        remaining -= self._produced
        assert self._weight is not None  # set by _start with the buffer
        outputs, inputs, per_phase = self._weight.shape
        steps = max(0, ceil_div(remaining, outputs))
        needed = (steps + per_phase - 1) * inputs
        buffer = F.pad(self._buffer, (0, max(0, needed - self._buffer.shape[1])))
        return self._emit(polyphase_steps(buffer, self._weight, steps)[:, :remaining])

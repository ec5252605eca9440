"""Frame stacking: concatenate consecutive steps into the channel axis.

The low-frame-rate trick of speech recognisers (e.g. stacking 3 frames of
10 ms log-mels into one 30 ms frame): no information is lost and nothing is
filtered; the model sees every input value, ``factor`` times fewer steps.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from seqdown._validation import check_positive_int
from seqdown.frontends.base import FrontEnd
from seqdown.frontends.streaming import StreamGeometry
from seqdown.lengths import Length, stack_length

__all__ = ["FrameStack", "frame_stack"]


def _stack(x: Tensor, factor: int, pad_remainder: bool) -> Tensor:
    """The stacking itself, on ``(batch, channels, time)`` that gives at least one step."""
    steps = stack_length(x.shape[-1], factor, pad_remainder)
    # Step t of phase j is x[..., t * factor + j]: one strided slice per phase, concatenated
    # channel-major. The padding makes every phase long enough; there is no branch on the
    # length and no reshape of the time axis, which would pin it under torch.export.
    x = F.pad(x, (0, factor - 1))
    return torch.cat([x[..., j::factor][..., :steps] for j in range(factor)], dim=1)




def frame_stack(x: Tensor, factor: int, pad_remainder: bool = False) -> Tensor:
    """Stacks ``factor`` consecutive steps of ``(batch, channels, time)`` into channels.

    Output step ``t`` holds input steps ``t * factor ... t * factor + factor - 1``;
    channel ``j * channels + c`` of it is channel ``c`` of step ``t * factor + j``.

    Args:
        x: ``(batch, channels, time)`` floating-point tensor.
        factor: steps per output step.
        pad_remainder: zero-pad the last incomplete group (``ceil``) instead of
            dropping it (``floor``).

    Returns:
        ``(batch, channels * factor, stack_length(time, factor, pad_remainder))``.

    Raises:
        ValueError: ``x`` gives no output step (``time < factor`` without
            ``pad_remainder``, or ``time == 0``), as :class:`FrameStack` does.

    Example:
        >>> frame_stack(torch.arange(5.0).view(1, 1, 5), 2).tolist()
        [[[0.0, 2.0], [1.0, 3.0]]]
    """
    return FrameStack(factor, pad_remainder)(x)[0]


class FrameStack(FrontEnd):
    """Concatenates ``factor`` consecutive steps into the channel axis.

    Args:
        factor: steps per output step.
        pad_remainder: zero-pad an incomplete last group (``ceil``) instead of
            dropping it (``floor``).

    Shape:
        - x: ``(batch, channels, time)``; lengths: ``(batch,)`` or None.
        - y: ``(batch, channels * factor, stack_length(time, factor, pad_remainder))``.

    Example:
        >>> stack = FrameStack(3, pad_remainder=True)
        >>> y, out = stack(torch.randn(2, 80, 10), torch.tensor([10, 4]))
        >>> y.shape, out.tolist()
        (torch.Size([2, 240, 4]), [4, 2])
    """

    def __init__(self, factor: int, pad_remainder: bool = False) -> None:
        super().__init__()
        self.stride = check_positive_int("factor", factor)
        self.pad_remainder = bool(pad_remainder)

    @property
    def factor(self) -> int:
        return self.stride

    @property
    def receptive_field(self) -> int:
        return self.stride

    @property
    def stream_geometry(self) -> StreamGeometry:
        return StreamGeometry(1, self.stride, 0, self.stride)

    def output_length(self, n: Length) -> Length:
        return stack_length(n, self.stride, self.pad_remainder)

    def output_channels(self, channels: int) -> int:
        return channels * self.stride

    def _shorten(self, x: Tensor) -> Tensor:
        return _stack(x, self.stride, self.pad_remainder)

    def extra_repr(self) -> str:
        return f"factor={self.stride}, pad_remainder={self.pad_remainder}"

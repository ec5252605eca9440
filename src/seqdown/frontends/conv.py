"""Learnable strided convolution over time, exact for padded batches."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seqdown._validation import check_positive_int
from seqdown.frontends.base import FrontEnd
from seqdown.frontends.streaming import StreamGeometry
from seqdown.lengths import Length, causal_delay, conv_length, kernel_span

__all__ = ["StridedConv"]


class StridedConv(FrontEnd):
    """A learnable ``Conv1d`` whose stride shortens the sequence.

    The padding of each item is zeroed before the convolution, so an item's
    output equals the convolution of the item alone (whose implicit padding is
    zero too). Nothing low-passes the input before the stride: what the kernel
    learns decides how much it aliases.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        kernel_size: taps per channel.
        stride: step between outputs; the ``factor``.
        padding: implicit zeros on both sides.
        dilation: spacing between taps.
        bias: learn an additive bias.
        causal: delay the input by ``delay = causal_delay(padding, kernel_span)`` zeros, so
            that output step ``t`` depends on no input after ``t * stride`` (``lookahead``
            0 when ``2 * padding < kernel_span``); the length law stays :func:`conv_length`.

    Attributes:
        weight: ``(out_channels, in_channels, kernel_size)``, initialised as ``nn.Conv1d``.
        bias: ``(out_channels,)`` or None.

    Shape:
        - x: ``(batch, in_channels, time)``; lengths: ``(batch,)`` or None.
        - y: ``(batch, out_channels, conv_length(time, ...))``.

    Equals ``F.conv1d(x, weight, bias, stride, padding, dilation)`` when ``lengths`` is None.

    Example:
        >>> conv = StridedConv(80, 256, kernel_size=3, stride=2, padding=1)
        >>> y, out = conv(torch.randn(2, 80, 11), torch.tensor([11, 4]))
        >>> y.shape, out.tolist()
        (torch.Size([2, 256, 6]), [6, 2])
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int,
                 padding: int = 0, dilation: int = 1, bias: bool = True,
                 causal: bool = False) -> None:
        super().__init__()
        self.causal = bool(causal)
        self.in_channels = check_positive_int("in_channels", in_channels)
        self.out_channels = check_positive_int("out_channels", out_channels)
        self.kernel_size = check_positive_int("kernel_size", kernel_size)
        self.stride = check_positive_int("stride", stride)
        self.padding = check_positive_int("padding", padding, minimum=0)
        self.dilation = check_positive_int("dilation", dilation)
        self.weight = nn.Parameter(torch.empty(self.out_channels, self.in_channels,
                                               self.kernel_size))
        self.bias = nn.Parameter(torch.empty(self.out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Uniform in ``±1/sqrt(in_channels * kernel_size)``, the ``nn.Conv1d`` initialisation."""
        bound = 1.0 / math.sqrt(self.in_channels * self.kernel_size)
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -bound, bound)

    @property
    def factor(self) -> int:
        return self.stride

    @property
    def receptive_field(self) -> int:
        return kernel_span(self.kernel_size, self.dilation)

    @property
    def stream_geometry(self) -> StreamGeometry:
        span = kernel_span(self.kernel_size, self.dilation)
        delay = causal_delay(self.padding, span) if self.causal else 0
        return StreamGeometry(1, self.stride, self.padding, span, delay)

    def output_length(self, n: Length) -> Length:
        return conv_length(n, self.kernel_size, self.stride, self.padding, self.dilation)

    def output_channels(self, channels: int) -> int:
        return self.out_channels

    def check_input(self, x: Tensor) -> None:
        if x.shape[1] != self.in_channels:
            raise ValueError(
                f"x must have in_channels={self.in_channels} channels (batch, channels, time), "
                f"got shape {tuple(x.shape)}"
            )

    def _shorten(self, x: Tensor) -> Tensor:
        return F.conv1d(x, self.weight, self.bias, self.stride, self.padding, self.dilation)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, dilation={self.dilation}, "
                f"bias={self.bias is not None}, causal={self.causal}")

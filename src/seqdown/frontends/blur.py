"""Blur pooling: max pooling made shift-tolerant by a low-pass before the stride.

Zhang (2019), "Making Convolutional Networks Shift-Invariant Again", splits
``MaxPool(k, stride=s)`` into its two jobs: a dense max (stride 1), which keeps
the max's selectivity, then a binomial blur that removes most of what would
alias, then the stride. In 1-D, for ``factor`` f:

1. max over ``f`` consecutive steps with stride 1 (no padding: ``n - f + 1`` steps);
2. a binomial low-pass of ``order + 1`` taps (``cos(pi f) ** order``), zero
   outside the max stage's output and centred (``order // 2`` zeros on the left);
3. keep every ``f``-th step, starting at the first.

Step 2 keeps the length and step 3 rounds it up, so the output length is
``ceil((n - f + 1) / f) = floor(n / f)``, the same as ``MaxPool(f)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from seqdown._validation import check_positive_int
from seqdown.dsp.filters import binomial_taps
from seqdown.frontends.base import FrontEnd, fill_padding
from seqdown.frontends.streaming import StreamGeometry
from seqdown.lengths import Length, blur_pool_length, composed_receptive_field, conv_length

__all__ = ["MAX_ORDER", "BlurPool", "blur_pool"]


#: Largest binomial order (``MAX_ORDER + 1`` taps): beyond it the outer taps are below
#: float64's smallest number, and the blur only costs time.
MAX_ORDER = 1024


def _default_order(factor: int) -> int:
    """``2 * (factor - 1)``: 3 taps for factor 2, a blur that widens with the stride, at most
    :data:`MAX_ORDER`."""
    return min(max(2, 2 * (factor - 1)), MAX_ORDER)


def _check_order(order: int | None, factor: int) -> int:
    if order is None:
        return _default_order(factor)
    order = check_positive_int("order", order, minimum=0)
    if order > MAX_ORDER:
        raise ValueError(f"order must be <= MAX_ORDER={MAX_ORDER}, got {order}")
    return order


def _blur_stride(x: Tensor, taps: Tensor, factor: int) -> Tensor:
    """Depthwise binomial blur of ``(batch, channels, time)`` (zero edges), then the stride."""
    channels, order = x.shape[1], taps.numel() - 1
    weight = taps.to(x).view(1, 1, -1).expand(channels, 1, -1)
    x = F.pad(x, (order // 2, order - order // 2))
    return F.conv1d(x, weight, stride=factor, groups=channels)


def _dense_max(x: Tensor, factor: int) -> Tensor:
    """Max over ``factor`` consecutive steps, stride 1 (``max_pool2d``: dynamic under export)."""
    return F.max_pool2d(x.unsqueeze(-2), (1, factor), 1).squeeze(-2)


def blur_pool(x: Tensor, factor: int, order: int | None = None) -> Tensor:
    """Anti-aliased max pooling of ``(batch, channels, time)`` (see the module notes).

    Args:
        x: ``(batch, channels, time)`` floating-point tensor.
        factor: the stride, also the max window.
        order: binomial order (``order + 1`` taps); default ``2 * (factor - 1)``,
            at least 2 (3 taps).

    Returns:
        ``(batch, channels, floor(time / factor))``.

    Raises:
        ValueError: ``time < factor`` (no output step), as :class:`BlurPool` does.

    Example:
        >>> blur_pool(torch.tensor([[[0.0, 4.0, 0.0, 0.0, 0.0, 0.0]]]), 2).tolist()
        [[[3.0, 1.0, 0.0]]]
    """
    return BlurPool(factor, order)(x)[0]


class BlurPool(FrontEnd):
    """Max pooling followed by a binomial blur before the stride (Zhang, 2019).

    Args:
        factor: the stride, also the max window.
        order: binomial order (``order + 1`` taps); default ``2 * (factor - 1)``,
            at least 2 (3 taps, ``[1, 2, 1] / 4``) and at most :data:`MAX_ORDER`.

    Raises:
        ValueError: ``factor`` < 1, or ``order`` outside ``[0, MAX_ORDER]``.

    Shape:
        - x: ``(batch, channels, time)``; lengths: ``(batch,)`` or None.
        - y: ``(batch, channels, floor(time / factor))``.

    Aliases less than ``MaxPool(factor)``: for tones up to 1.5 times the output
    Nyquist frequency 6-14 dB less alias energy (measured in the tests); near the
    input Nyquist the dense max turns a tone into a slow envelope that no blur
    removes. It is no substitute for :class:`Decimate` when a guaranteed
    attenuation is needed.

    Example:
        >>> y, out = BlurPool(2)(torch.randn(2, 80, 9), torch.tensor([9, 4]))
        >>> y.shape, out.tolist()
        (torch.Size([2, 80, 4]), [4, 2])
    """

    _pad_value = float("-inf")
    taps: Tensor

    def __init__(self, factor: int, order: int | None = None) -> None:
        super().__init__()
        self.stride = check_positive_int("factor", factor)
        self.order = _check_order(order, self.stride)
        self.register_buffer("taps", torch.tensor(binomial_taps(self.order)), persistent=False)

    @property
    def factor(self) -> int:
        return self.stride

    @property
    def receptive_field(self) -> int:
        # The dense max (window `factor`), then the blur (`order + 1` taps), both stride 1.
        return composed_receptive_field([(self.stride, 1), (self.order + 1, 1)])

    @property
    def stream_geometry(self) -> StreamGeometry:
        # Output t blurs the dense maxima t*f - order//2 ... t*f - order//2 + order, and
        # the maximum at p reads the steps p ... p + f - 1.
        return StreamGeometry(1, self.stride, self.order // 2, self.stride + self.order)

    def output_length(self, n: Length) -> Length:
        return blur_pool_length(n, self.stride)

    def _shorten(self, x: Tensor) -> Tensor:
        return _blur_stride(_dense_max(x, self.stride), self.taps, self.stride)

    def _shorten_padded(self, x: Tensor, lengths: Tensor) -> Tensor:
        peaks = _dense_max(fill_padding(x, lengths, self._pad_value), self.stride)
        peaks = fill_padding(peaks, conv_length(lengths, self.stride), 0.0)
        return _blur_stride(peaks, self.taps, self.stride)

    def extra_repr(self) -> str:
        return f"factor={self.stride}, order={self.order}"

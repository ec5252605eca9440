"""Max and average pooling over time, exact for padded batches.

With ``lengths=None`` both equal ``torch.nn.MaxPool1d`` / ``AvgPool1d`` with the
same arguments. With ``lengths``, each item is pooled as if it were alone:

* max pooling sees ``-inf`` beyond an item's end, as torch's implicit padding;
* average pooling divides each window by the count that torch would use for
  the item alone. Torch's rule (``avg_pool2d``'s CPU and CUDA kernels): a window
  starts at ``start = t * stride - padding``; with ``count_include_pad`` the
  divisor is ``min(start + kernel_size, n + padding) - start`` (the padding
  counts, but ``ceil_mode``'s overhang beyond it does not); without it, the
  divisor is the number of real steps, ``min(start + kernel_size, n) -
  max(start, 0)``. Replacing ``n`` by each item's length gives the per-item
  divisor; the window sums themselves are computed on the zero-padded batch.

Neither pooling filters before striding, so both alias; see the README's table.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from seqdown._validation import check_positive_int
from seqdown.dsp.engine import compute_dtype
from seqdown.frontends.base import WindowedFrontEnd, fill_padding
from seqdown.lengths import Length, pool_length

__all__ = ["AvgPool", "MaxPool"]


class _Pool(WindowedFrontEnd):
    """Arguments, length rule and repr shared by MaxPool and AvgPool."""

    def __init__(self, kernel_size: int, stride: int | None, padding: int, dilation: int,
                 ceil_mode: bool, causal: bool) -> None:
        super().__init__()
        self.causal = bool(causal)
        self.kernel_size = check_positive_int("kernel_size", kernel_size)
        self.stride = self.kernel_size if stride is None else check_positive_int("stride", stride)
        self.dilation = check_positive_int("dilation", dilation)
        self.padding = check_positive_int("padding", padding, minimum=0)
        # torch refuses more padding than half the kernel (dilation does not count).
        if self.padding > self.kernel_size // 2:
            raise ValueError(
                f"padding must be at most kernel_size // 2 = {self.kernel_size // 2}, "
                f"got {self.padding}"
            )
        self.ceil_mode = bool(ceil_mode)

    def output_length(self, n: Length) -> Length:
        return pool_length(n, self.kernel_size, self.stride, self.padding, self.dilation,
                           self.ceil_mode)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}, causal={self.causal}")


class MaxPool(_Pool):
    """Max pooling over time with exact lengths for padded batches.

    Args:
        kernel_size: window size.
        stride: step between windows (default: ``kernel_size``); the ``factor``.
        padding: implicit ``-inf`` on both sides, at most ``kernel_size // 2``.
        dilation: spacing between the steps of a window.
        ceil_mode: round the output length up (torch's rule; see :func:`pool_length`).
        causal: delay the input by ``delay = causal_delay(padding, kernel_span)`` steps of
            ``-inf``, so that output step ``t`` depends on no input after ``t * stride``
            (``lookahead`` 0 when ``2 * padding < kernel_size`` and not ``ceil_mode``); the
            length law stays :func:`pool_length`.

    Shape:
        - x: ``(batch, channels, time)``; lengths: ``(batch,)`` or None.
        - y: ``(batch, channels, pool_length(time, ...))``.

    Works with autograd and on any device; equals ``nn.MaxPool1d`` when ``lengths`` is None
    (and not causal). It runs as ``max_pool2d`` over an added axis, which keeps the time
    axis dynamic under ``torch.export`` (``max_pool1d`` pins it).

    Example:
        >>> y, out = MaxPool(2)(torch.arange(5.0).view(1, 1, 5), torch.tensor([5]))
        >>> y.tolist(), out.tolist()
        ([[[1.0, 3.0]]], [2])
    """

    _pad_value = float("-inf")

    def __init__(self, kernel_size: int, stride: int | None = None, padding: int = 0,
                 dilation: int = 1, ceil_mode: bool = False, causal: bool = False) -> None:
        super().__init__(kernel_size, stride, padding, dilation, ceil_mode, causal)

    def _shorten(self, x: Tensor) -> Tensor:
        return F.max_pool2d(x.unsqueeze(-2), (1, self.kernel_size), (1, self.stride),
                            (0, self.padding), (1, self.dilation), self.ceil_mode).squeeze(-2)


class AvgPool(_Pool):
    """Average pooling over time with exact lengths for padded batches.

    Args:
        kernel_size: window size.
        stride: step between windows (default: ``kernel_size``); the ``factor``.
        padding: implicit zeros on both sides, at most ``kernel_size // 2``.
        ceil_mode: round the output length up (torch's rule; see :func:`pool_length`).
        count_include_pad: count the zero padding in the divisor.
        causal: delay the input by ``delay = causal_delay(padding, kernel_size)`` zeros,
            counted in the divisor like padding, so that output step ``t`` depends on no
            input after ``t * stride``; needs ``count_include_pad``.

    Shape:
        - x: ``(batch, channels, time)``; lengths: ``(batch,)`` or None.
        - y: ``(batch, channels, pool_length(time, ...))``.

    Works with autograd and on any device; equals ``nn.AvgPool1d`` when ``lengths`` is None.

    Example:
        >>> AvgPool(2)(torch.arange(4.0).view(1, 1, 4))[0].tolist()
        [[[0.5, 2.5]]]
    """

    def __init__(self, kernel_size: int, stride: int | None = None, padding: int = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True,
                 causal: bool = False) -> None:
        super().__init__(kernel_size, stride, padding, 1, ceil_mode, causal)
        self.count_include_pad = bool(count_include_pad)
        if self.causal and not self.count_include_pad:
            raise ValueError("causal=True delays the input by zeros that the average counts, "
                             "so it needs count_include_pad=True, got count_include_pad=False")

    def _shorten(self, x: Tensor) -> Tensor:
        return F.avg_pool1d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)

    def _shorten_padded(self, x: Tensor, lengths: Tensor) -> Tensor:
        dtype = x.dtype
        # Half precision is summed in float32, as avg_pool1d accumulates (an item alone).
        x = fill_padding(x.to(compute_dtype(x)), lengths, 0.0)
        # Window sums, gathered tap by tap at the window starts (avg_pool's divisor_override
        # is lost in ONNX, and slicing a longer result would make dynamo guard on its size).
        # The padding covers the last ceil_mode window, which ends before padding + stride.
        steps = self.output_length(x.shape[-1])
        padded = F.pad(x, (self.padding, self.padding + self.stride))
        first = torch.arange(steps, device=x.device) * self.stride
        sums = padded.index_select(-1, first)
        for tap in range(1, self.kernel_size):
            sums = sums + padded.index_select(-1, first + tap)
        start = first - self.padding
        n = lengths.to(x.device)[:, None]
        end = start + self.kernel_size
        if self.count_include_pad:
            divisor = torch.minimum(end, n + self.padding) - start
        else:
            divisor = torch.minimum(end, n) - start.clamp(min=0)
        # Steps beyond an item's output length get a dummy divisor; the base class zeroes them.
        return (sums / divisor.clamp(min=1)[:, None, :].to(sums.dtype)).to(dtype)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"ceil_mode={self.ceil_mode}, count_include_pad={self.count_include_pad}, "
                f"causal={self.causal}")

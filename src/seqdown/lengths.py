"""The length algebra: every output-length rule in seqdown, in one place.

Each rule maps a number of valid input steps ``n`` to the number of output
steps, and accepts either a Python ``int`` (returning an ``int``) or an int64
tensor (returning a tensor, elementwise). All rules return 0, never a negative
number, when the input is too short, and 0 for ``n = 0``.

The front-ends' ``output_length`` methods, their docstrings and the tests call
these functions; no other module writes a length formula.

======================  ==========================================================
``conv_length``         ``floor((n + 2p - d(k-1) - 1) / s) + 1`` (``nn.Conv1d``)
``pool_length``         ``conv_length`` with torch's ``ceil_mode`` rule (pooling)
``resample_length``     ``ceil(n * up / down)`` (``scipy.signal.resample_poly``)
``stack_length``        ``floor(n / f)`` or ``ceil(n / f)`` (frame stacking)
``min_input_length``    smallest ``n`` for which a rule gives one step
``lengths_to_mask``     ``(batch, time)`` boolean mask of the valid steps (``valid_steps``
                        is the same without the checks)
======================  ==========================================================
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import torch
from torch import Tensor

from seqdown._validation import check_positive_int

__all__ = [
    "ceil_div",
    "conv_length",
    "lengths_to_mask",
    "min_input_length",
    "pool_length",
    "resample_length",
    "stack_length",
    "valid_steps",
]

Length = TypeVar("Length", int, Tensor)


def ceil_div(a: Length, b: int) -> Length:
    """``ceil(a / b)`` in exact integer arithmetic for ``b > 0``."""
    return -((-a) // b)


def _clip(n: Length, out: Length) -> Length:
    """Clamps ``out`` at 0 and forces 0 where ``n`` is 0."""
    if isinstance(out, Tensor):
        return torch.where(n > 0, out.clamp(min=0), torch.zeros_like(out))
    return max(out, 0) if n > 0 else 0


def conv_length(n: Length, kernel_size: int, stride: int = 1, padding: int = 0,
                dilation: int = 1) -> Length:
    """Output length of ``torch.nn.Conv1d`` for ``n`` input steps.

    ``floor((n + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1``,
    or 0 when the padded input is shorter than the dilated kernel.
    """
    span = dilation * (kernel_size - 1) + 1
    return _clip(n, (n + 2 * padding - span) // stride + 1)


def pool_length(n: Length, kernel_size: int, stride: int, padding: int = 0, dilation: int = 1,
                ceil_mode: bool = False) -> Length:
    """Output length of ``torch.nn.MaxPool1d`` / ``AvgPool1d`` for ``n`` input steps.

    Without ``ceil_mode`` this is :func:`conv_length`. With it, the division is
    rounded up, and the last window is dropped when it would start in the right
    padding (``(out - 1) * stride >= n + padding``), exactly as torch decides;
    this is why ``ceil_mode`` accepts inputs shorter than the kernel.
    """
    if not ceil_mode:
        return conv_length(n, kernel_size, stride, padding, dilation)
    span = dilation * (kernel_size - 1) + 1
    out = ceil_div(n + 2 * padding - span, stride) + 1
    starts_in_padding = (out - 1) * stride >= n + padding
    if isinstance(out, Tensor):
        out = out - starts_in_padding.long()
    else:
        out -= int(starts_in_padding)
    return _clip(n, out)


def resample_length(n: Length, up: int, down: int) -> Length:
    """``ceil(n * up / down)``: the length ``scipy.signal.resample_poly`` returns."""
    return _clip(n, ceil_div(n * up, down))


def stack_length(n: Length, factor: int, pad_remainder: bool = False) -> Length:
    """Steps after stacking ``factor`` steps: ``ceil(n / factor)`` if the remainder is padded,
    else ``floor(n / factor)``."""
    return _clip(n, ceil_div(n, factor) if pad_remainder else n // factor)


def min_input_length(output_length: Callable[[int], int]) -> int:
    """Smallest ``n >= 1`` for which a non-decreasing length rule gives at least one step.

    Works for any rule (a single op or a whole chain) by exponential then binary
    search, so that a minimum length is never derived by hand next to its rule.

    Raises:
        ValueError: the rule gives no output for any length up to 2**62.
    """
    high = 1
    while output_length(high) < 1:
        high *= 2
        if high > 2**62:
            raise ValueError("output_length never reaches 1; the length rule is degenerate")
    low = high // 2  # output_length(low) < 1, or low == 0
    while high - low > 1:
        mid = (low + high) // 2
        if output_length(mid) >= 1:
            high = mid
        else:
            low = mid
    return high


def lengths_to_mask(lengths: Tensor, max_length: int | None = None) -> Tensor:
    """Boolean mask of the valid steps of a padded batch.

    Args:
        lengths: int64 tensor ``(batch,)`` of valid lengths.
        max_length: size of the time axis; defaults to ``lengths.max()`` (0 for
            an empty batch).

    Returns:
        A bool tensor ``(batch, max_length)`` on the lengths' device, True where
        ``t < lengths[b]``.

    Raises:
        TypeError: ``lengths`` is not an integer tensor.
        ValueError: ``lengths`` is not 1-D, is negative, or exceeds ``max_length``.

    Example:
        >>> lengths_to_mask(torch.tensor([3, 1]), 4)
        tensor([[ True,  True,  True, False],
                [ True, False, False, False]])
    """
    if not isinstance(lengths, Tensor) or lengths.is_floating_point() or lengths.is_complex():
        got = lengths.dtype if isinstance(lengths, Tensor) else type(lengths).__name__
        raise TypeError(f"lengths must be an integer tensor (int64) of shape (batch,), got {got}")
    if lengths.dim() != 1:
        raise ValueError(f"lengths must have shape (batch,), got shape {tuple(lengths.shape)}")
    longest = int(lengths.max()) if lengths.numel() else 0
    if max_length is None:
        max_length = longest
    max_length = check_positive_int("max_length", max_length, minimum=0)
    if lengths.numel():
        if int(lengths.min()) < 0:
            raise ValueError(f"lengths must be >= 0, got {int(lengths.min())}")
        if longest > max_length:
            raise ValueError(f"lengths must be <= max_length ({max_length}), got {longest}")
    return valid_steps(lengths.long(), max_length)


def valid_steps(lengths: Tensor, time: int) -> Tensor:
    """:func:`lengths_to_mask` without the checks, for lengths already validated."""
    return torch.arange(time, device=lengths.device) < lengths[:, None]

"""The length algebra: every output-length rule in seqdown, in one place.

Each rule maps a number of valid input steps ``n`` to the number of output
steps, and accepts either a Python ``int`` (returning an ``int``) or an int64
tensor (returning a tensor, elementwise). All rules return 0, never a negative
number, when the input is too short, and 0 for ``n = 0``.

The front-ends' ``output_length`` methods, their docstrings and the tests call
these functions; no other module writes a length formula.

============================  ========================================================
``kernel_span``               ``d(k-1) + 1``: steps one window covers (receptive field)
``conv_length``               ``floor((n + 2p - d(k-1) - 1) / s) + 1`` (``nn.Conv1d``)
``pool_length``               ``conv_length`` with torch's ``ceil_mode`` rule (pooling)
``resample_length``           ``ceil(n * up / down)`` (``scipy.signal.resample_poly``)
``stack_length``              ``floor(n / f)`` or ``ceil(n / f)`` (frame stacking)
``blur_pool_length``          ``floor(n / f)`` (dense max, blur, stride: ``BlurPool``)
``composed_receptive_field``  receptive field of ops run one after another
``stft_frames``               ``1 + n // hop`` (centred STFT, ``MelSpectrogram``)
``upsample_length``           ``n * factor`` (``Upsample``)
``transposed_conv_length``    ``(n - 1) * s - 2p + k`` (``nn.ConvTranspose1d``)
``target_lengths``            ``min(out_lengths, target_length)`` (``target_length=``)
``min_input_length``          smallest ``n`` for which a rule gives one step
``lengths_to_mask``           ``(batch, time)`` mask of the valid steps (checked)
``valid_steps``               the same mask, for lengths already checked
``window_start``              ``ceil((t * down - left) / up)``: first input step of output ``t``
``window_stop``               one past the last input step of output ``t``
``ready_length``              outputs whose window lies in ``n`` steps (streaming)
``causal_delay``              ``max(0, span - 1 - left)``: the delay that makes an op causal
``stream_lookahead``          steps a streamer waits for, from its emission rule
``stepwise_lookahead``        the same for a rule that changes at known steps only
============================  ========================================================
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from fractions import Fraction
from typing import TypeVar, overload

import torch
from torch import Tensor

from seqdown._validation import check_positive_int

__all__ = [
    "Length",
    "blur_pool_length",
    "causal_delay",
    "ceil_div",
    "check_steps",
    "composed_receptive_field",
    "conv_length",
    "kernel_span",
    "lengths_to_mask",
    "min_input_length",
    "pool_length",
    "ready_length",
    "resample_length",
    "stack_length",
    "stepwise_lookahead",
    "stft_frames",
    "stream_lookahead",
    "target_lengths",
    "transposed_conv_length",
    "upsample_length",
    "valid_steps",
    "window_start",
    "window_stop",
]

#: A number of steps: a Python int, or an int64 tensor of them (rules work elementwise).
Length = TypeVar("Length", int, Tensor)


def ceil_div(a: Length, b: int) -> Length:
    """``ceil(a / b)`` in exact integer arithmetic for ``b > 0``.

    Written as ``(a + b - 1) // b``, which divides a non-negative number whenever
    ``a > -b``: exported ONNX graphs truncate integer division of symbolic sizes
    toward zero, so ``-((-a) // b)`` would round the wrong way there.
    """
    return (a + b - 1) // b


def check_steps(n: object) -> None:
    """Refuses a number of steps that is not an int or an integer tensor (2.5, True, "3").

    Every rule calls it first, so a length is never computed from a float.

    Raises:
        TypeError: ``n`` is a float, a bool, a string, or a float or bool tensor.
    """
    if isinstance(n, Tensor):
        if n.is_floating_point() or n.is_complex() or n.dtype == torch.bool:
            raise TypeError(f"n must be an int or an integer tensor of step counts, got a "
                            f"{n.dtype} tensor")
    elif isinstance(n, bool) or not isinstance(n, (int, torch.SymInt)):  # SymInt: traced
        raise TypeError(f"n must be an int or an integer tensor of step counts, got {n!r} "
                        f"({type(n).__name__})")


def _clip(n: Length, out: Length) -> Length:
    """Clamps ``out`` at 0 and forces 0 where ``n`` is 0."""
    if isinstance(out, Tensor):
        return torch.where(n > 0, out.clamp(min=0), torch.zeros_like(out))
    return max(out, 0) if n > 0 else 0


def kernel_span(kernel_size: int, dilation: int = 1) -> int:
    """Input steps one window covers: ``dilation * (kernel_size - 1) + 1``.

    The receptive field of a convolution or pooling window, and the length a
    padded input needs for one output step.
    """
    return dilation * (kernel_size - 1) + 1


def conv_length(n: Length, kernel_size: int, stride: int = 1, padding: int = 0,
                dilation: int = 1) -> Length:
    """Output length of ``torch.nn.Conv1d`` for ``n`` input steps.

    ``floor((n + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1``,
    or 0 when the padded input is shorter than the dilated kernel.

    Example:
        >>> conv_length(11, kernel_size=3, stride=2, padding=1), conv_length(2, 3, 2)
        (6, 0)
    """
    check_steps(n)
    return _clip(n, (n + 2 * padding - kernel_span(kernel_size, dilation)) // stride + 1)


def pool_length(n: Length, kernel_size: int, stride: int, padding: int = 0, dilation: int = 1,
                ceil_mode: bool = False) -> Length:
    """Output length of ``torch.nn.MaxPool1d`` / ``AvgPool1d`` for ``n`` input steps.

    Without ``ceil_mode`` this is :func:`conv_length`. With it, the division is
    rounded up, and the last window is dropped when it would start in the right
    padding (``(out - 1) * stride >= n + padding``), exactly as torch decides;
    this is why ``ceil_mode`` accepts inputs shorter than the kernel.

    Example:
        >>> pool_length(torch.tensor([2, 7]), kernel_size=3, stride=2, ceil_mode=True).tolist()
        [1, 3]
    """
    check_steps(n)
    if not ceil_mode:
        return conv_length(n, kernel_size, stride, padding, dilation)
    span = kernel_span(kernel_size, dilation)
    out = ceil_div(n + 2 * padding - span, stride) + 1
    # Drop the last window when (out - 1) * stride - n - padding >= 0. That difference
    # lies in [padding - span, padding - span + stride - 1], so with `bound` above its
    # magnitude, (difference + bound) // bound is that test as 1 or 0: integer
    # arithmetic without a branch, which stays symbolic when the length is traced.
    bound = span + stride + padding
    return _clip(n, out - ((out - 1) * stride - n - padding + bound) // bound)


def resample_length(n: Length, up: int, down: int) -> Length:
    """``ceil(n * up / down)``: the length ``scipy.signal.resample_poly`` returns.

    Example:
        >>> resample_length(44100, up=160, down=441), resample_length(7, 1, 3)
        (16000, 3)
    """
    check_steps(n)
    return _clip(n, ceil_div(n * up, down))


def stack_length(n: Length, factor: int, pad_remainder: bool = False) -> Length:
    """Steps after stacking ``factor`` steps: ``ceil(n / factor)`` if the remainder is padded,
    else ``floor(n / factor)``.

    Example:
        >>> stack_length(10, 3), stack_length(10, 3, pad_remainder=True)
        (3, 4)
    """
    check_steps(n)
    return _clip(n, ceil_div(n, factor) if pad_remainder else n // factor)


def blur_pool_length(n: Length, factor: int) -> Length:
    """Output length of :class:`~seqdown.frontends.blur.BlurPool`: ``floor(n / factor)``.

    The dense max is a valid window of ``factor`` steps (``n - factor + 1``
    steps), the blur keeps that length and the stride rounds it up, which a
    kernel-1 convolution with stride ``factor`` states.

    Example:
        >>> blur_pool_length(9, 2), blur_pool_length(1, 2)
        (4, 0)
    """
    return conv_length(conv_length(n, factor), 1, factor)


def composed_receptive_field(stages: Iterable[tuple[int, int | Fraction]]) -> int:
    """Input steps one output step depends on, for ops run one after another.

    Args:
        stages: ``(receptive_field, factor)`` of each op, first op first. Each
            step of a later op's window is ``factor`` input steps of the ops
            before it, so the field grows by ``(receptive_field - 1)`` times the
            product of the earlier factors.

    Example:
        >>> composed_receptive_field([(31, 2), (2, 2)])  # Decimate(2) then MaxPool(2)
        33
    """
    field: int | Fraction = 1
    step: int | Fraction = 1
    for receptive_field, factor in stages:
        field = field + (receptive_field - 1) * step
        step = step * factor
    return math.ceil(field)


def upsample_length(n: Length, factor: int) -> Length:
    """Output length of :func:`upsample` / :class:`Upsample`: ``n * factor``.

    Example:
        >>> upsample_length(19, 2), upsample_length(torch.tensor([19, 0]), 2).tolist()
        (38, [38, 0])
    """
    return resample_length(n, factor, 1)


def transposed_conv_length(n: Length, kernel_size: int, stride: int, padding: int = 0) -> Length:
    """Output length of ``torch.nn.ConvTranspose1d`` for ``n`` input steps.

    ``(n - 1) * stride - 2 * padding + kernel_size``, 0 for ``n = 0`` (and never
    negative); ``n * stride`` when ``kernel_size - 2 * padding == stride``.

    Example:
        >>> transposed_conv_length(9, kernel_size=4, stride=2, padding=1)
        18
    """
    check_steps(n)
    return _clip(n, (n - 1) * stride - 2 * padding + kernel_size)


@overload
def target_lengths(out_lengths: int, target_length: int | None) -> int: ...


@overload
def target_lengths(out_lengths: Tensor, target_length: int | None) -> Tensor: ...


def target_lengths(out_lengths: int | Tensor, target_length: int | None) -> int | Tensor:
    """Valid lengths after :func:`pad_or_trim` to ``target_length``: ``min(out_lengths, target)``.

    Trimming cuts the steps beyond the target; padding adds zeros, which are not
    valid steps. ``target_length=None`` leaves the lengths as they are.

    Example:
        >>> target_lengths(torch.tensor([38, 20, 0]), 37).tolist()
        [37, 20, 0]
    """
    if target_length is None:
        return out_lengths
    if isinstance(out_lengths, Tensor):
        return out_lengths.clamp(max=target_length)
    return min(out_lengths, target_length)


def stft_frames(n: Length, n_fft: int, hop_length: int) -> Length:
    """Frames of a centred STFT of ``n`` samples: ``1 + (n + 2 * (n_fft // 2) - n_fft) // hop``.

    This is ``1 + n // hop_length`` for an even ``n_fft``, the length
    ``torch.stft(center=True)`` and ``torchaudio.transforms.Spectrogram`` give.
    Reflect padding needs more than ``n_fft // 2`` samples, so shorter inputs
    give 0 frames.

    Example:
        >>> stft_frames(16000, n_fft=400, hop_length=160), stft_frames(200, 400, 160)
        (101, 0)
    """
    check_steps(n)
    frames = 1 + (n + 2 * (n_fft // 2) - n_fft) // hop_length
    # _clip forces 0 where its first argument is <= 0: here, n <= n_fft // 2.
    return _clip(n - n_fft // 2, frames)


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
        TypeError: ``lengths`` is not an integer tensor (bool is refused).
        ValueError: ``lengths`` is not 1-D, is negative, or exceeds ``max_length``.

    Example:
        >>> lengths_to_mask(torch.tensor([3, 1]), 4)
        tensor([[ True,  True,  True, False],
                [ True, False, False, False]])
    """
    if (not isinstance(lengths, Tensor) or lengths.is_floating_point() or lengths.is_complex()
            or lengths.dtype == torch.bool):
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


def window_start(t: Length, up: int, down: int, left: int) -> Length:
    """First input step that output step ``t`` reads: ``ceil((t * down - left) / up)``.

    The geometry of every seqdown op: output step ``t`` sits at ``t * down / up``
    input steps, and its window reaches ``left`` steps before that and
    ``span - left - 1`` after it, all counted in steps of the ``up``-times
    upsampled input (for an integer-stride op ``up = 1`` and the window is
    ``[t * stride - padding, t * stride - padding + kernel_span)``). The first
    windows start before the signal (negative steps): that is the op's padding.

    Example:
        >>> window_start(3, up=1, down=2, left=1), window_start(3, up=3, down=2, left=4)
        (5, 1)
    """
    return ceil_div(t * down - left, up)


def window_stop(t: Length, up: int, down: int, left: int, span: int) -> Length:
    """One past the last input step that output step ``t`` reads (see :func:`window_start`).

    ``floor((t * down - left + span - 1) / up) + 1``.

    Example:
        >>> window_stop(3, up=1, down=2, left=1, span=3), window_stop(3, 3, 2, left=4, span=9)
        (8, 4)
    """
    return (t * down - left + span - 1) // up + 1


def ready_length(n: Length, up: int, down: int, left: int, span: int) -> Length:
    """Output steps whose whole window lies within the first ``n`` input steps.

    The number of ``t >= 0`` with ``window_stop(t, ...) <= n``:
    ``max(0, floor((n * up - span + left) / down) + 1)``. A streamer can emit
    exactly these after ``n`` steps without knowing whether more will come.

    Example:
        >>> ready_length(10, up=1, down=2, left=1, span=3)  # windows end at 2, 4, 6, 8, 10
        5
    """
    count = (n * up - span + left) // down + 1
    if isinstance(count, Tensor):
        return count.clamp(min=0)
    return max(count, 0)


def causal_delay(left: int, span: int) -> int:
    """Input steps an integer-stride window reaches beyond its output's position ``t * stride``.

    ``max(0, span - 1 - left)``: delaying the input by this many steps makes
    output step ``t`` depend on no input step after ``t * stride``.

    Example:
        >>> causal_delay(left=15, span=31), causal_delay(left=0, span=2)  # Decimate(2), MaxPool(2)
        (15, 1)
    """
    return max(0, span - 1 - left)


def stream_lookahead(emitted: Callable[[int], int], output_length: Callable[[int], int],
                     horizon: int) -> int:
    """The smallest ``l >= 0`` with ``emitted(n) >= output_length(n - l)`` for ``n < horizon``.

    ``emitted(n)`` is how many output steps a streamer has returned after ``n``
    input steps. For each ``n`` the tightest ``l`` is ``n - m`` with ``m`` the
    largest length whose output fits in ``emitted(n)``; the lookahead is the
    largest of these. Both rules are periodic after the first windows, so a
    ``horizon`` of a few receptive fields and periods makes the result exact.

    Example:
        >>> stream_lookahead(lambda n: max(0, (n - 1) // 2), lambda n: -(-n // 2), 64)
        2
    """
    worst, fits = 0, 0
    for n in range(horizon):
        available = emitted(n)
        while fits < n and output_length(fits + 1) <= available:
            fits += 1
        fits = min(fits, n)
        worst = max(worst, n - fits)
    return worst


def stepwise_lookahead(emitted: Callable[[int], int], output_length: Callable[[int], int],
                       events: Iterable[int]) -> int:
    """:func:`stream_lookahead` for an ``emitted`` rule that changes only at ``events``.

    Between two changes ``emitted`` is constant and ``n`` grows, so the tightest
    lookahead ``n - m`` is largest just before each change: only ``event - 1``
    needs checking, and ``m`` (the largest length whose output fits) is found by
    bisection. A streamer whose steps are millions of samples apart (the
    two-stage resampler) is then checked in a few thousand evaluations.

    Args:
        emitted: output steps returned after ``n`` input steps.
        output_length: the op's length law (non-decreasing).
        events: the input counts at which ``emitted`` may change, up to where the
            emission is periodic (as ``horizon`` in :func:`stream_lookahead`).

    Example:
        >>> emitted, length = lambda n: max(0, (n - 1) // 2), lambda n: -(-n // 2)
        >>> stepwise_lookahead(emitted, length, range(1, 64, 2))
        2
    """
    worst = 0
    for event in events:
        n = event - 1
        if n < 0:
            continue
        available, low, high = emitted(n), 0, n
        while low < high:  # the largest m <= n with output_length(m) <= available
            middle = (low + high + 1) // 2
            low, high = (middle, high) if output_length(middle) <= available else (low, middle - 1)
        worst = max(worst, n - low)
    return worst

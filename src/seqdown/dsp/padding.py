"""What a resampler sees beyond the ends of a signal: ``padtype``, as ``resample_poly`` has it.

A long filter reads ``half`` samples past each end. ``scipy.signal.resample_poly``
offers several assumptions about them, and so does seqdown:

* ``"constant"``: zeros (the default, and the only choice before ``padtype``);
* ``"edge"``: the first and last samples, repeated;
* ``"line"``: the straight line through the first and the last sample, continued;
* ``"smooth"``: each end continued with the slope of its last two samples;
* ``"mean"``, ``"maximum"``, ``"minimum"``: that statistic of the signal is
  subtracted, the rest is zero-padded and resampled, and the statistic is added
  back (a constant signal then comes back exactly constant).

The extension is never materialised for the whole signal: :func:`extension`
returns the few samples before and after it, and :func:`segment` reads any
stretch of the extended signal, so engines copy only the blocks at the ends.
A single sample has no slope: ``"line"`` and ``"smooth"`` then continue it flat.
"""

from __future__ import annotations

from typing import Literal, get_args

import torch
from torch import Tensor

from seqdown._validation import check_choice
from seqdown.lengths import valid_steps

__all__ = [
    "BACKGROUND_PADTYPES",
    "PADTYPES",
    "PadType",
    "background",
    "check_lengths_padtype",
    "check_padtype",
    "continuation",
    "extends_with_zeros",
    "extension",
    "pieces",
    "segment",
    "zero_beyond",
]

PadType = Literal["constant", "edge", "line", "smooth", "mean", "maximum", "minimum"]
PADTYPES: tuple[str, ...] = get_args(PadType)
#: Padtypes that subtract a statistic of the signal and zero-pad the rest.
BACKGROUND_PADTYPES: tuple[str, ...] = ("mean", "maximum", "minimum")


def check_padtype(padtype: PadType) -> PadType:
    """Returns ``padtype`` after checking it is one of :data:`PADTYPES`."""
    return check_choice("padtype", padtype, PADTYPES)


def check_lengths_padtype(padtype: str) -> None:
    """Raises a ValueError unless ``padtype`` is ``"constant"``, the one that ``lengths``
    allow (whatever follows an item's end reads as zeros)."""
    if padtype != "constant":
        raise ValueError(f"lengths needs padtype='constant' (the padding reads as zeros), "
                         f"got padtype={padtype!r}")


def background(x: Tensor, padtype: str) -> Tensor | None:
    """The ``(rows, 1)`` statistic a background padtype removes from ``(rows, time)``, or None."""
    if padtype not in BACKGROUND_PADTYPES or x.shape[-1] == 0:
        return None
    if padtype == "mean":
        return x.mean(dim=-1, keepdim=True)
    reduce = torch.amax if padtype == "maximum" else torch.amin
    return reduce(x, dim=-1, keepdim=True)


def extends_with_zeros(padtype: str) -> bool:
    """Whether ``padtype`` reads zeros beyond the ends (after :func:`background`, if any)."""
    return padtype == "constant" or padtype in BACKGROUND_PADTYPES


def _end_slopes(x: Tensor, padtype: str) -> tuple[Tensor, Tensor]:
    """Slopes (per sample) of the left and right continuation, each ``(rows, 1)``."""
    time = x.shape[-1]
    if time < 2 or padtype == "edge":
        zero = x.new_zeros(x.shape[0], 1)
        return zero, zero
    if padtype == "line":
        slope = (x[:, -1:] - x[:, :1]) / (time - 1)
        return slope, slope
    return x[:, 1:2] - x[:, :1], x[:, -1:] - x[:, -2:-1]  # "smooth"


def continuation(x: Tensor, padtype: str, before: Tensor,
                 after: Tensor) -> tuple[Tensor, Tensor]:
    """The extension of ``(rows, time)`` evaluated at any times beyond its ends.

    Args:
        x: the signal (``time >= 1`` for a non-zero continuation).
        padtype: one of :data:`PADTYPES` (background padtypes continue with zeros:
            subtract :func:`background` first).
        before: times (in samples, any real values) before the first sample,
            counted from it: ``-1`` is the sample preceding ``x[:, 0]``.
        after: times after the last sample, counted from it: ``1`` follows ``x[:, -1]``.

    Returns:
        ``(rows, before.numel())`` and ``(rows, after.numel())``: the continuation
        there (the two-stage resampler reads it at its intermediate rate).
    """
    rows, time = x.shape
    if extends_with_zeros(padtype) or time == 0:
        return x.new_zeros(rows, before.numel()), x.new_zeros(rows, after.numel())
    left_slope, right_slope = _end_slopes(x, padtype)
    before, after = before.to(x.dtype), after.to(x.dtype)
    return x[:, :1] + left_slope * before, x[:, -1:] + right_slope * after


def extension(x: Tensor, padtype: str, before: int, after: int,
              hold: int | None = None) -> tuple[Tensor, Tensor]:
    """The ``before`` samples preceding and the ``after`` samples following ``(rows, time)``.

    Background padtypes extend with zeros: subtract :func:`background` first.
    An empty signal extends with zeros whatever the padtype. With ``hold``, the
    continuation after the end stops changing ``hold`` samples past it: an
    engine whose blocks reach far beyond the filter's support (the FFT path) then
    sees a bounded signal there, not a ramp that grows with the block length.
    """
    if extends_with_zeros(padtype) or x.shape[-1] == 0:
        return x.new_zeros(x.shape[0], before), x.new_zeros(x.shape[0], after)
    steps_before = torch.arange(-before, 0, dtype=x.dtype, device=x.device)
    steps_after = torch.arange(1, after + 1, dtype=x.dtype, device=x.device)
    if hold is not None:
        steps_after = steps_after.clamp(max=hold)
    return continuation(x, padtype, steps_before, steps_after)


def pieces(x: Tensor, left: Tensor, right: Tensor, start: int, stop: int
           ) -> list[tuple[int, Tensor]]:
    """The parts of ``cat(left, x, right)`` that lie in ``start:stop``, without a copy.

    Positions are counted from ``x``'s first sample; the samples before ``left`` and
    after ``right`` are zeros and have no part. An engine that only sums products
    with the stretch (a banded matrix product) reads each part where it lies.

    Returns:
        ``(offset, part)`` pairs: ``part`` holds the samples ``start + offset`` on, a
        slice of ``left``, ``x`` or ``right``; empty parts are left out.
    """
    time = x.shape[-1]
    low, high = -left.shape[-1], time + right.shape[-1]
    found = []
    if start < 0 and stop > low:
        found.append((max(start, low) - start, left[:, max(start, low) - low : min(stop, 0) - low]))
    if stop > 0 and start < time:
        found.append((max(start, 0) - start, x[:, max(start, 0) : min(stop, time)]))
    if stop > time and start < high:
        found.append((max(start, time) - start,
                      right[:, max(start, time) - time : min(stop, high) - time]))
    return [(offset, part) for offset, part in found if part.shape[-1] > 0]


def segment(x: Tensor, left: Tensor, right: Tensor, start: int, stop: int) -> Tensor:
    """Samples ``start:stop`` of ``cat(left, x, right)``, indexed from ``x``'s first sample.

    Positions before ``left`` or after ``right`` read as zeros.
    """
    parts = []
    at = 0
    for offset, part in pieces(x, left, right, start, stop):
        if offset > at:
            parts.append(x.new_zeros(x.shape[0], offset - at))
        parts.append(part)
        at = offset + part.shape[-1]
    if stop - start > at or not parts:
        parts.append(x.new_zeros(x.shape[0], max(0, stop - start - at)))
    return parts[0] if len(parts) == 1 else torch.cat(parts, dim=-1)


def zero_beyond(x: Tensor, lengths: Tensor) -> Tensor:
    """``(rows, time)`` with every sample at or beyond its row's length set to zero (a copy).

    Args:
        x: ``(rows, time)``.
        lengths: int64 ``(items,)``, ``items`` dividing ``rows``: each holds for
            ``rows // items`` consecutive rows (the channels of a batch item).
    """
    per_row = lengths.repeat_interleave(x.shape[0] // max(1, lengths.shape[0]))
    return torch.where(valid_steps(per_row, x.shape[-1]), x, x.new_zeros(()))

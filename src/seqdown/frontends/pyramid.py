"""Spatial pyramid pooling over time (He et al., 2014), on each item's valid steps.

Each level ``n`` splits an item of ``L`` valid steps into ``n`` bins and pools
each bin; bin ``i`` covers ``floor(i * L / n) <= t < ceil((i + 1) * L / n)``,
the bins of ``adaptive_max_pool1d`` / ``adaptive_avg_pool1d``. The levels are
flattened channel-major and concatenated, giving a fixed-size vector per item
whatever its length: ``(batch, channels * sum(levels))``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, NoReturn

import torch
import torch.nn.functional as F
from torch import Tensor

from seqdown._validation import (
    check_choice,
    check_lengths,
    check_positive_int,
    check_signal,
    refuse_legacy_tracing,
)
from seqdown.frontends.base import FrontEnd, fill_padding
from seqdown.lengths import Length, ceil_div, check_steps

__all__ = ["PyramidPool", "pyramid_pool"]

PoolMode = Literal["max", "avg"]
_MODES: tuple[str, ...] = ("max", "avg")


#: Most bins one level may have: a pyramid summarises, it does not resample.
MAX_BINS = 4096


def _check_levels(levels: Sequence[int]) -> tuple[int, ...]:
    if isinstance(levels, (str, bytes)) or not isinstance(levels, Sequence) or not levels:
        raise TypeError(f"levels must be a non-empty sequence of positive ints, got {levels!r}")
    checked = tuple(check_positive_int("levels[]", level) for level in levels)
    if max(checked) > MAX_BINS:
        raise ValueError(f"levels must have at most MAX_BINS={MAX_BINS} bins each, got "
                         f"{max(checked)}")
    return checked


def _pool_level(x: Tensor, lengths: Tensor, bins: int, mode: str) -> Tensor:
    """Pools ``(batch, channels, time)`` into ``bins`` adaptive bins of each valid range."""
    index = torch.arange(bins, device=x.device)
    n = lengths.to(x.device)[:, None]
    start = (index * n) // bins
    end = ceil_div((index + 1) * n, bins)
    steps = torch.arange(x.shape[-1], device=x.device)
    member = (steps >= start[..., None]) & (steps < end[..., None])  # (batch, bins, time)
    if mode == "avg":
        counts = member.sum(-1).clamp(min=1).to(x.dtype)
        x = fill_padding(x, lengths, 0.0)  # a product with 0 would keep NaN or inf padding
        return torch.einsum("bct,bnt->bcn", x, member.to(x.dtype)) / counts[:, None, :]
    # One bin at a time: the working memory is one copy of x, not bins copies of it.
    return torch.stack([x.masked_fill(~member[:, None, b], float("-inf")).amax(-1)
                        for b in range(bins)], dim=-1)


def pyramid_pool(x: Tensor, levels: Sequence[int] = (4, 2, 1), mode: PoolMode = "max",
                 lengths: Tensor | None = None) -> Tensor:
    """Pools every item of ``(batch, channels, time)`` into a fixed-size vector.

    Args:
        x: ``(batch, channels, time)`` floating-point tensor.
        levels: bins per level.
        mode: ``"max"`` or ``"avg"``.
        lengths: optional int64 ``(batch,)``; each item is pooled over its valid
            steps only, and an item of length 0 gives zeros.

    Returns:
        ``(batch, channels * sum(levels))``: for each level, the
        ``adaptive_{mode}_pool1d`` of the item flattened to ``channels * bins``.

    Raises:
        ValueError: ``time`` is 0 and no ``lengths`` are given, or bad arguments.

    Example:
        >>> pyramid_pool(torch.arange(4.0).view(1, 1, 4), levels=(2, 1)).tolist()
        [[1.0, 3.0, 3.0]]
    """
    check_signal(x)
    levels = _check_levels(levels)
    mode = check_choice("mode", mode, _MODES)
    batch = x.shape[0]
    if batch == 0 or x.shape[1] == 0:  # nothing to pool: the empty output of the right shape
        if lengths is not None:
            check_lengths(lengths, x)
        return x.new_zeros(batch, x.shape[1] * sum(levels))
    if lengths is None:
        if x.shape[-1] < 1:
            raise ValueError(f"x must have at least 1 time step, got shape {tuple(x.shape)}; "
                             "pass lengths=... to get zeros for empty items")
        adaptive = F.adaptive_max_pool1d if mode == "max" else F.adaptive_avg_pool1d
        return torch.cat([adaptive(x, bins).reshape(batch, -1) for bins in levels], dim=1)
    lengths = check_lengths(lengths, x)
    if x.shape[-1] == 0:
        return x.new_zeros(batch, x.shape[1] * sum(levels))
    pooled = torch.cat([_pool_level(x, lengths, bins, mode).reshape(batch, -1)
                        for bins in levels], dim=1)
    empty = (lengths.to(x.device) == 0)[:, None]
    return pooled.masked_fill(empty, 0.0)


class PyramidPool(FrontEnd):
    """Spatial pyramid pooling over time: one fixed-size vector per item.

    The time axis is pooled away, so ``forward`` returns ``(y, None)``,
    ``output_length(n)`` is 1 for ``n >= 1`` (one vector) and 0 for ``n = 0``,
    and ``factor`` and ``receptive_field`` are None (the coarsest level sees
    the whole item). In a :class:`Chain` it must come last.

    Args:
        levels: bins per level.
        mode: ``"max"`` or ``"avg"``.

    Shape:
        - x: ``(batch, channels, time)``; lengths: ``(batch,)`` or None.
        - y: ``(batch, channels * sum(levels))``.

    Example:
        >>> y, _ = PyramidPool((4, 2, 1))(torch.randn(3, 80, 50), torch.tensor([50, 7, 0]))
        >>> y.shape
        torch.Size([3, 560])
    """

    def __init__(self, levels: Sequence[int] = (4, 2, 1), mode: PoolMode = "max") -> None:
        super().__init__()
        self.levels = _check_levels(levels)
        self.mode = check_choice("mode", mode, _MODES)

    @property
    def factor(self) -> None:
        return None

    @property
    def receptive_field(self) -> None:
        return None

    def output_length(self, n: Length) -> Length:
        check_steps(n)
        return (n > 0).long() if isinstance(n, Tensor) else int(n > 0)

    def output_channels(self, channels: int) -> int:
        return channels * sum(self.levels)

    @property
    def lookahead(self) -> None:  # type: ignore[override]
        """None: the output waits for the whole item."""
        return None

    @property
    def delay(self) -> int:
        return 0

    def streamer(self) -> NoReturn:
        """Raises ValueError: a global pooling waits for the whole input, so it has no stream."""
        raise ValueError("PyramidPool pools each item as a whole (its receptive field is the "
                         "item), so it cannot stream; stream the front-end before it and pool "
                         "the concatenated output")

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, None]:
        """Pools ``x``; see :func:`pyramid_pool`. Returns ``(y, None)``."""
        refuse_legacy_tracing(type(self).__name__)
        return pyramid_pool(x, self.levels, self.mode, lengths), None

    def extra_repr(self) -> str:
        return f"levels={self.levels}, mode={self.mode!r}"

"""Chains of front-ends, and the spec strings that build them.

A chain's length rule is the composition of its stages' rules; its factor is
the product of theirs; its receptive field grows by each later stage's field
measured in the earlier stages' steps::

    rf(a then b) = rf(a) + (rf(b) - 1) * factor(a)

Both are exact for integer strides; with a rational stage the field is
rounded up to whole input steps.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction
from typing import cast

from torch import Tensor, nn

from seqdown._validation import check_positive_int, check_signal
from seqdown.frontends.base import FrontEnd
from seqdown.frontends.blur import BlurPool
from seqdown.frontends.conv import StridedConv
from seqdown.frontends.pooling import AvgPool, MaxPool
from seqdown.frontends.pyramid import PyramidPool
from seqdown.frontends.resampling import Decimate
from seqdown.frontends.stack import FrameStack
from seqdown.frontends.streaming import ChainStreamer, Streamer, StreamGeometry, chain_lookahead
from seqdown.lengths import Length, check_steps, composed_receptive_field

__all__ = ["SPEC_NAMES", "Chain", "build_frontend"]


class Chain(FrontEnd):
    """Runs front-ends in order; lengths, factor and receptive field compose exactly.

    An empty chain is the identity (factor 1, receptive field 1).

    Args:
        *frontends: the stages, each a :class:`FrontEnd`. A :class:`PyramidPool`
            may only be the last stage.

    Shape:
        - x: ``(batch, channels, time)``; lengths: ``(batch,)`` or None.
        - y: the last stage's output.

    Example:
        >>> chain = Chain(Decimate(2), MaxPool(2))
        >>> chain.factor, chain.output_length(9), chain.min_length
        (4, 2, 3)
    """

    def __init__(self, *frontends: FrontEnd) -> None:
        super().__init__()
        for index, stage in enumerate(frontends):
            if not isinstance(stage, FrontEnd):
                raise TypeError(f"frontends[{index}] must be a seqdown FrontEnd, "
                                f"got {type(stage).__name__}")
            if isinstance(stage, PyramidPool) and index != len(frontends) - 1:
                raise ValueError(f"PyramidPool removes the time axis, so it must be the last "
                                 f"stage, got it at position {index} of {len(frontends)}")
        self.stages = nn.ModuleList(frontends)

    @property
    def _frontends(self) -> tuple[FrontEnd, ...]:
        """The stages, typed (``nn.ModuleList`` items are plain Modules to a type checker)."""
        return tuple(cast(FrontEnd, stage) for stage in self.stages)

    def __len__(self) -> int:
        return len(self.stages)

    def __getitem__(self, index: int) -> FrontEnd:
        return self._frontends[index]

    @property
    def factor(self) -> int | Fraction | None:
        total: int | Fraction = 1
        for stage in self._frontends:
            if stage.factor is None:
                return None
            total = total * stage.factor
        return total

    @property
    def receptive_field(self) -> int | None:
        stages = []
        for stage in self._frontends:
            field, factor = stage.receptive_field, stage.factor
            if field is None or factor is None:
                return None
            stages.append((field, factor))
        return composed_receptive_field(stages)

    def output_length(self, n: Length) -> Length:
        check_steps(n)  # an empty chain has no stage to check it
        for stage in self._frontends:
            n = stage.output_length(n)
        return n

    def output_channels(self, channels: int) -> int:
        for stage in self._frontends:
            channels = stage.output_channels(channels)
        return channels

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """Runs every stage; see :meth:`FrontEnd.forward` for arguments and errors."""
        if not len(self.stages):
            return super().forward(x, lengths)
        check_signal(x)
        if lengths is None:
            # Check the whole chain first, so that the message names its own minimum.
            self.require_length(x.shape[-1])
        for stage in self._frontends:
            x, lengths = stage(x, lengths)
        return x, lengths

    def _shorten(self, x: Tensor) -> Tensor:
        return x

    @property
    def stream_geometry(self) -> StreamGeometry:
        """The identity's geometry; only an empty chain streams with it."""
        return StreamGeometry()

    @property
    def delay(self) -> int:
        """Input steps the causal stages delay the chain by: ``sum(delay_i * factor_before_i)``."""
        total: int | Fraction = 0
        step: int | Fraction = 1
        for stage in self._frontends:
            total += stage.delay * step
            if stage.factor is None:  # a PyramidPool ends the chain
                break
            step = step * stage.factor
        return math.ceil(total)

    @property
    def lookahead(self) -> int | None:  # type: ignore[override]
        """Exactly the lookahead of the stages streamed one after the other; None when a
        :class:`PyramidPool` ends the chain (the output waits for the whole item)."""
        if not len(self.stages):
            return 0
        factor = self.factor
        if factor is None:
            return None
        return chain_lookahead([(stage.stream_geometry, stage.output_length)
                                for stage in self._frontends], self.output_length,
                               math.ceil(factor))

    def streamer(self) -> Streamer | ChainStreamer:  # type: ignore[override]
        """Streams every stage in turn; see :meth:`FrontEnd.streamer`.

        Raises:
            ValueError: a stage cannot stream (a :class:`PyramidPool`).
        """
        if not len(self.stages):
            return super().streamer()
        return ChainStreamer([stage.streamer() for stage in self._frontends])

    def extra_repr(self) -> str:
        return f"factor={self.factor}, receptive_field={self.receptive_field}"


def _conv(factor: int, channels: int | None) -> FrontEnd:
    if channels is None:
        raise ValueError("spec name 'conv' is a learnable convolution and needs channels=..., "
                         "the number of input channels")
    return StridedConv(channels, channels, kernel_size=factor, stride=factor)


#: Spec names and what each builds for ``NAME:FACTOR``.
SPEC_NAMES: dict[str, Callable[[int, int | None], FrontEnd]] = {
    "max": lambda factor, channels: MaxPool(factor),
    "avg": lambda factor, channels: AvgPool(factor),
    "conv": _conv,
    "decimate": lambda factor, channels: Decimate(factor),
    "blur": lambda factor, channels: BlurPool(factor),
    "stack": lambda factor, channels: FrameStack(factor),
}


def build_frontend(spec: str, channels: int | None = None) -> Chain:
    """Builds a front-end from a spec string such as ``"decimate:2+max:2"``.

    Tokens ``NAME:FACTOR`` are joined by ``+`` and run left to right:

    ============  ==========================================================
    ``max:F``     ``MaxPool(F)`` (kernel and stride ``F``)
    ``avg:F``     ``AvgPool(F)``
    ``conv:F``    ``StridedConv(channels, channels, kernel_size=F, stride=F)``
    ``decimate:F``  ``Decimate(F)`` (60 dB, short filter)
    ``blur:F``    ``BlurPool(F)``
    ``stack:F``   ``FrameStack(F)`` (channels become ``channels * F``)
    ============  ==========================================================

    ``"none"`` builds the identity. An empty spec is refused: it is almost always
    a configuration mistake (an unset variable), not a request for no front-end.

    Args:
        spec: the spec string; names are case-insensitive, spaces are ignored.
        channels: input channels, needed by ``conv``.

    Returns:
        A :class:`Chain` of the stages.

    Raises:
        ValueError: an empty spec, an unknown name, a missing or non-positive factor,
            or ``conv`` without ``channels``; the message lists the valid names.

    Example:
        >>> build_frontend("decimate:2+max:2").factor
        4
    """
    if not isinstance(spec, str):
        raise TypeError(f"spec must be a string such as 'decimate:2+max:2', got {spec!r}")
    valid = ", ".join(SPEC_NAMES)
    text = spec.replace(" ", "").lower()
    if not text:
        raise ValueError(f"spec is empty ({spec!r}); use 'none' for the identity, or NAME:FACTOR "
                         f"tokens joined by '+', e.g. 'decimate:2+max:2'; valid names: {valid}")
    if text == "none":
        return Chain()
    stages = []
    for token in text.split("+"):
        name, sep, factor_text = token.partition(":")
        if name not in SPEC_NAMES:
            raise ValueError(f"unknown front-end {name!r} in spec {spec!r}; valid names: {valid} "
                             "(as NAME:FACTOR tokens joined by '+', e.g. 'decimate:2+max:2')")
        digits = factor_text.lstrip("-")
        if not sep or not (digits.isascii() and digits.isdigit()) or int(factor_text) < 1:
            raise ValueError(f"front-end {name!r} in spec {spec!r} needs a positive integer "
                             f"factor as {name}:FACTOR, got {factor_text!r}; valid names: {valid}")
        if channels is not None:
            channels = check_positive_int("channels", channels)
        stage = SPEC_NAMES[name](int(factor_text), channels)
        stages.append(stage)
        if channels is not None:  # each stage gets the channels its predecessors output
            channels = stage.output_channels(channels)
    return Chain(*stages)

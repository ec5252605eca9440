"""``FrontEnd``: the contract every seqdown front-end keeps.

:class:`PaddedBatchModule` holds what downsampling and upsampling share (the
length rule, the channel rule, input checks, masking of the output); the
upsamplers of :mod:`seqdown.frontends.upsampling` build on it too.

A front-end shortens ``(batch, channels, time)`` sequences and knows exactly by
how much. Subclasses implement two things: the op on a batch whose items all
fill the time axis (:meth:`FrontEnd._shorten`) and the op's length rule
(:meth:`FrontEnd.output_length`, written with :mod:`seqdown.lengths`). The base
class turns them into the padded-batch contract:

* the padding of each item is replaced by the value the op sees outside a lone
  item (``_pad_value``: 0, or ``-inf`` for max pooling), so neither the padding
  nor the other items can reach an item's output;
* ``out_lengths = output_length(lengths)``, and every output step at or beyond
  an item's output length is set to exactly zero;
* inputs too short for one output step raise a ``ValueError`` that names the
  minimum, unless ``lengths`` are given, in which case such items get length 0.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import NoReturn

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seqdown._validation import (
    check_lengths,
    check_signal,
    is_batched,
    is_tracing,
    legacy_tracing_message,
    refuse_legacy_tracing,
)
from seqdown.frontends.streaming import Streamer, StreamGeometry
from seqdown.lengths import (
    Length,
    causal_delay,
    kernel_span,
    min_input_length,
    stream_lookahead,
    valid_steps,
)

__all__ = ["FrontEnd", "PaddedBatchModule", "WindowedFrontEnd", "fill_padding", "fills_time",
           "require_steps"]


#: Values per item from which :func:`fill_padding` fills each item's padding in place of a
#: copy (a few us per item) rather than selecting every value (``torch.where`` runs at
#: about 0.4 ns per value on CPU, a copy at 0.07 ns; measured on 32 x 80 x 500 floats).
_FILL_BY_ITEM_VALUES = 4096


def fill_padding(x: Tensor, lengths: Tensor, value: float = 0.0, in_place: bool = False
                 ) -> Tensor:
    """Returns ``x`` with every step at or beyond ``lengths[b]`` set to ``value``.

    In eager mode on CPU, for items of at least ``_FILL_BY_ITEM_VALUES`` values, the
    padding is filled item by item: in a copy of ``x``, or with ``in_place`` in ``x``
    itself (then returned). Otherwise (traced, ``vmap``, other devices, tiny items) it
    is one ``torch.where``, a new tensor.

    Args:
        x: ``(batch, channels, time)``.
        lengths: int64 ``(batch,)``, on any device.
        value: the fill, e.g. ``0.0`` or ``-inf``.
        in_place: ``x`` may be filled itself: only for a tensor that nothing else holds
            (a module's fresh output). It saves the copy, which took 0.89 ms per call for
            a 32 x 80 x 250 float32 output in a one-thread profile of `Decimate(4)` with
            lengths (the copy landed on new pages).
    """
    _, channels, time = x.shape
    # The eager checks first: under tracing a comparison of sizes would guard them.
    if (not (is_tracing() or is_batched(x) or is_batched(lengths)) and x.device.type == "cpu"
            and channels * time >= _FILL_BY_ITEM_VALUES):
        y = x if in_place else x.clone()
        for b, n in enumerate(lengths.tolist()):
            if n < time:
                y[b, :, n:] = value
        return y
    mask = valid_steps(lengths.to(x.device), time)
    # One pass that writes a new tensor: ``masked_fill`` copies, then fills (measured
    # about 1.7x slower on CPU for a feature batch).
    return torch.where(mask[:, None, :], x, x.new_full((), value))


def fills_time(lengths: Tensor, time: int) -> bool:
    """True when every length is ``time`` (nothing to mask), checked in eager mode only.

    Traced (:func:`~seqdown._validation.is_tracing`) or under ``torch.func.vmap`` the
    values cannot be read: False, so the caller masks as for any padded batch. So it is
    for lengths on another device than the CPU: reading them would wait for the device,
    which costs more than the mask.
    """
    if is_tracing() or is_batched(lengths) or lengths.device.type != "cpu":
        return False
    return bool((lengths >= time).all())


def require_steps(op: str, time: int, output_length: Callable[[int], int],
                  hint: str = "pad the input") -> None:
    """Raises the ValueError of an input too short for one output step of ``op``.

    One message for a Module's ``forward`` and its functional form, naming the
    minimum length (:func:`~seqdown.lengths.min_input_length` of the rule).

    Args:
        op: the op's name as the user knows it (``"Decimate"``).
        time: the input's time steps.
        output_length: the op's length rule.
        hint: what the user can do about it.
    """
    if output_length(time) < 1:
        raise ValueError(
            f"x has {time} time steps, but {op} needs at least "
            f"min_length={min_input_length(output_length)} to produce one output step; {hint}"
        )


class PaddedBatchModule(nn.Module):
    """What every length-exact module of seqdown shares, downsampling or upsampling.

    Subclasses state the length rule (:meth:`output_length`, written with
    :mod:`seqdown.lengths`), the channel rule (:meth:`output_channels`) and any
    extra input check (:meth:`check_input`); :meth:`check_batch` and
    :meth:`mask_output` are the two ends of every ``forward``.
    """

    def output_length(self, n: Length) -> Length:
        """Exact output length for ``n`` valid input steps (int, or int64 tensor elementwise)."""
        raise NotImplementedError

    def output_channels(self, channels: int) -> int:
        """Channels of the output for ``channels`` input channels."""
        return channels

    def check_input(self, x: Tensor) -> None:
        """Hook for subclasses to validate ``x`` beyond the common checks (e.g. channels)."""

    def check_batch(self, x: Tensor, lengths: Tensor | None) -> Tensor | None:
        """Checks ``x`` (``(batch, channels, time)``, real floating) and ``lengths``.

        Returns:
            ``lengths`` as int64, or None.
        """
        refuse_legacy_tracing(type(self).__name__)
        check_signal(x)
        self.check_input(x)
        return None if lengths is None else check_lengths(lengths, x)

    #: Whether the op's output is always a tensor of its own (no view of the input, held by
    #: nothing else): :meth:`mask_output` then fills its padding in place.
    _owns_output: bool = False

    def mask_output(self, y: Tensor, out_lengths: Tensor) -> Tensor:
        """``y`` with every step at or beyond ``out_lengths[b]`` set to exactly zero
        (``y`` itself when every item fills the output's time axis; filled in place where
        :attr:`_owns_output` says so and :func:`fill_padding` can)."""
        if fills_time(out_lengths, y.shape[-1]):
            return y
        return fill_padding(y, out_lengths, in_place=self._owns_output)

    def __prepare_scriptable__(self) -> NoReturn:
        """``torch.jit.script`` calls this first: refuse with a pointer to ``torch.export``."""
        raise RuntimeError(legacy_tracing_message(type(self).__name__))

    #: The value the op sees outside an item (0 for linear ops, -inf for max pooling).
    _pad_value: float = 0.0

    @property
    def stream_geometry(self) -> StreamGeometry:
        """Where each output step reads its input (see :mod:`seqdown.frontends.streaming`).

        A module without one (a subclass that does not state it) has no ``stream_geometry``
        attribute, so ``hasattr`` and tools that inspect modules see it as absent.
        """
        raise AttributeError(f"{type(self).__name__} states no stream geometry")

    #: Whether the op delays its input to depend on no future step (see :attr:`delay`).
    causal: bool = False

    @property
    def delay(self) -> int:
        """Input steps a causal op delays its input by (0 unless ``causal=True``)."""
        return self.stream_geometry.delay if self.causal else 0

    @property
    def lookahead(self) -> int:
        """Input steps a streamer waits for before it can emit.

        After ``n`` steps pushed, a streamer has returned at least
        ``output_length(n - lookahead)`` steps, and for some ``n`` exactly that many.
        """
        geometry = self.stream_geometry
        return stream_lookahead(lambda n: min(self.output_length(n), geometry.ready(n)),
                                self.output_length, geometry.horizon())

    def _stream_op(self, x: Tensor) -> Tensor:
        """The offline op on ``(batch, channels, time)`` without padding, for the streamer."""
        raise NotImplementedError

    def streamer(self) -> Streamer:
        """A new :class:`~seqdown.frontends.streaming.Streamer` over this module.

        ``push(chunk)`` returns the output steps each chunk completes and ``flush()``
        the rest; for any split of ``x`` into chunks their concatenation equals
        ``self(x)[0]``, and the state is bounded by the receptive field.
        """
        return Streamer(self._stream_op, self.stream_geometry, self.output_length,
                        self.output_channels, self._pad_value)


class FrontEnd(PaddedBatchModule):
    """Base class of all seqdown front-ends.

    Shape:
        - x: ``(batch, channels, time)``, any floating dtype and device.
        - lengths: int64 ``(batch,)`` or None.
        - y: ``(batch, output_channels(channels), output_length(time))``.
        - out_lengths: int64 ``(batch,)`` on the lengths' device, or None.

    Attributes:
        factor: total downsampling ratio, an int (a ``Fraction`` for rational resampling).
        receptive_field: how many input steps one output step depends on.

    Example:
        A new front-end states its op and its length rule; the padded-batch
        contract comes from the base class:

        >>> from seqdown.lengths import conv_length
        >>> class KeepEven(FrontEnd):
        ...     factor, receptive_field = 2, 1
        ...     def output_length(self, n):  # (n: Length) -> Length
        ...         return conv_length(n, 1, stride=2)
        ...     def _shorten(self, x):
        ...         return x[..., ::2]
        >>> y, out = KeepEven()(torch.arange(10.0).view(2, 1, 5), torch.tensor([5, 2]))
        >>> y.tolist(), out.tolist()
        ([[[0.0, 2.0, 4.0]], [[5.0, 0.0, 0.0]]], [3, 1])
    """

    @property
    def factor(self) -> int | Fraction | None:
        """The total downsampling ratio: an int, a ``Fraction`` for rational
        resampling, None when the output has no time axis (:class:`PyramidPool`)."""
        raise NotImplementedError

    @property
    def receptive_field(self) -> int | None:
        """How many input steps one output step depends on (None: all of them)."""
        raise NotImplementedError

    @property
    def min_length(self) -> int:
        """The smallest input length that yields at least one output step."""
        return min_input_length(self.output_length)

    def _shorten(self, x: Tensor) -> Tensor:
        """The op on ``(batch, channels, time)`` whose items all fill the time axis."""
        raise NotImplementedError

    def _shorten_padded(self, x: Tensor, lengths: Tensor) -> Tensor:
        """The op on a padded batch; the result's steps beyond each item's length are ignored.

        The padding is replaced by :attr:`_pad_value` first, unless every item fills the
        time axis (eager mode: no copy of the input then).
        """
        if fills_time(lengths, x.shape[-1]):
            return self._shorten(x)
        return self._shorten(fill_padding(x, lengths, self._pad_value))

    def _stream_op(self, x: Tensor) -> Tensor:
        return self._shorten(x)

    def _delayed(self, x: Tensor, lengths: Tensor | None) -> Tensor:
        """The op, on the input delayed by :attr:`delay` steps of padding (a causal op)."""
        delay = self.delay
        if not delay:
            return self._shorten(x) if lengths is None else self._shorten_padded(x, lengths)
        time = x.shape[-1]
        x = F.pad(x, (delay, 0), value=self._pad_value)
        y = self._shorten(x) if lengths is None else self._shorten_padded(x, lengths + delay)
        steps = self.output_length(time)
        if is_tracing():
            # A slice that cuts a step for some time axes and none for others makes
            # torch.export guard on the remainder (whether the result is contiguous).
            return y.index_select(-1, torch.arange(steps, device=y.device))
        return y[..., :steps]

    def require_length(self, time: int) -> None:
        """Raises a ValueError naming :attr:`min_length` if ``time`` gives no output step."""
        require_steps(type(self).__name__, time, self.output_length,
                      "pad the input or pass lengths=... to get empty outputs for short items")

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """Shortens ``x``.

        Args:
            x: ``(batch, channels, time)`` floating-point tensor.
            lengths: optional int64 ``(batch,)`` of valid lengths (each ``<= time``).

        Returns:
            ``(y, out_lengths)``; ``out_lengths`` is None when ``lengths`` is None.

        Raises:
            TypeError: ``x`` is not a real floating-point tensor, or ``lengths`` not integer.
            ValueError: ``x`` is not 3-D, ``lengths`` has the wrong size or range, or
                ``x`` is shorter than :attr:`min_length` and no ``lengths`` are given.
            RuntimeError: under ``torch.jit.trace`` (use ``torch.export``).

        Export: traceable by ``torch.export``, the dynamo ONNX exporter and
        ``torch.compile(dynamic=True)``. Shape, dtype and ``min_length`` checks hold
        there too; the range of the ``lengths`` values is checked in eager mode only.
        """
        lengths = self.check_batch(x, lengths)
        time = x.shape[-1]
        if lengths is None:
            self.require_length(time)
            if x.shape[1] == 0:
                return self._empty_output(x, self.output_length(time)), None
            return self._delayed(x, None), None
        out_lengths = self.output_length(lengths)
        if self.output_length(time) < 1 or x.shape[1] == 0:
            # No channel, or every item too short for one step: nothing to compute, and
            # nothing handed to torch's kernels (some crash on such inputs in half precision).
            return self._empty_output(x, self.output_length(time)), out_lengths
        y = self._delayed(x, lengths)
        return self.mask_output(y, out_lengths), out_lengths

    def _empty_output(self, x: Tensor, steps: int) -> Tensor:
        """Zeros ``(batch, output_channels, steps)`` in ``x``'s dtype, on the autograd graph.

        The output holds no value, but a loss computed from it still backpropagates
        (a zero gradient) to ``x`` and to the parameters, as for a non-empty batch.
        """
        y = x.new_zeros(x.shape[0], self.output_channels(x.shape[1]), steps)
        anchor = x.flatten()[:0].sum()
        for parameter in self.parameters():
            anchor = anchor + parameter.flatten()[:0].sum().to(x.dtype)
        return y + anchor

    def extra_repr(self) -> str:
        return f"factor={self.factor}, receptive_field={self.receptive_field}"


class WindowedFrontEnd(FrontEnd):
    """A front-end that slides one window of ``kernel_size`` steps by ``stride``.

    Pooling and strided convolution share their geometry, stated once here from
    the attributes a subclass sets: ``kernel_size``, ``stride``, ``padding``,
    ``dilation`` and ``causal``.
    """

    kernel_size: int
    stride: int
    padding: int
    dilation: int

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

"""Upsampling with exact lengths: the decoder's half of a length-exact encoder-decoder.

``Upsample`` (nearest, linear or sinc) and the learnable ``TransposedConv``
lengthen ``(batch, channels, time)`` sequences by an integer ``factor`` and keep
the padded-batch contract of the front-ends: an item's output equals the item
upsampled alone, and every step at or beyond its output length is zero.

Both take ``target_length``, which trims or zero-pads the time axis of the
output to a given size: a U-Net's skip connection then always lines up, whatever
the rounding of the front-end that shortened it. For a front-end ``d`` of
integer factor ``f`` and an input of ``n`` steps, ``d`` gives
``m = d.output_length(n)`` steps and ``Upsample(f)`` gives ``m * f``, which is
``n`` only when ``f`` divides ``n``; ``target_length=n`` makes it exactly ``n``.
A target beyond ``2 * output_length(time) + factor`` cannot be a skip's length
and is refused with a ValueError (``pad_or_trim`` pads to any size).

``target_length`` is one size for the whole batch (the skip's time axis), so
each item's valid length after it is ``min(output_length(length),
target_length)``: an item can still reach up to ``f - 1`` steps beyond its own
skip's length when the front-end rounds up (Decimate: 19 -> 10 -> 20 against a
skip of 19). After ``torch.cat([up, skip], dim=1)`` the valid steps are the
skip's, so a layer that consumes the concatenation must mask its input with
the skip's lengths (``lengths_to_mask(skip_lengths, time)``), as it masks its
output, for the U-Net to stay batch-invariant; ``examples/unet_denoise.py``
shows the pattern.

The length rules live with all the others in :mod:`seqdown.lengths`:
``upsample_length`` (``n * factor``), ``transposed_conv_length``
(``nn.ConvTranspose1d``) and ``target_lengths`` (``min(out_lengths,
target_length)``).

Both are differentiable and run on any device and floating dtype. They are not
``torch.jit.script``-able (Python control flow over the lengths); a
``torch.jit.trace`` holds for the traced time length only.

Alignment: ``nearest`` and ``linear`` follow ``torch.nn.Upsample`` with
``align_corners=False``: input step ``k`` stands for output steps ``k * factor``
to ``(k + 1) * factor - 1``, the convention of pooling (``MaxPool``, ``AvgPool``,
``BlurPool``, ``FrameStack``). ``sinc`` follows ``scipy.signal.resample_poly``:
input step ``k`` lands on output step ``k * factor``, the convention of
``Decimate``. Pair them accordingly and neither adds a delay.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seqdown._validation import check_choice, check_positive_int, check_waveform
from seqdown.dsp.filters import DECIMATE_ATTENUATION, DECIMATE_TRANSITION
from seqdown.dsp.rates import MAX_SAMPLE_RATE
from seqdown.frontends.base import PaddedBatchModule, fill_padding
from seqdown.frontends.resampling import Resample, resample
from seqdown.frontends.streaming import StreamGeometry
from seqdown.lengths import Length, target_lengths, transposed_conv_length, upsample_length

__all__ = ["TransposedConv", "Upsample", "pad_or_trim", "upsample"]

UpsampleMode = Literal["nearest", "linear", "sinc"]
_MODES: tuple[str, ...] = ("nearest", "linear", "sinc")


def _check_sinc_factor(factor: int, mode: str) -> None:
    """Refuses a ``sinc`` factor beyond the resampler's largest ratio, :data:`MAX_SAMPLE_RATE`."""
    if mode == "sinc" and factor > MAX_SAMPLE_RATE:
        raise ValueError(f"factor must be at most {MAX_SAMPLE_RATE} with mode='sinc' (the "
                         f"resampler's largest ratio), got {factor}")


def pad_or_trim(x: Tensor, target_length: int) -> Tensor:
    """Trims the last axis of ``x`` to ``target_length`` steps, or zero-pads it on the right.

    Args:
        x: ``(..., time)`` tensor.
        target_length: the size of the time axis of the result (``>= 0``).

    Returns:
        ``(..., target_length)``: ``x[..., :target_length]`` followed by zeros.

    Example:
        >>> pad_or_trim(torch.ones(1, 3), 5).tolist(), pad_or_trim(torch.ones(1, 3), 2).tolist()
        ([[1.0, 1.0, 1.0, 0.0, 0.0]], [[1.0, 1.0]])
    """
    check_waveform(x)
    target_length = check_positive_int("target_length", target_length, minimum=0)
    if x.shape[-1] < target_length:
        return F.pad(x, (0, target_length - x.shape[-1]))
    return x[..., :target_length]


def _linear(x: Tensor, factor: int, valid: Tensor) -> Tensor:
    """Linear interpolation of ``(batch, channels, time)`` with item ``b`` ending at ``valid[b]``.

    ``torch.nn.Upsample(mode="linear", align_corners=False)`` reads output step
    ``t`` at the input position ``src = (t + 0.5) / factor - 0.5``, clamped at 0,
    and interpolates between ``lo = floor(src)`` and ``hi = min(lo + 1, n - 1)``.
    In integers, with ``num = max(2 * t + 1 - factor, 0)``: ``lo = num // (2 *
    factor)`` and the weight of ``hi`` is ``(num % (2 * factor)) / (2 * factor)``,
    exact for every factor. Clamping ``hi`` at each item's own last step, rather
    than the batch's, is what makes the result independent of the padding.
    """
    batch, channels, time = x.shape
    t = torch.arange(time * factor, device=x.device)
    num = (2 * t + 1 - factor).clamp(min=0)
    lo = (num // (2 * factor)).expand(batch, -1)
    weight = (num % (2 * factor)).to(x.dtype) / (2 * factor)
    last = (valid.to(x.device) - 1).clamp(min=0)[:, None]
    hi = torch.minimum(lo + 1, last).clamp(max=time - 1)

    def gather(index: Tensor) -> Tensor:
        return x.gather(-1, index[:, None, :].expand(-1, channels, -1))

    return torch.lerp(gather(lo), gather(hi), weight)


def upsample(x: Tensor, factor: int, mode: UpsampleMode = "nearest", *,
             attenuation: float = DECIMATE_ATTENUATION,
             transition: float = DECIMATE_TRANSITION) -> Tensor:
    """Lengthens ``x`` by an integer ``factor`` (see :class:`Upsample` for the modes).

    Args:
        x: ``(..., time)`` floating-point tensor, any device.
        factor: integer upsampling factor (1 returns a copy).
        mode: ``"nearest"``, ``"linear"`` or ``"sinc"``.
        attenuation: ``sinc`` only: image rejection and passband flatness in dB
            (between 10 and 200).
        transition: ``sinc`` only: transition band as a fraction of the input
            Nyquist frequency.

    Returns:
        ``(..., upsample_length(time, factor))`` = ``(..., time * factor)``, same
        dtype. Differentiable.

    Raises:
        TypeError: ``x`` is not a real floating-point tensor, ``factor`` not an int.
        ValueError: ``factor`` < 1 (or above 768000 with ``"sinc"``), an unknown
            ``mode`` (the message lists the valid ones), or
            ``attenuation``/``transition`` out of range.

    Example:
        >>> upsample(torch.tensor([0.0, 1.0]), 2, "linear").tolist()
        [0.0, 0.25, 0.75, 1.0]
    """
    check_waveform(x)
    factor = check_positive_int("factor", factor)
    mode = check_choice("mode", mode, _MODES)
    _check_sinc_factor(factor, mode)
    if x.shape[-1] == 0:  # no step to interpolate, as Upsample gives
        return x.clone()
    if mode == "sinc":
        return resample(x, 1, factor, attenuation=attenuation, transition=transition)
    if mode == "nearest":
        return x.repeat_interleave(factor, dim=-1)
    rows = x.reshape(-1, 1, x.shape[-1])
    y = _linear(rows, factor, torch.full((rows.shape[0],), x.shape[-1]))
    return y.reshape(*x.shape[:-1], y.shape[-1])


class _Upsampler(PaddedBatchModule):
    """``target_length`` and the lengthening ``forward``, shared by Upsample and TransposedConv."""

    factor: int

    def _lengthen(self, x: Tensor, lengths: Tensor | None) -> Tensor:
        """The op on a batch whose padding is zero (``lengths`` None: no padding)."""
        raise NotImplementedError

    def _stream_op(self, x: Tensor) -> Tensor:
        return self._lengthen(x, None)

    def _check_target_length(self, target_length: object, time: int) -> int:
        """``target_length`` as an int, at most ``2 * output_length(time) + factor``.

        A skip connection's length is within the down path's receptive field of
        ``output_length(time)``; a target far beyond it is a mistake, refused
        before it reaches the allocator (``nn.ConvTranspose1d``'s ``output_size``
        is stricter still: at most ``stride - 1`` beyond its output).
        """
        target_length = check_positive_int("target_length", target_length, minimum=0)
        limit = 2 * int(self.output_length(time)) + self.factor
        if target_length > limit:
            raise ValueError(
                f"target_length must be at most 2 * output_length(time) + factor = {limit} "
                f"for an input of {time} steps, got {target_length}; it is the length of "
                "the skip connection this output joins (pad further with pad_or_trim)")
        return target_length

    def forward(self, x: Tensor, lengths: Tensor | None = None,
                target_length: int | None = None) -> tuple[Tensor, Tensor | None]:
        """Lengthens ``x``.

        Args:
            x: ``(batch, channels, time)`` floating-point tensor.
            lengths: optional int64 ``(batch,)`` of valid lengths (each ``<= time``).
            target_length: trim or zero-pad the output's time axis to this many
                steps (e.g. the length of the skip connection it joins).

        Returns:
            ``(y, out_lengths)``: ``y`` has ``output_length(time)`` steps, or
            ``target_length`` when given; ``out_lengths`` is
            ``target_lengths(output_length(lengths), target_length)``, or None
            when ``lengths`` is None. Steps at or beyond ``out_lengths`` are zero.

        Raises:
            TypeError: ``x`` is not a real floating-point tensor, ``lengths`` or
                ``target_length`` not integer.
            ValueError: ``x`` is not 3-D, ``lengths`` has the wrong size or
                range, or ``target_length`` < 0 or above ``2 * output_length(time)
                + factor``.
        """
        lengths = self.check_batch(x, lengths)
        if target_length is not None:
            target_length = self._check_target_length(target_length, x.shape[-1])
        out_lengths = None
        if lengths is not None:
            x = fill_padding(x, lengths)
        batch, channels, time = x.shape
        if self.output_length(time) < 1:
            y = x.new_zeros(batch, self.output_channels(channels), 0)
        else:
            y = self._lengthen(x, lengths)
        if lengths is not None:
            out_lengths = self.output_length(lengths)
            y = self.mask_output(y, out_lengths)
            out_lengths = target_lengths(out_lengths, target_length)
        if target_length is not None:
            y = pad_or_trim(y, target_length)
        return y, out_lengths


class Upsample(_Upsampler):
    """Integer upsampling of ``(batch, channels, time)`` with exact lengths.

    Modes:

    * ``"nearest"``: each step repeated ``factor`` times (``nn.Upsample``).
    * ``"linear"``: linear interpolation, ``nn.Upsample(mode="linear",
      align_corners=False)``, each item's last step held (not the batch's).
    * ``"sinc"``: zero-stuffing and a Kaiser low-pass, the anti-imaging
      counterpart of :class:`~seqdown.frontends.resampling.Decimate`, with the same
      ``attenuation`` and ``transition`` and the same defaults: equals
      ``scipy.signal.resample_poly(x, factor, 1, window=design_lowpass(factor, 1,
      attenuation=attenuation, transition=transition))``. Images of the input
      band come out at least ``attenuation`` dB down.

    See the module notes for how each aligns with the front-ends.

    Args:
        factor: integer upsampling factor (at most 768000 with ``"sinc"``).
        mode: ``"nearest"``, ``"linear"`` or ``"sinc"``.
        attenuation: ``sinc`` only: image rejection and passband flatness in dB
            (between 10 and 200).
        transition: ``sinc`` only: transition band as a fraction of the input
            Nyquist frequency.

    Shape:
        - x: ``(batch, channels, time)``; lengths: ``(batch,)`` or None.
        - y: ``(batch, channels, upsample_length(time, factor))``, or
          ``(batch, channels, target_length)``.
        - out_lengths: ``target_lengths(upsample_length(lengths, factor), target_length)``.

    Differentiable, any device and floating dtype (``sinc`` filters half
    precision in float32); the sinc filter is a non-persistent buffer.

    Example:
        >>> up = Upsample(2, mode="sinc")
        >>> y, out = up(torch.randn(2, 4, 5), torch.tensor([5, 3]), target_length=9)
        >>> y.shape, out.tolist()
        (torch.Size([2, 4, 9]), [9, 6])
    """

    def __init__(self, factor: int, mode: UpsampleMode = "nearest",
                 attenuation: float = DECIMATE_ATTENUATION,
                 transition: float = DECIMATE_TRANSITION) -> None:
        super().__init__()
        self.factor = check_positive_int("factor", factor)
        self.mode = check_choice("mode", mode, _MODES)
        _check_sinc_factor(self.factor, self.mode)
        # Resample(1, factor) runs the polyphase engine with design_lowpass(factor, 1, ...)
        # and caches its filter; it also validates attenuation and transition.
        self.resampler = (Resample(1, self.factor, attenuation, transition)
                          if self.mode == "sinc" else None)

    def output_length(self, n: Length) -> Length:
        return upsample_length(n, self.factor)

    @property
    def stream_geometry(self) -> StreamGeometry:
        if self.resampler is not None:
            return self.resampler.stream_geometry
        if self.mode == "linear":
            # Output t interpolates input steps floor((2t + 1 - f) / 2f) and the one after.
            return StreamGeometry(2 * self.factor, 2, 3 * self.factor - 2, 4 * self.factor)
        return StreamGeometry(self.factor, 1, self.factor - 1, self.factor)  # floor(t / f)

    def _lengthen(self, x: Tensor, lengths: Tensor | None) -> Tensor:
        if self.resampler is not None:
            return self.resampler(x)[0]
        if self.mode == "linear":
            valid = torch.full((x.shape[0],), x.shape[-1]) if lengths is None else lengths
            return _linear(x, self.factor, valid)
        return upsample(x, self.factor, self.mode)

    def extra_repr(self) -> str:
        sinc = self.resampler
        spec = "" if sinc is None else (f", attenuation={sinc.attenuation}, "
                                        f"transition={sinc.transition}")
        return f"factor={self.factor}, mode={self.mode!r}{spec}"


class TransposedConv(_Upsampler):
    """A learnable ``ConvTranspose1d`` with stride ``factor``, exact for padded batches.

    With the default ``kernel_size=factor`` each input step writes ``factor``
    output steps of its own (no overlap, so no checkerboard pattern), and the
    output has exactly ``time * factor`` steps. A longer kernel overlaps
    neighbouring steps; ``padding`` then crops both ends
    (:func:`transposed_conv_length`). The padding of each item is zeroed first,
    so an item's output equals the item's alone.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        factor: the stride, i.e. the upsampling factor.
        kernel_size: taps per channel (default ``factor``).
        padding: steps cropped from each end, at most ``(kernel_size - 1) // 2``
            so that one input step gives at least one output step.
        bias: learn an additive bias.

    Attributes:
        conv: the ``nn.ConvTranspose1d`` that holds ``weight`` ``(in_channels,
            out_channels, kernel_size)`` and ``bias`` ``(out_channels,)`` or None,
            with torch's initialisation.

    Shape:
        - x: ``(batch, in_channels, time)``; lengths: ``(batch,)`` or None.
        - y: ``(batch, out_channels, transposed_conv_length(time, ...))``, or
          ``(batch, out_channels, target_length)``.

    Equals ``nn.ConvTranspose1d(in_channels, out_channels, kernel_size, factor,
    padding)`` when ``lengths`` and ``target_length`` are None.

    Example:
        >>> up = TransposedConv(16, 8, factor=2)
        >>> y, out = up(torch.randn(2, 16, 9), torch.tensor([9, 4]), target_length=19)
        >>> y.shape, out.tolist()
        (torch.Size([2, 8, 19]), [18, 8])
    """

    def __init__(self, in_channels: int, out_channels: int, factor: int,
                 kernel_size: int | None = None, padding: int = 0, bias: bool = True) -> None:
        super().__init__()
        self.in_channels = check_positive_int("in_channels", in_channels)
        self.out_channels = check_positive_int("out_channels", out_channels)
        self.factor = check_positive_int("factor", factor)
        self.kernel_size = (self.factor if kernel_size is None
                            else check_positive_int("kernel_size", kernel_size))
        self.padding = check_positive_int("padding", padding, minimum=0)
        if self.padding > (self.kernel_size - 1) // 2:
            raise ValueError(f"padding must be at most (kernel_size - 1) // 2 = "
                             f"{(self.kernel_size - 1) // 2} for kernel_size={self.kernel_size}, "
                             f"got {self.padding}")
        # torch's own module holds the parameters and initialises them.
        self.conv = nn.ConvTranspose1d(self.in_channels, self.out_channels, self.kernel_size,
                                       self.factor, self.padding, bias=bool(bias))

    @property
    def weight(self) -> Tensor:
        """``(in_channels, out_channels, kernel_size)``."""
        return self.conv.weight

    @property
    def bias(self) -> Tensor | None:
        """``(out_channels,)`` or None."""
        return self.conv.bias

    def output_length(self, n: Length) -> Length:
        return transposed_conv_length(n, self.kernel_size, self.factor, self.padding)

    @property
    def stream_geometry(self) -> StreamGeometry:
        # Output t sums the inputs i with 0 <= t + padding - i * factor < kernel_size.
        return StreamGeometry(self.factor, 1, self.kernel_size - 1 - self.padding,
                              self.kernel_size)

    def output_channels(self, channels: int) -> int:
        return self.out_channels

    def check_input(self, x: Tensor) -> None:
        if x.shape[1] != self.in_channels:
            raise ValueError(f"x must have in_channels={self.in_channels} channels (batch, "
                             f"channels, time), got shape {tuple(x.shape)}")

    def _lengthen(self, x: Tensor, lengths: Tensor | None) -> Tensor:
        return self.conv(x)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, factor={self.factor}, "
                f"kernel_size={self.kernel_size}, padding={self.padding}, "
                f"bias={self.bias is not None}")

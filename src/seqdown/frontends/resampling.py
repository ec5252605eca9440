"""Anti-aliased integer decimation and rational resampling.

Both run a linear-phase Kaiser low-pass designed from a spec through the
resampling engine (:mod:`seqdown.dsp.engine`), with zero delay:

* ``method="direct"``: the exact polyphase path, the same numbers as
  ``scipy.signal.resample_poly(x, up, down, window=design_lowpass(up, down, ...),
  padtype=padtype)``;
* ``method="fft"``: overlap-save FFT, whose cost does not grow with the filter
  and whose memory does not grow with ``up * down``; it equals ``resample_poly``
  with ``window=module.taps`` up to the stopband level
  (:func:`seqdown.dsp.engine.fft_error_bound`);
* ``method="auto"`` (the ``Resample`` default) picks ``"direct"`` for short
  filters at small ratios and ``"fft"`` otherwise (the default spec, and every
  ratio with large terms such as 16001 -> 16000 Hz; ``"table"`` for huge terms);
  for extreme decimation (one stage would need over
  :data:`~seqdown.dsp.cascade.CASCADE_MIN_TAPS` taps: 768 kHz -> 100 Hz, 48 kHz
  -> 8 Hz) it runs ``"cascade"``: two stages (:mod:`seqdown.dsp.cascade`) that
  meet the same spec with another filter, and are not traceable;
* ``Decimate`` defaults to ``method="direct"``: its kernel is small for any
  factor, the output is exactly ``resample_poly``'s, and on feature batches it
  is the fastest path; ``method="fft"`` suits long waveforms with long filters.

Defaults:

* ``Decimate`` / ``decimate`` suit short feature sequences: 60 dB with the
  passband flat to half the output Nyquist frequency. Taps for factor 2, 3, 4,
  5, 6 and 8: 31, 47, 61, 77, 91, 123 (:data:`seqdown.dsp.filters.DECIMATE_DEFAULT_TAPS`).
* ``Resample`` / ``resample`` suit waveforms: 120 dB of alias rejection with
  the passband flat to 0.9 of the lower Nyquist frequency (``quality="hq"``);
  ``quality="vhq"`` is 150 dB, flat to 0.95 (:data:`seqdown.dsp.filters.RESAMPLE_PRESETS`).

``padtype`` says what lies beyond each end, as in ``resample_poly``: zeros
(``"constant"``, the default), ``"edge"``, ``"line"``, ``"smooth"``, ``"mean"``,
``"maximum"`` or ``"minimum"`` (:mod:`seqdown.dsp.padding`). In a padded batch
each item's own end is its edge.

Streaming (``streamer()``): the chunked output equals the offline one on every
engine. The direct path streams window by window (``lookahead`` half the filter);
the FFT and table paths run the one-shot path's own blocks on its grid
(:class:`~seqdown.frontends.streaming.StepStreamer`; ``lookahead`` about one
block). ``padtype`` ``"constant"``, ``"edge"`` and ``"smooth"`` stream
(:data:`STREAMING_PADTYPES`); the others read the whole signal and refuse. The
cascade streams its two stages' blocks in turn, with ``padtype="constant"``.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import torch
from torch import Tensor

from seqdown._validation import check_positive_int, check_waveform, is_batched, is_tracing
from seqdown.dsp.engine import (
    Method,
    ResamplingPlan,
    compute_dtype,
    plan_buffer,
    resample_rows,
    resampling_plan,
)
from seqdown.dsp.filters import (
    DECIMATE_ATTENUATION,
    DECIMATE_TRANSITION,
    RESAMPLE_ATTENUATION,
    RESAMPLE_TRANSITION,
    Quality,
    check_spec,
    quality_spec,
)
from seqdown.dsp.padding import PadType, check_padtype, extension
from seqdown.dsp.rates import rate_ratio
from seqdown.dsp.streaming import CascadeStream, engine_array, engine_steps, run_steps
from seqdown.frontends.base import FrontEnd, fills_time, require_steps
from seqdown.frontends.direct import TRACE_MAX_TAPS, direct_resample, direct_weight
from seqdown.frontends.streaming import RowsStreamer, StepStreamer, Streamer, StreamGeometry
from seqdown.lengths import Length, causal_delay, resample_length, stepwise_lookahead

__all__ = [
    "STREAMING_PADTYPES",
    "Decimate",
    "Resample",
    "decimate",
    "resample",
]


#: The padtypes a streamer reproduces exactly: zeros, or a continuation of the first and
#: the last samples. ``"line"`` joins the first sample to the last, and ``"mean"``,
#: ``"maximum"``, ``"minimum"`` subtract a statistic of the whole signal: the first
#: outputs would wait for the end of the stream.
STREAMING_PADTYPES: tuple[str, ...] = ("constant", "edge", "smooth")


def _waveform_spec(quality: Quality | None, attenuation: float | None,
                   transition: float | None) -> tuple[float, float]:
    """``(attenuation, transition)`` from a preset name or explicit values (not both)."""
    if quality is None:
        return (RESAMPLE_ATTENUATION if attenuation is None else attenuation,
                RESAMPLE_TRANSITION if transition is None else transition)
    if attenuation is not None or transition is not None:
        raise ValueError(f"pass either quality (got {quality!r}) or attenuation/transition, "
                         "not both")
    return quality_spec(quality)


def decimate(x: Tensor, factor: int, *, attenuation: float = DECIMATE_ATTENUATION,
             transition: float = DECIMATE_TRANSITION, padtype: PadType = "constant",
             method: Method = "direct") -> Tensor:
    """Low-pass filters ``x`` and keeps every ``factor``-th step, with zero delay.

    Equals ``scipy.signal.resample_poly(x, 1, factor, axis=-1, window=taps,
    padtype=padtype)`` with ``taps = design_lowpass(1, factor,
    attenuation=attenuation, transition=transition)``: exactly on the direct path
    (the default), up to the stopband level with ``method="fft"`` (the same taps).

    Args:
        x: ``(..., time)`` floating-point tensor, any device.
        factor: integer decimation factor (1 returns a copy).
        attenuation: dB of rejection for everything at or above the output
            Nyquist frequency, and passband flatness (between 10 and 200).
        transition: fraction of the output Nyquist frequency given to the
            transition band; the gain is flat below ``1 - transition`` of it.
        padtype: what lies beyond the ends (see the module notes).
        method: ``"direct"`` (the default), ``"fft"``, ``"table"``, ``"cascade"`` or
            ``"auto"``.

    Returns:
        ``(..., resample_length(time, 1, factor))`` = ``(..., ceil(time / factor))``,
        same dtype (half precision is filtered in float32). Differentiable.

    Raises:
        TypeError: ``x`` is not a real floating-point tensor, ``factor`` not an int.
        ValueError: ``factor`` < 1, ``attenuation``/``transition`` out of range, or
            ``x`` has no time step (as :class:`Decimate` without lengths).

    Example:
        >>> t = torch.arange(16000) / 16000
        >>> y = decimate(torch.sin(2 * math.pi * 7000 * t), 4)  # 7 kHz > 2 kHz Nyquist
        >>> y.shape, bool(y[100:-100].abs().max() < 1e-3)
        (torch.Size([4000]), True)
    """
    check_waveform(x)
    factor = check_positive_int("factor", factor)
    plan = resampling_plan(1, factor, attenuation, transition, method)
    require_steps("decimate", x.shape[-1], lambda n: resample_length(n, 1, factor))
    return resample_rows(x, plan, check_padtype(padtype))


def resample(x: Tensor, orig_freq: float, new_freq: float, *,
             attenuation: float | None = None, transition: float | None = None,
             quality: Quality | None = None, padtype: PadType = "constant",
             method: Method = "auto") -> Tensor:
    """Resamples ``x`` from ``orig_freq`` to ``new_freq`` with an anti-aliasing low-pass.

    ``up / down = new_freq / orig_freq``, reduced. The stopband starts at the
    lower of the two Nyquist frequencies, so this both downsamples (44100 ->
    16000) and upsamples (8000 -> 16000). With the default spec (120 dB, flat
    to 0.9) every ratio runs the FFT path: the output equals
    ``scipy.signal.resample_poly(x, up, down, axis=-1, window=taps, padtype=padtype)``
    with ``taps = Resample(orig_freq, new_freq).taps`` up to
    :func:`seqdown.dsp.engine.fft_error_bound` times the input's RMS (it is not
    ``resample_poly`` with ``design_lowpass`` taps, except for ``up == 1``, where the
    taps are the same). ``method="direct"`` gives exactly ``resample_poly`` with
    ``design_lowpass(up, down, ...)`` taps for ratios with small terms. Extreme
    decimation (768000 -> 1 Hz included) runs in two stages that meet the same
    spec (:mod:`seqdown.dsp.cascade`); it is no single ``resample_poly``.

    Args:
        x: ``(..., time)`` floating-point tensor, any device.
        orig_freq: input sample rate in Hz: a positive integer (or an integral
            float such as ``44100.0``) up to 768 kHz.
        new_freq: output sample rate in Hz, likewise.
        attenuation: dB of alias (or image) rejection and passband flatness
            (default 120; between 10 and 200).
        transition: fraction of the lower Nyquist frequency given to the
            transition band (default 0.1).
        quality: a named spec instead of ``attenuation``/``transition``:
            ``"hq"`` (the default spec) or ``"vhq"`` (150 dB, flat to 0.95).
        padtype: what lies beyond the ends (see the module notes).
        method: ``"auto"`` (the default), ``"direct"``, ``"fft"``, ``"table"`` or
            ``"cascade"``.

    Returns:
        ``(..., resample_length(time, up, down))`` = ``(..., ceil(time * up / down))``,
        same dtype. Differentiable.

    Raises:
        TypeError: ``x`` is not a real floating-point tensor, or a rate not a number.
        ValueError: a rate that is not a whole number of Hz in [1, 768000], a spec
            out of range, ``quality`` together with ``attenuation``/``transition``,
            an unknown ``quality``, ``padtype`` or ``method``, or ``x`` has no time
            step (as :class:`Resample` without lengths).

    Example:
        >>> resample(torch.randn(2, 44100), 44100, 16000).shape
        torch.Size([2, 16000])
        >>> resample(torch.randn(16001), 16001, 16000).shape  # any ratio, bounded memory
        torch.Size([16000])
    """
    check_waveform(x)
    up, down = rate_ratio(orig_freq, new_freq)
    plan = resampling_plan(up, down, *_waveform_spec(quality, attenuation, transition), method)
    require_steps("resample", x.shape[-1], lambda n: resample_length(n, up, down))
    return resample_rows(x, plan, check_padtype(padtype))


class _Resampler(FrontEnd):
    """Shared body of Decimate and Resample: one cached plan and its array as a buffer."""

    _owns_output = True  # every engine returns a new tensor

    weight: Tensor
    traced_weight: Tensor

    def __init__(self, up: int, down: int, attenuation: float, transition: float,
                 padtype: PadType, method: Method, causal: bool = False) -> None:
        super().__init__()
        self.attenuation, self.transition = check_spec(attenuation, transition)
        self.padtype = check_padtype(padtype)
        self.causal = bool(causal)
        if self.causal and self.padtype != "constant":
            raise ValueError(f"causal=True needs padtype='constant' (the delay prepends zeros), "
                             f"got padtype={self.padtype!r}")
        self.plan: ResamplingPlan = resampling_plan(up, down, self.attenuation,
                                                    self.transition, method)
        self.register_buffer("weight", plan_buffer(self.plan), persistent=False)
        # Streaming and tracing see only the filter and the ratio, not the engine.
        self.ratio = (up, down)
        size = self._taps_size()
        # The direct form is ``size`` taps at ``up`` times the input rate: built only where
        # it is bounded and one filter (an empty buffer marks a ratio that cannot be traced).
        traceable = self.plan.stages is None and size <= TRACE_MAX_TAPS
        traced = direct_weight(self.taps, up) if traceable else torch.zeros(1, 1, 0)
        self.register_buffer("traced_weight", traced, persistent=False)
        half = (size - 1) // 2
        # The exact path is shift equivariant: each output is its window's. The FFT blocks
        # and table periods sit on a fixed grid: streaming runs the same steps on it. A
        # cascade has a grid per stage: its streamer runs the engine's cascade stream.
        fixed = self.plan.method == "direct" or up == down or self.plan.stages is not None
        steps = None if fixed else engine_steps(self.plan)
        self._geometry = StreamGeometry(up, down, half, size,
                                        causal_delay(half, size) if self.causal else 0, steps)
        self._cascade_lookahead: int | None = None  # the plan and delay are fixed

    def _taps_size(self) -> int:
        """``self.taps.size``, without sampling the filter at ``up`` times the input rate
        (for a cascade, the size its composite filter would have)."""
        if self.plan.method == "direct":
            return int(self.plan.taps().size)
        return (self.plan.span - 1) * self.plan.up + 1

    @property
    def stream_geometry(self) -> StreamGeometry:
        """Where each output step reads its input; on the ``"fft"`` and ``"table"`` paths,
        with the engine's steps (their blocks make the lookahead about one block).

        Raises:
            ValueError: ``padtype`` is not one of :data:`STREAMING_PADTYPES`; the
                ``"cascade"`` path (two grids, no single geometry: :meth:`streamer`
                and :attr:`lookahead` still work).
        """
        self._check_streamable()
        if self.plan.stages is not None:
            raise ValueError("the two-stage path has no single stream geometry (each stage "
                             "has its own grid); streamer() and lookahead work, a Chain "
                             "around it streams but cannot state its lookahead")
        return self._geometry

    def _check_streamable(self) -> None:
        if self.padtype not in STREAMING_PADTYPES:
            raise ValueError(f"padtype={self.padtype!r} cannot stream: the first outputs read "
                             "the whole signal (its end or a statistic of it); stream with "
                             f"padtype in {STREAMING_PADTYPES}")
        if self.plan.stages is not None and self.padtype != "constant":
            raise ValueError(f"padtype={self.padtype!r} cannot stream on the two-stage path "
                             "(its second stage reads the continuation far past the ends); "
                             "stream with padtype='constant'")

    @property
    def delay(self) -> int:
        """Input steps a causal ``Decimate`` delays its input by (0 unless ``causal=True``)."""
        return self._geometry.delay

    @property
    def lookahead(self) -> int:
        """As :attr:`FrontEnd.lookahead`; on the ``"cascade"`` path from its stream's own
        emission rule, checked at each of stage 1's steps."""
        if self.plan.stages is None:
            return super().lookahead
        self._check_streamable()
        if self._cascade_lookahead is None:  # seconds for 768 kHz -> 1 Hz: computed once
            stream = CascadeStream(self.plan)
            self._cascade_lookahead = stepwise_lookahead(
                lambda n: min(self.output_length(n), stream.ready(n + self.delay)),
                self.output_length, [max(0, n - self.delay) for n in stream.events()])
        return self._cascade_lookahead

    def streamer(self) -> Streamer | RowsStreamer:  # type: ignore[override]
        """A new streamer whose chunked output equals the offline output.

        On the ``"direct"`` path a :class:`~seqdown.frontends.streaming.Streamer`
        (``lookahead`` is half the filter); on the ``"fft"`` and ``"table"`` paths a
        :class:`~seqdown.frontends.streaming.StepStreamer` that runs the one-shot
        path's own blocks on its grid (``lookahead`` is about one block); on the
        ``"cascade"`` path a :class:`~seqdown.frontends.streaming.RowsStreamer` over
        the engine's :class:`~seqdown.dsp.streaming.CascadeStream` (``padtype``
        ``"constant"`` only; ``lookahead`` is about stage 2's block, in input samples).

        Raises:
            ValueError: ``padtype`` is not one of :data:`STREAMING_PADTYPES` (it reads the
                whole signal before the first outputs), or not ``"constant"`` on the
                ``"cascade"`` path.
        """
        self._check_streamable()
        if self.plan.stages is not None:
            return RowsStreamer(CascadeStream(self.plan), self.output_length, self.delay)
        geometry = self.stream_geometry
        if geometry.steps is None:
            return super().streamer()
        plan, arrays, padtype = self.plan, {}, self.padtype
        # The FFT path's continuation past the end stops changing `half` samples out
        # (see seqdown.dsp.padding.extension); the table reads no further than that.
        hold = None if plan.fft is None else plan.fft.half

        def extend(signal: Tensor, before: int, after: int) -> tuple[Tensor, Tensor]:
            batch, channels, time = signal.shape
            rows = signal.reshape(batch * channels, time)
            left, right = extension(rows, padtype, before, after, hold=hold)
            return (left.reshape(batch, channels, before), right.reshape(batch, channels, after))

        def run(buffer: Tensor, first: int, count: int) -> Tensor:
            batch, channels, time = buffer.shape
            rows = buffer.reshape(batch * channels, time).to(compute_dtype(buffer))
            if rows.dtype not in arrays:  # dtype and device are fixed for one stream
                arrays[rows.dtype] = engine_array(plan, rows)
            y = run_steps(plan, arrays[rows.dtype], rows, first, count)
            return y.reshape(batch, channels, y.shape[-1]).to(buffer.dtype)

        return StepStreamer(run, geometry, self.output_length, self.output_channels,
                            extend=None if padtype == "constant" else extend)

    def _check_traceable(self) -> None:
        if self.padtype != "constant":
            raise ValueError(f"padtype={self.padtype!r} is not traceable (each item's edges "
                             "depend on its length); export a Module with padtype='constant'")
        if self.plan.stages is not None:
            up, down = self.ratio
            raise ValueError(
                f"resampling by {up}/{down} runs in two stages (method='cascade'), which is "
                "not traceable; export a smaller ratio (resample the audio before the model)")
        if self.traced_weight.numel() == 0:
            up, down = self.ratio
            raise ValueError(
                f"resampling by {up}/{down} is not traceable: its direct form needs "
                f"{self._taps_size()} taps at {up} times the input rate, beyond "
                f"TRACE_MAX_TAPS={TRACE_MAX_TAPS}; export a ratio with a smaller up (e.g. "
                "resample the audio to a rate with a small ratio before the model)")

    @property
    def taps(self) -> np.ndarray:
        """The low-pass at ``up`` times the input rate, as ``resample_poly``'s ``window``.

        On the direct path these are the exact :func:`design_lowpass` taps it
        runs; on the FFT path, the taps it matches up to the stopband level.

        Raises:
            ValueError: on the ``"cascade"`` path (two filters: ``module.plan.stages``).
        """
        return self.plan.taps()

    @property
    def method(self) -> str:
        """The engine that runs: ``"direct"``, ``"fft"``, ``"table"`` or ``"cascade"``."""
        return self.plan.method

    @property
    def receptive_field(self) -> int:
        return self.plan.span

    def output_length(self, n: Length) -> Length:
        return resample_length(n, self.plan.up, self.plan.down)

    def _shorten(self, x: Tensor) -> Tensor:
        if is_tracing():  # torch.export, ONNX, torch.compile: see seqdown.frontends.direct
            self._check_traceable()
            return direct_resample(x, self.traced_weight, *self.ratio)
        return resample_rows(x, self.plan, self.padtype, self.weight)

    def _shorten_padded(self, x: Tensor, lengths: Tensor) -> Tensor:
        if self.padtype == "constant":  # zeros: the padding, zeroed, is the edge
            eager = not (is_tracing() or is_batched(x) or is_batched(lengths))
            if not eager or self.plan.kernel is None or fills_time(lengths, x.shape[-1]):
                return super()._shorten_padded(x, lengths)
            # The direct path filters the batch as it is and redoes the few outputs that
            # read an item's padding: no zeroed copy of the input.
            return resample_rows(x, self.plan, "constant", self.weight, lengths)
        if is_tracing():
            self._check_traceable()
        # Each item's own end is its edge: the items of each length run together, cut to it
        # (the other padtypes read the last samples, and "mean" etc. all of them).
        y = x.new_zeros(*x.shape[:-1], self.output_length(x.shape[-1]))
        for n in torch.unique(lengths).tolist():
            items = (lengths == n).nonzero()[:, 0].to(x.device)
            out = resample_rows(x[items, :, :n], self.plan, self.padtype, self.weight)
            y[items, :, : out.shape[-1]] = out.to(y.dtype)
        return y

    def extra_repr(self) -> str:
        return (f"{super().extra_repr()}, method={self.method!r}"
                + ("" if self.padtype == "constant" else f", padtype={self.padtype!r}"))


class Decimate(_Resampler):
    """Anti-aliased integer decimation of ``(batch, channels, time)`` sequences.

    A linear-phase Kaiser low-pass designed from ``attenuation`` and
    ``transition`` (:func:`design_lowpass` ``(1, factor)``), then every
    ``factor``-th step, time-aligned. Tones at or above the output Nyquist
    frequency come out at least ``attenuation`` dB down; below
    ``1 - transition`` of it the gain deviates from 1 by at most
    ``10 ** (-attenuation / 20)``. The defaults (60 dB, half the output band
    flat) keep the filter short for feature sequences; see
    :data:`seqdown.dsp.filters.DECIMATE_DEFAULT_TAPS` for the tap counts.

    Args:
        factor: integer decimation factor.
        attenuation: stopband attenuation and passband flatness in dB (between 10
            and 200).
        transition: transition band as a fraction of the output Nyquist frequency.
        padtype: what lies beyond each item's ends (see the module notes).
        method: ``"direct"`` (the default), ``"fft"``, ``"table"``, ``"cascade"`` or
            ``"auto"``.
        causal: delay the input by ``delay = (taps - 1) // 2`` zeros (15 for the default
            factor 2), so that output step ``t`` depends on no input after ``t * factor``
            (``lookahead`` 0 on the direct path; the other engines compute in blocks, and
            a streamer waits for a whole block); the length law stays
            ``ceil(time / factor)``, so the last ``delay`` input steps reach the output
            only partly.

    Shape:
        - x: ``(batch, channels, time)``; lengths: ``(batch,)`` or None.
        - y: ``(batch, channels, ceil(time / factor))`` (:func:`resample_length`).

    The filter is a non-persistent buffer (moves with ``.to()``, not saved);
    autograd works; half precision is filtered in float32.

    Example:
        >>> y, out = Decimate(2)(torch.randn(2, 80, 7), torch.tensor([7, 3]))
        >>> y.shape, out.tolist()
        (torch.Size([2, 80, 4]), [4, 2])
    """

    def __init__(self, factor: int, attenuation: float = DECIMATE_ATTENUATION,
                 transition: float = DECIMATE_TRANSITION, padtype: PadType = "constant",
                 method: Method = "direct", causal: bool = False) -> None:
        factor = check_positive_int("factor", factor)
        super().__init__(1, factor, attenuation, transition, padtype, method, causal)

    @property
    def factor(self) -> int:
        return self.plan.down


class Resample(_Resampler):
    """Rational resampling of ``(batch, channels, time)`` with an anti-aliasing low-pass.

    ``factor`` is the downsampling ratio ``Fraction(orig_freq, new_freq)``
    (reduced): 441/160 for 44100 -> 16000, 1/2 for 8000 -> 16000. The stopband
    starts at the lower of the input and output Nyquist frequencies; the
    defaults give at least 120 dB of rejection there with the passband flat
    (within 10 ** (-120 / 20)) to 0.9 of it. Any pair of rates up to 768 kHz
    runs in bounded memory (16001 -> 16000 included); see :func:`resample` for
    how the output relates to ``resample_poly``.

    Args:
        orig_freq: input sample rate in Hz (an integer or integral float, <= 768000).
        new_freq: output sample rate in Hz, likewise.
        attenuation: stopband attenuation and passband flatness in dB (default 120;
            between 10 and 200).
        transition: transition band as a fraction of the lower Nyquist frequency
            (default 0.1).
        quality: ``"hq"`` or ``"vhq"`` instead of ``attenuation``/``transition``.
        padtype: what lies beyond each item's ends (see the module notes).
        method: ``"auto"`` (the default), ``"direct"``, ``"fft"``, ``"table"`` or
            ``"cascade"``.

    Shape:
        - x: ``(batch, channels, time)``; lengths: ``(batch,)`` or None.
        - y: ``(batch, channels, ceil(time * new / orig))`` (:func:`resample_length`).

    Example:
        >>> Resample(44100, 16000)(torch.randn(1, 2, 44100))[0].shape
        torch.Size([1, 2, 16000])
    """

    def __init__(self, orig_freq: float, new_freq: float, attenuation: float | None = None,
                 transition: float | None = None, *, quality: Quality | None = None,
                 padtype: PadType = "constant", method: Method = "auto") -> None:
        up, down = rate_ratio(orig_freq, new_freq)
        super().__init__(up, down, *_waveform_spec(quality, attenuation, transition), padtype,
                         method)
        self.orig_freq, self.new_freq = int(orig_freq), int(new_freq)

    @property
    def factor(self) -> Fraction:
        return Fraction(self.plan.down, self.plan.up)

    def extra_repr(self) -> str:
        return f"orig_freq={self.orig_freq}, new_freq={self.new_freq}, " + super().extra_repr()

"""Low-pass filters designed from a spec, and checked against it before use.

``design_lowpass`` returns the linear-phase FIR that ``Decimate``, ``Resample``
and ``resample`` run. It is a Kaiser-windowed sinc designed for the rate at
which the filter runs (``up`` times the input rate):

* the stopband starts at the lower of the input and output Nyquist frequencies,
  ``0.5 / max(up, down)`` cycles per sample at that rate;
* the passband is flat up to ``(1 - transition)`` of that frequency;
* the cutoff sits in the middle of the transition band.

Kaiser's formulas for the length and the shape parameter are empirical and miss
the spec by up to about 4 dB for wide transition bands (Kaiser, 1974; the
estimate's error is discussed in Oppenheim & Schafer, *Discrete-Time Signal
Processing*, 3rd ed., sec. 7.6). So the design is measured on a dense frequency
grid, and redesigned for a slightly higher attenuation until both the stopband
attenuation and the passband deviation meet the spec. The result is what the
user asked for, not what a formula promised.

The taps sum to 1 (unit gain at DC). ``scipy.signal.resample_poly(x, up, down,
window=taps)`` multiplies them by ``up`` itself, so it reproduces seqdown's
output with these exact taps.

``design_sinc`` designs the same kind of filter as a continuous function of
time in input samples (:class:`SincDesign`), for the engines that never build
the filter at ``up`` times the input rate (:mod:`seqdown.dsp.overlap_save`): its
spec is measured on the taps at the input rate, which is the response those
engines apply. For ``up == 1`` both designs are the same filter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
from scipy import signal

from seqdown._validation import check_finite_number, check_positive_int

__all__ = [
    "DECIMATE_ATTENUATION",
    "DECIMATE_DEFAULT_TAPS",
    "DECIMATE_TRANSITION",
    "MAX_ATTENUATION",
    "MAX_DESIGN_TAPS",
    "RESAMPLE_ATTENUATION",
    "RESAMPLE_PRESETS",
    "RESAMPLE_TRANSITION",
    "Quality",
    "SincDesign",
    "binomial_taps",
    "check_spec",
    "design_lowpass",
    "design_sinc",
    "kaiser_spec",
    "quality_spec",
]

#: Defaults of ``Decimate``/``decimate`` (and of ``Upsample``'s sinc mode): short filters
#: for feature sequences, 60 dB with half the output band flat.
DECIMATE_ATTENUATION = 60.0
DECIMATE_TRANSITION = 0.5
#: Tap counts of ``Decimate(factor)`` with its defaults (checked by the tests).
DECIMATE_DEFAULT_TAPS = {2: 31, 3: 47, 4: 61, 5: 77, 6: 91, 8: 123}
#: Defaults of ``Resample``/``resample`` and ``StreamingResampler``: waveform quality,
#: 120 dB of alias rejection with the passband flat to 0.9 of the lower Nyquist frequency.
RESAMPLE_ATTENUATION = 120.0
RESAMPLE_TRANSITION = 0.1

Quality = Literal["hq", "vhq"]
#: Named specs ``(attenuation dB, transition)`` of ``Resample(..., quality=...)``:
#:
#: * ``"hq"``: the default, 120 dB, flat (within 10 ** (-120 / 20)) to 0.9 of the lower
#:   Nyquist frequency: at least soxr's "HQ" (20-bit) rejection;
#: * ``"vhq"``: 150 dB, flat to 0.95 of it: beyond what float32 arithmetic resolves
#:   (about 140 dB), for float64 work.
RESAMPLE_PRESETS: dict[str, tuple[float, float]] = {
    "hq": (RESAMPLE_ATTENUATION, RESAMPLE_TRANSITION),
    "vhq": (150.0, 0.05),
}

#: The highest attenuation (dB) a design accepts: float64 resolves a filter's stopband and
#: passband to about 10 ** (-200 / 20) at a million taps (its rounding is near 1e-16 per
#: tap), and no audio format needs more (32-bit integer PCM spans 193 dB).
MAX_ATTENUATION = 200.0
#: The most taps one design computes (8 MiB in float64, measured on a 2 ** 21-point grid):
#: a narrower transition band or a larger ratio raises instead of allocating without bound.
MAX_DESIGN_TAPS = 1 << 20

#: Extra attenuation (dB) the measured design must show, so that a peak that falls
#: between two points of the measurement grid is still within the spec.
_GRID_SAFETY_DB = 0.1
#: Oversampling of the measurement grid relative to the filter length, and the largest
#: grid (2 ** 21 points: at least 16 points per sidelobe up to 131072 taps, 32 MiB).
_GRID_OVERSAMPLING = 32
_GRID_MAX_LOG2 = 21
_MAX_MARGIN_DB = 20.0


def kaiser_spec(attenuation: float, transition_width: float) -> tuple[int, float]:
    """Kaiser's estimate of the odd length and shape parameter for a low-pass spec.

    Args:
        attenuation: stopband attenuation and passband flatness in dB.
        transition_width: width of the transition band in cycles per sample.

    Returns:
        ``(numtaps, beta)``, with ``numtaps`` odd so that the filter has an
        integer delay and can be centred exactly.
    """
    numtaps = math.ceil((attenuation - 7.95) / (14.36 * transition_width)) + 1
    numtaps += 1 - numtaps % 2
    return max(numtaps, 3), float(signal.kaiser_beta(attenuation))


def check_spec(attenuation: object, transition: object) -> tuple[float, float]:
    """Returns ``(attenuation, transition)`` as floats after checking their ranges.

    Raises:
        TypeError: either is not a real number (strings and bools included).
        ValueError: ``attenuation`` outside (10, :data:`MAX_ATTENUATION`) dB, or
            ``transition`` outside (0, 1).
    """
    return (check_finite_number("attenuation", attenuation, 10.0, MAX_ATTENUATION),
            check_finite_number("transition", transition, 0.0, 1.0))


def _check_design_size(numtaps: int, attenuation: float, transition: float) -> None:
    if numtaps > MAX_DESIGN_TAPS:
        raise ValueError(
            f"attenuation={attenuation} dB with transition={transition} needs a filter of "
            f"about {numtaps} taps, beyond MAX_DESIGN_TAPS={MAX_DESIGN_TAPS}; widen the "
            "transition, lower the attenuation, or resample in two steps")


def _meets_spec(taps: np.ndarray, edge: float, stop: float, attenuation: float) -> bool:
    """Checks ``taps`` on a dense grid: flat to ``edge``, ``attenuation`` dB down from ``stop``."""
    nfft = 1 << min(_GRID_MAX_LOG2, max(12, math.ceil(math.log2(_GRID_OVERSAMPLING * taps.size))))
    gain = np.abs(np.fft.rfft(taps, nfft))
    freqs = np.arange(gain.size) / nfft
    # The worst errors sit at the band edges, which the grid may straddle: add them exactly.
    edges = np.abs(np.exp(-2j * np.pi * np.outer([edge, stop], np.arange(taps.size))) @ taps)
    limit = 10.0 ** (-(attenuation + _GRID_SAFETY_DB) / 20.0)
    stopband = max(gain[freqs >= stop].max(), edges[1])
    passband = max(np.abs(gain[freqs <= edge] - 1.0).max(), abs(edges[0] - 1.0))
    return bool(stopband <= limit and passband <= limit)


@lru_cache(maxsize=64)
def _design(up: int, down: int, attenuation: float, transition: float) -> np.ndarray:
    stop = 0.5 / max(up, down)
    width = transition * stop
    margin = 0.0
    while margin <= _MAX_MARGIN_DB:
        numtaps, beta = kaiser_spec(attenuation + margin, width)
        _check_design_size(numtaps, attenuation, transition)
        taps = signal.firwin(numtaps, stop - width / 2, window=("kaiser", beta), fs=1.0,
                             scale=False)
        taps /= taps.sum()
        if _meets_spec(taps, stop - width, stop, attenuation):
            taps.setflags(write=False)
            return taps
        margin += 0.5
    raise RuntimeError(  # pragma: no cover - Kaiser designs converge well within the margin
        f"no Kaiser design met attenuation={attenuation} dB, transition={transition}"
    )


def design_lowpass(up: int = 1, down: int = 1, *, attenuation: float = RESAMPLE_ATTENUATION,
                   transition: float = RESAMPLE_TRANSITION) -> np.ndarray:
    """Designs the anti-aliasing FIR for resampling by ``up / down``.

    Args:
        up: upsampling factor (1 for decimation).
        down: downsampling factor. ``up`` and ``down`` are reduced by their gcd.
        attenuation: stopband attenuation in dB, also the passband flatness:
            the gain deviates from 1 by at most ``10 ** (-attenuation / 20)``.
        transition: width of the transition band as a fraction of the lower
            Nyquist frequency; the passband is flat up to ``1 - transition`` of it.

    Returns:
        A new float64 array of odd length, symmetric, summing to 1 (``[1.0]``
        when ``up == down``).

    Raises:
        TypeError: ``up`` or ``down`` is not an integer.
        ValueError: ``up`` or ``down`` < 1, ``attenuation`` outside (10, 200) dB,
            ``transition`` outside (0, 1), or a filter longer than
            :data:`MAX_DESIGN_TAPS`.

    Example:
        >>> taps = design_lowpass(1, 2, attenuation=60, transition=0.5)
        >>> taps.size, bool(np.allclose(taps, taps[::-1])), round(float(taps.sum()), 12)
        (31, True, 1.0)
    """
    up = check_positive_int("up", up)
    down = check_positive_int("down", down)
    attenuation, transition = check_spec(attenuation, transition)
    common = math.gcd(up, down)
    up, down = up // common, down // common
    if up == down == 1:
        return np.ones(1)
    return _design(up, down, attenuation, transition).copy()


def quality_spec(quality: str) -> tuple[float, float]:
    """``(attenuation, transition)`` of a named preset of :data:`RESAMPLE_PRESETS`.

    Raises:
        ValueError: ``quality`` is not a preset name (the message lists them).
    """
    if quality not in RESAMPLE_PRESETS:
        valid = ", ".join(repr(name) for name in RESAMPLE_PRESETS)
        raise ValueError(f"quality must be one of {valid}, got {quality!r}")
    return RESAMPLE_PRESETS[quality]


@dataclass(frozen=True)
class SincDesign:
    """A Kaiser-windowed sinc low-pass as a function of time in input samples.

    ``h(t) = 2 cutoff sinc(2 cutoff t) I0(beta sqrt(1 - (t / half_width) ** 2)) / I0(beta)``
    for ``|t| <= half_width``, 0 outside.

    Attributes:
        cutoff: cutoff frequency in cycles per input sample.
        half_width: half the window's length, in input samples (an integer).
        beta: Kaiser shape parameter.
    """

    cutoff: float
    half_width: int
    beta: float

    def taps(self, rate: int = 1) -> np.ndarray:
        """The filter sampled ``rate`` times per input sample, centred, summing to 1.

        ``taps(1)`` is the filter the input-rate engines apply; ``taps(up)`` is the
        equivalent filter for ``scipy.signal.resample_poly(x, up, down, window=...)``.
        """
        t = np.arange(-self.half_width * rate, self.half_width * rate + 1) / rate
        window = np.i0(self.beta * np.sqrt(np.clip(1.0 - (t / self.half_width) ** 2, 0.0, None)))
        taps = 2 * self.cutoff * np.sinc(2 * self.cutoff * t) * window
        return taps / taps.sum()


@lru_cache(maxsize=64)
def _design_sinc(up: int, down: int, attenuation: float, transition: float) -> SincDesign:
    stop = 0.5 * min(1.0, up / down)  # the lower Nyquist frequency, cycles per input sample
    width = transition * stop
    margin = 0.0
    while margin <= _MAX_MARGIN_DB:
        numtaps, beta = kaiser_spec(attenuation + margin, width)
        _check_design_size(numtaps, attenuation, transition)
        design = SincDesign(stop - width / 2, (numtaps - 1) // 2, beta)
        if _meets_spec(design.taps(), stop - width, stop, attenuation):
            return design
        margin += 0.5
    raise RuntimeError(  # pragma: no cover - Kaiser designs converge well within the margin
        f"no Kaiser design met attenuation={attenuation} dB, transition={transition}"
    )


def design_sinc(up: int = 1, down: int = 1, *, attenuation: float = RESAMPLE_ATTENUATION,
                transition: float = RESAMPLE_TRANSITION) -> SincDesign:
    """Designs the anti-aliasing low-pass for ``up / down`` at the input rate.

    The same spec as :func:`design_lowpass` (stopband from the lower Nyquist
    frequency, flat to ``1 - transition`` of it), checked on the taps at the
    input rate (``design.taps()``). The cost of the design does not grow with
    ``up * down``. For ``up == 1``, ``design.taps()`` equals
    ``design_lowpass(1, down, ...)``.

    Args:
        up: upsampling factor. ``up`` and ``down`` are reduced by their gcd.
        down: downsampling factor.
        attenuation: stopband attenuation and passband flatness in dB.
        transition: transition band as a fraction of the lower Nyquist frequency.

    Raises:
        TypeError, ValueError: as :func:`design_lowpass`.

    Example:
        >>> design = design_sinc(16000, 16001)  # 16001 Hz -> 16000 Hz
        >>> design.half_width, design.taps().size
        (79, 159)
    """
    up = check_positive_int("up", up)
    down = check_positive_int("down", down)
    attenuation, transition = check_spec(attenuation, transition)
    common = math.gcd(up, down)
    return _design_sinc(up // common, down // common, attenuation, transition)


def binomial_taps(order: int) -> np.ndarray:
    """The normalised binomial low-pass of ``order + 1`` taps, e.g. ``[1, 2, 1] / 4``.

    Its response is ``cos(pi * f) ** order`` (``f`` in cycles per sample): zero at
    Nyquist, and the repeated box filter that blur pooling uses (Zhang, 2019).

    Raises:
        ValueError: ``order`` < 0.
    """
    order = check_positive_int("order", order, minimum=0)
    # Exact integers divided by 2**order: no overflow however large the coefficients
    # (the outermost taps of a long blur underflow to 0, as they should).
    return np.array([math.comb(order, k) / 2**order for k in range(order + 1)])

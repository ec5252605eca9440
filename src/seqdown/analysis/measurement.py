"""What a front-end does to a signal, measured with test tones.

:func:`measure` runs a front-end on tones and on periodic noise and returns the
figures a researcher compares front-ends by. Max pooling and blur pooling are
not linear, so nothing here reads a frequency response off filter taps: every
figure comes from what the front-end outputs. Learnable front-ends are measured
with the weights they have (seed and build them first).

The tone sweep (:func:`tone_sweep`). Tones ``cos(2 pi f0 n / sample_rate +
phi)`` at ``f0 = r * output_nyquist`` for ``r = 0, 1/80, 2/80, ...`` up to the
input Nyquist frequency (``r < factor``) run through the front-end in float64
on every input channel; the output for silence (e.g. a bias) is subtracted;
``ceil(receptive_field / factor) + 1`` output steps are dropped at each end, so
that only steady-state steps that never see the zero padding remain (1024 of
them). Each tone is run at two phases in quadrature (``phi`` and ``phi +
pi/2``) and the powers of the two runs are averaged: for a linear front-end the
averaged power is exactly ``|H(f0)|**2 / 2`` on any window, even for tones that
land on the output's DC or Nyquist frequency, where one phase alone would not
show the whole amplitude. Powers are averaged over output channels and steps,
and compared with the input tone's power (``1/2``), so that a front-end that
keeps the tone's level reads 0 dB whatever it does with the channels.

Each output is split into three parts (:func:`_decompose`):

* **gain** (tones below the output Nyquist frequency): the power of the output
  at the tone's own frequency, in dB re the input tone, from a least-squares fit
  of a constant, a cosine and a sine at that frequency.
* **alias**: the power of everything but the tone and DC, in dB re the input
  tone: the content at frequencies the input did not have. A tone at or above
  the output Nyquist frequency has no place in the output, so all its non-DC
  output is alias (for a linear front-end, the folded tone at ``|H(f0)|``).
  Below it, the residual of the fit is what a non-linear front-end adds
  (harmonics); a linear one adds nothing.
* **DC**: the power of the output's mean, in dB re the input tone. It is
  counted apart because the max of ``MaxPool`` and ``BlurPool`` rectifies fast
  oscillations into an offset of about the tone's own level, which no low-pass
  after the max removes and which would otherwise hide everything else; a
  linear front-end only puts a tone there when it folds exactly onto 0 Hz.

The delay is the group delay at the two lowest tones (``f0 = output_nyquist /
80`` and twice that), in input samples, averaged over output channels weighted
by their power: output step ``t`` holds the input around ``t * factor -
delay``. Decimate's centred filter gives 0; ``AvgPool(k)`` averages ``x[t k]
... x[t k + k - 1]`` and gives ``-(k - 1) / 2`` (negative: the output leads its
nominal time).

Shift consistency (:func:`shift_change`), after Zhang (2019), "Making
Convolutional Networks Shift-Invariant Again": how much the output changes
when the input moves by one sample. Moving the input by one sample moves an
alias-free output by ``1 / factor`` of an output step, a fractional delay that
is exact for band-limited periodic signals. So the input is periodic white
noise (flat magnitude spectrum, random phases, fixed seed) of period ``factor
* 1024``, the front-end's steady-state output over one period is delayed by
``1 / factor`` step in the DFT domain, and the figure is the energy of the
difference between that and the output for the shifted input, relative to the
output's energy, in dB: very negative for an anti-aliased front-end, near 0 dB
when aliases dominate.

All levels are floored at -300 dB (float64 round-off); figures over an empty
range of tones (e.g. aliases of a front-end of factor 1) are None.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field, fields
from fractions import Fraction

import numpy as np
import torch
from scipy import signal

from seqdown._validation import check_finite_number, check_positive_int
from seqdown.analysis.bands import ALIAS_EDGES, PASSBAND_EDGES
from seqdown.frontends.base import FrontEnd

__all__ = ["Measurement", "ToneSweep", "measure", "shift_change", "tone_sweep"]

#: Spacing of the test tones as a fraction of the output Nyquist frequency.
TONE_STEP = 1 / 80
#: Steady-state output steps on which each tone is measured.
WINDOW = 1024
#: Output steps in one period of the shift-consistency noise.
PERIOD = 1024
_PHASE = 1.0  # radians; any phase that is not a multiple of pi / 4 will do
_FLOOR = 1e-30  # -300 dB
_CHUNK = 1 << 22  # elements per forward pass


@dataclass(frozen=True)
class ToneSweep:
    """A front-end's response to a grid of test tones (see the module notes).

    The names of the band figures follow the edges: :func:`passband_key` of each
    of :data:`PASSBAND_EDGES`, :func:`alias_key` of each of :data:`ALIAS_EDGES`
    and ``alias_key(ALIAS_EDGES[0], "dc")`` (checked by the tests).

    Attributes:
        frequencies: tone frequencies in Hz, ``(tones,)``, from 0 up to below the
            input Nyquist frequency.
        ratios: the same frequencies as fractions of the output Nyquist frequency.
        gain_db: power at the tone's frequency in dB re the input tone; NaN for
            tones at or above the output Nyquist frequency.
        alias_db: power of the rest of the output but DC, in dB re the input tone.
        dc_db: power of the output's mean in dB re the input tone; NaN for ``f0 = 0``.
        delay_samples: group delay at the lowest tones, in input samples.
        output_nyquist: the output Nyquist frequency in Hz.
    """

    frequencies: np.ndarray
    ratios: np.ndarray
    gain_db: np.ndarray
    alias_db: np.ndarray
    dc_db: np.ndarray
    delay_samples: float
    output_nyquist: float


@dataclass(frozen=True)
class Measurement:
    """The figures of one front-end; gains in dB, negative for attenuation.

    "Nyquist" in a name is the output Nyquist frequency,
    ``sample_rate / factor / 2``. :meth:`as_dict` gives the figures (not the
    sweep) under these names, as ``seqdown analyze --json`` writes them.

    Attributes:
        sample_rate: input sample rate in Hz.
        factor: the downsampling ratio (a float for a rational one).
        output_sample_rate: ``sample_rate / factor``.
        receptive_field: input samples one output step depends on.
        min_length: the shortest input that gives one output step.
        delay_samples: group delay at low frequencies, in input samples.
        passband_deviation_db_to_80pct_nyquist: of the gains of the tones from
            DC up to 80% of the Nyquist frequency, the one furthest from 0 dB.
        passband_deviation_db_to_90pct_nyquist: the same up to 90%.
        worst_alias_db_from_100pct_nyquist: the loudest alias of the tones at or
            above the Nyquist frequency (up to the input Nyquist frequency).
        worst_alias_db_from_110pct_nyquist: the same from 110%.
        worst_alias_db_from_125pct_nyquist: the same from 125%.
        worst_dc_db_from_100pct_nyquist: the largest DC offset that a tone at or
            above the Nyquist frequency leaves (rectified by a max, or folded
            onto 0 Hz).
        shift_change_db: see :func:`shift_change`; lower is more shift-consistent.
        sweep: the tone sweep the figures come from (for plots).
    """

    sample_rate: float
    factor: int | float
    output_sample_rate: float
    receptive_field: int
    min_length: int
    delay_samples: float
    passband_deviation_db_to_80pct_nyquist: float
    passband_deviation_db_to_90pct_nyquist: float
    worst_alias_db_from_100pct_nyquist: float | None
    worst_alias_db_from_110pct_nyquist: float | None
    worst_alias_db_from_125pct_nyquist: float | None
    worst_dc_db_from_100pct_nyquist: float | None
    shift_change_db: float
    sweep: ToneSweep = field(repr=False, compare=False)

    def as_dict(self) -> dict[str, float | int | None]:
        """The figures by name, JSON-ready (plain floats, ints and None)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "sweep"}


def _db(power: np.ndarray) -> np.ndarray:
    return 10.0 * np.log10(np.maximum(power, _FLOOR))


def _geometry(frontend: object) -> tuple[Fraction, int]:
    """``(factor, receptive_field)`` of a front-end that can be measured."""
    if not isinstance(frontend, FrontEnd):
        raise TypeError(f"frontend must be a seqdown FrontEnd, got {type(frontend).__name__}")
    if frontend.factor is None or frontend.receptive_field is None:
        raise ValueError(f"frontend must keep a time axis to be measured, got "
                         f"{type(frontend).__name__} (factor None)")
    factor = Fraction(frontend.factor)
    if factor < 1:
        raise ValueError(f"frontend must downsample (factor >= 1) to be measured, got "
                         f"factor {frontend.factor}")
    return factor, frontend.receptive_field


def _prepare(frontend: object, channels: int) -> tuple[FrontEnd, Fraction, int]:
    """A float64 copy of ``frontend`` in eval mode, its factor, and checked channels."""
    factor, _ = _geometry(frontend)
    assert isinstance(frontend, FrontEnd)  # checked by _geometry
    channels = check_positive_int("channels", channels)
    return copy.deepcopy(frontend).to(torch.float64).eval(), factor, channels


@torch.no_grad()
def _run(frontend: FrontEnd, signals: np.ndarray, channels: int, keep: slice) -> np.ndarray:
    """Runs ``(signals, time)`` on every channel, minus the output for silence; keeps ``keep``."""
    time = signals.shape[-1]
    silence = frontend(torch.zeros(1, channels, time, dtype=torch.float64))[0][..., keep]
    per_pass = max(1, _CHUNK // (channels * time))
    outputs = []
    for start in range(0, len(signals), per_pass):
        x = torch.from_numpy(signals[start:start + per_pass])[:, None, :]
        y = frontend(x.expand(-1, channels, -1).contiguous())[0][..., keep]
        outputs.append((y - silence).numpy())
    return np.concatenate(outputs)


def _steady_window(frontend: FrontEnd, factor: Fraction) -> tuple[int, slice]:
    """Input length and the output steps that see no edge: ``WINDOW`` of them."""
    field = _geometry(frontend)[1]
    trim = math.ceil(field / factor) + 1
    length = math.ceil((WINDOW + 2 * trim) * factor) + field
    if frontend.output_length(length) < WINDOW + trim:  # pragma: no cover - length rules
        raise RuntimeError(f"{type(frontend).__name__}.output_length({length}) is too short")
    return length, slice(trim, trim + WINDOW)


def _decompose(rows: np.ndarray, t: np.ndarray, ratio: float
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Splits each column of ``rows`` ``(steps, runs)`` into the tone, DC and the rest.

    Below the output Nyquist frequency a constant, a cosine and a sine at the
    tone's frequency (``pi * ratio`` radians per output step ``t``) are fitted
    jointly by least squares: exact, with no leakage. At or above it the tone has
    no place in the output, and the DC is the Blackman-Harris-weighted mean, whose
    leakage from any component more than four DFT bins away from 0 Hz is below
    -92 dB (the nearest fold of the tone grid is 6.4 bins away).

    Returns:
        Per run: the tone's power, the DC power, the power of the rest, and the
        ``(cos, sin)`` coefficients of the tone (zeros when there is none).
    """
    runs = rows.shape[1]
    cos_sin = np.zeros((runs, 2))
    if ratio == 0:  # the tone is DC itself
        level = rows.mean(axis=0)
        return level**2, np.zeros(runs), ((rows - level) ** 2).mean(axis=0), cos_sin
    if ratio >= 1:
        window = signal.windows.blackmanharris(t.size, sym=False)
        dc = window @ rows / window.sum()
        return np.zeros(runs), dc**2, ((rows - dc) ** 2).mean(axis=0), cos_sin
    w = np.pi * ratio
    basis = np.stack([np.ones(t.size), np.cos(w * t), np.sin(w * t)], axis=1)
    solution = np.linalg.lstsq(basis, rows, rcond=None)[0]
    tone = basis[:, 1:] @ solution[1:]
    rest = rows - basis @ solution
    cos_sin[:] = solution[1:].T
    return (tone**2).mean(axis=0), solution[0] ** 2, (rest**2).mean(axis=0), cos_sin


def tone_sweep(frontend: FrontEnd, sample_rate: float, channels: int = 1) -> ToneSweep:
    """Measures gains and aliases of ``frontend`` with test tones (see the module notes).

    Args:
        frontend: any :class:`FrontEnd` with ``factor >= 1``; it is not modified.
        sample_rate: input sample rate in Hz.
        channels: input channels; every channel gets the same tone.

    Returns:
        A :class:`ToneSweep`.

    Raises:
        TypeError: ``frontend`` is not a FrontEnd.
        ValueError: ``frontend`` has no time axis or ``factor < 1``, ``sample_rate
            <= 0``, or ``channels`` < 1.

    Example:
        >>> from seqdown import Decimate
        >>> sweep = tone_sweep(Decimate(2), 16000)
        >>> sweep.output_nyquist, bool(sweep.alias_db[sweep.ratios >= 1].max() < -60)
        (4000.0, True)
    """
    sample_rate = check_finite_number("sample_rate", sample_rate, 0.0)
    model, factor, channels = _prepare(frontend, channels)
    length, keep = _steady_window(model, factor)
    ratios = np.arange(math.ceil(factor / TONE_STEP)) / round(1 / TONE_STEP)
    ratios = ratios[ratios < float(factor)]
    omega = np.pi * ratios / float(factor)  # radians per input sample
    phases = np.array([_PHASE, _PHASE + np.pi / 2])
    n = np.arange(length)
    tones = np.cos(omega[:, None, None] * n + phases[None, :, None])  # (tones, 2, time)
    y = _run(model, tones.reshape(-1, length), channels, keep)
    y = y.reshape(len(ratios), 2, *y.shape[1:])  # (tones, phase, channels, steps)

    t = np.arange(keep.start, keep.stop)
    parts = [_decompose(y[k].reshape(-1, t.size).T, t, ratio) for k, ratio in enumerate(ratios)]
    # Powers averaged over the two phases and the channels, re the input tone's 1/2.
    tone, dc, rest = (np.array([part[i].reshape(2, -1).mean() for part in parts]) / 0.5
                      for i in range(3))
    below = ratios < 1
    gain_db = np.where(below, _db(tone), np.nan)
    dc_db = np.where(ratios > 0, _db(dc), np.nan)
    alias_db = _db(rest)

    # Group delay between the two lowest non-zero tones, from the runs at phase _PHASE:
    # the fit a cos(w t) + b sin(w t) = A cos(w t - theta) of y[t] = G cos(omega (t
    # factor - delay) + phi) gives theta = omega * delay - phi, so the delay is the
    # slope of theta over omega. A slope, unlike theta / omega, ignores a sign flip
    # of the gain (a phase of pi), which a learnable kernel may well have.
    delay = 0.0
    if below.sum() > 2:
        # (2 tones, channels, [cos, sin]) of the runs at phase _PHASE
        cos_sin = np.stack([parts[k][3].reshape(2, -1, 2)[0] for k in (1, 2)])
        theta = np.arctan2(cos_sin[..., 1], cos_sin[..., 0])
        slope = np.angle(np.exp(1j * (theta[1] - theta[0]))) / (omega[2] - omega[1])
        weights = (cos_sin**2).sum(axis=(0, -1))
        if weights.sum() > 0:
            delay = float((slope * weights).sum() / weights.sum())
    output_nyquist = sample_rate / float(factor) / 2
    return ToneSweep(ratios * output_nyquist, ratios, gain_db, alias_db, dc_db, delay,
                     output_nyquist)


def shift_change(frontend: FrontEnd, channels: int = 1, seed: int = 0) -> float:
    """How much the output changes when the input moves by one sample, in dB.

    See the module notes: the energy of ``y(shift(x, 1)) - delay(y(x), 1 /
    factor)`` over one period of periodic white noise, relative to the energy of
    ``y(x)``, after subtracting the output for silence. 0 dB means the change is
    as large as the output; -300 dB is the floor (a pure delay, e.g. factor 1).

    Args:
        frontend: any :class:`FrontEnd` with ``factor >= 1``; it is not modified.
        channels: input channels; every channel gets the same noise.
        seed: seed of the noise's random phases.

    Raises:
        TypeError, ValueError: as :func:`tone_sweep`.

    Example:
        >>> from seqdown import BlurPool, MaxPool
        >>> bool(shift_change(BlurPool(2)) < shift_change(MaxPool(2)) - 5)
        True
    """
    model, factor, channels = _prepare(frontend, channels)
    period = factor.numerator * PERIOD  # input samples
    steps = factor.denominator * PERIOD  # output steps per period
    spectrum = np.exp(2j * np.pi * np.random.default_rng(seed).random(period // 2 + 1))
    spectrum[[0, -1]] = 1.0  # DC and Nyquist bins are real
    noise = np.fft.irfft(spectrum, period)
    noise /= noise.std()
    # Tile enough periods that the middle one's outputs see no edge.
    tiles = math.ceil(_geometry(model)[1] / period) + 1
    signals = np.tile(np.stack([noise, np.roll(noise, 1)]), 2 * tiles + 1)
    start = math.ceil(tiles * period / factor)
    y, y_shifted = _run(model, signals, channels, slice(start, start + steps))
    bins = np.arange(steps // 2 + 1)
    delayed = np.fft.irfft(np.fft.rfft(y) * np.exp(-2j * np.pi * bins / (steps * float(factor))),
                           steps)
    change = ((y_shifted - delayed) ** 2).sum() / max((y**2).sum(), _FLOOR)
    return float(_db(np.array(change)))


def _worst(values: np.ndarray, mask: np.ndarray) -> float | None:
    """The largest value in ``mask``, None if ``mask`` is empty."""
    return float(values[mask].max()) if mask.any() else None


def _deviation(values: np.ndarray, mask: np.ndarray) -> float:
    """The value in ``mask`` furthest from 0 dB (the passband always holds DC)."""
    chosen = values[mask]
    return float(chosen[np.argmax(np.abs(chosen))])


def measure(frontend: FrontEnd, sample_rate: float, channels: int = 1) -> Measurement:
    """Measures factor, receptive field, delay, passband, aliases and shift consistency.

    Args:
        frontend: any :class:`FrontEnd` with ``factor >= 1``, e.g. from
            :func:`~seqdown.frontends.chain.build_frontend`; it is copied, not modified.
        sample_rate: input sample rate in Hz.
        channels: input channels (``conv`` needs its own ``in_channels``).

    Returns:
        A :class:`Measurement`; see the module notes for how each figure is taken.

    Raises:
        TypeError: ``frontend`` is not a FrontEnd.
        ValueError: ``frontend`` has no time axis or ``factor < 1``, ``sample_rate
            <= 0``, or ``channels`` < 1.

    Example:
        >>> from seqdown import AvgPool
        >>> m = measure(AvgPool(2), 16000)
        >>> m.delay_samples, round(m.passband_deviation_db_to_80pct_nyquist, 2)
        (-0.5, -1.84)
    """
    sweep = tone_sweep(frontend, sample_rate, channels)
    factor, field = _geometry(frontend)
    ratios = sweep.ratios
    return Measurement(
        sample_rate=float(sample_rate),
        factor=int(factor) if factor.denominator == 1 else float(factor),
        output_sample_rate=float(sample_rate) / float(factor),
        receptive_field=field,
        min_length=int(frontend.min_length),
        delay_samples=round(sweep.delay_samples, 6) + 0.0,  # no "-0.0"
        passband_deviation_db_to_80pct_nyquist=_deviation(
            sweep.gain_db, ratios <= PASSBAND_EDGES[0] + 1e-9),
        passband_deviation_db_to_90pct_nyquist=_deviation(
            sweep.gain_db, ratios <= PASSBAND_EDGES[1] + 1e-9),
        worst_alias_db_from_100pct_nyquist=_worst(sweep.alias_db, ratios >= ALIAS_EDGES[0] - 1e-9),
        worst_alias_db_from_110pct_nyquist=_worst(sweep.alias_db, ratios >= ALIAS_EDGES[1] - 1e-9),
        worst_alias_db_from_125pct_nyquist=_worst(sweep.alias_db, ratios >= ALIAS_EDGES[2] - 1e-9),
        worst_dc_db_from_100pct_nyquist=_worst(sweep.dc_db, ratios >= ALIAS_EDGES[0] - 1e-9),
        shift_change_db=shift_change(frontend, channels),
        sweep=sweep,
    )

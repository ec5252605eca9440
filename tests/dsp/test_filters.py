"""design_lowpass meets its spec, measured with scipy.signal.freqz; binomial taps."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import signal
from scipy.special import comb

from seqdown.dsp.filters import DECIMATE_DEFAULT_TAPS, binomial_taps, design_lowpass

SPECS = [
    (1, 2, 60, 0.5), (1, 3, 60, 0.5), (1, 8, 60, 0.5), (1, 2, 40, 0.2), (1, 5, 80, 0.3),
    (1, 4, 100, 0.1), (2, 1, 100, 0.1), (3, 2, 90, 0.15), (160, 441, 100, 0.1),
    (1, 3, 120, 0.05), (2, 3, 60, 0.9),
]


def measured(taps: np.ndarray, up: int, down: int, transition: float) -> tuple[float, float]:
    """Worst passband deviation and worst stopband gain (linear), on a dense freqz grid."""
    stop = 0.5 / max(up, down)
    edge = (1 - transition) * stop
    passband = np.linspace(0, edge, 4001)
    stopband = np.concatenate([np.linspace(stop, min(4 * stop, 0.5), 20001),
                               np.linspace(min(4 * stop, 0.5), 0.5, 20001)])
    _, h_pass = signal.freqz(taps, worN=passband, fs=1.0)
    _, h_stop = signal.freqz(taps, worN=stopband, fs=1.0)
    return float(np.abs(np.abs(h_pass) - 1).max()), float(np.abs(h_stop).max())


@pytest.mark.parametrize(("up", "down", "attenuation", "transition"), SPECS, ids=str)
def test_design_meets_spec(up, down, attenuation, transition):
    taps = design_lowpass(up, down, attenuation=attenuation, transition=transition)
    deviation, leak = measured(taps, up, down, transition)
    limit = 10 ** (-attenuation / 20)
    assert leak <= limit, f"stopband at {20 * np.log10(leak):.2f} dB"
    assert deviation <= limit, f"passband deviation {deviation:.2e} > {limit:.2e}"


@pytest.mark.parametrize(("up", "down"), [(1, 2), (1, 7), (3, 2), (160, 441)])
def test_design_is_odd_symmetric_unit_dc(up, down):
    taps = design_lowpass(up, down)
    assert taps.ndim == 1 and taps.size % 2 == 1
    np.testing.assert_allclose(taps, taps[::-1], rtol=0, atol=0)
    assert taps.sum() == pytest.approx(1.0, abs=1e-12)


def test_design_reduces_the_ratio_and_returns_a_fresh_array():
    a = design_lowpass(2, 4, attenuation=60, transition=0.5)
    b = design_lowpass(1, 2, attenuation=60, transition=0.5)
    np.testing.assert_array_equal(a, b)
    a[0] = 99.0  # the caller owns its copy; the cache is untouched
    assert design_lowpass(1, 2, attenuation=60, transition=0.5)[0] != 99.0
    np.testing.assert_array_equal(design_lowpass(5, 5), [1.0])


def test_documented_decimate_tap_counts():
    for factor, taps in DECIMATE_DEFAULT_TAPS.items():
        assert design_lowpass(1, factor, attenuation=60, transition=0.5).size == taps


def test_length_grows_with_attenuation_and_narrower_transition():
    base = design_lowpass(1, 2, attenuation=60, transition=0.2).size
    assert design_lowpass(1, 2, attenuation=100, transition=0.2).size > base
    assert design_lowpass(1, 2, attenuation=60, transition=0.1).size > base


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"up": 0}, ValueError, "up must be a positive integer, got 0"),
    ({"down": 1.5}, TypeError, "down must be an integer, got 1.5"),
    ({"up": 1, "down": 2, "attenuation": 5}, ValueError, "attenuation must be > 10.0"),
    ({"up": 1, "down": 2, "attenuation": float("nan")}, ValueError, "attenuation must be"),
    ({"up": 1, "down": 2, "transition": 0}, ValueError, "transition must be > 0.0 and < 1.0"),
    ({"up": 1, "down": 2, "transition": "wide"}, TypeError, "transition must be a real number"),
], ids=["up-0", "down-float", "attenuation-low", "attenuation-nan", "transition-0",
        "transition-str"])
def test_design_bad_args(kwargs, error, match):
    with pytest.raises(error, match=match):
        design_lowpass(**kwargs)


@pytest.mark.parametrize("order", [0, 1, 2, 3, 6])
def test_binomial_taps(order):
    taps = binomial_taps(order)
    np.testing.assert_allclose(taps, [comb(order, k) / 2**order for k in range(order + 1)])
    # The response is cos(pi f) ** order.
    freqs, response = signal.freqz(taps, worN=64, fs=1.0)
    np.testing.assert_allclose(np.abs(response), np.abs(np.cos(np.pi * freqs)) ** order,
                               atol=1e-12)
    assert math.isclose(taps.sum(), 1.0)

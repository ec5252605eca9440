"""padtype against scipy.signal.resample_poly's, on both engines, and per item in a batch."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch
from scipy import signal

import seqdown
from seqdown.dsp.engine import ResamplingPlan, fft_error_bound
from seqdown.dsp.padding import PADTYPES, background, extension

RATES = [(48000, 16000), (44100, 16000), (8000, 16000), (3, 2)]
#: Padtypes that need two samples for a slope (scipy returns NaN or garbage for one).
SLOPED = ("line", "smooth")


def ratio(orig: int, new: int) -> tuple[int, int]:
    frac = Fraction(new, orig)
    return frac.numerator, frac.denominator


@pytest.mark.parametrize("padtype", PADTYPES)
@pytest.mark.parametrize(("orig", "new"), RATES, ids=str)
def test_direct_path_equals_scipy_padtype(orig, new, padtype, rng):
    up, down = ratio(orig, new)
    module = seqdown.Resample(orig, new, 80, 0.2, padtype=padtype, method="direct")
    for time in [1, 2, 7, 300] if padtype not in SLOPED else [2, 7, 300]:
        x = rng.standard_normal((2, 3, time)) + 2.0  # an offset makes every padtype differ
        expected = signal.resample_poly(x, up, down, axis=-1, window=module.taps,
                                        padtype=padtype)
        got = module(torch.from_numpy(x))[0].numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-11)


def extended_rms(x: np.ndarray, padtype: str, plan: ResamplingPlan) -> float:
    """RMS of ``x`` with its padtype extension over the filter's support: the FFT path's
    error scales with what its blocks hold (fft_error_bound)."""
    rows = torch.from_numpy(x.reshape(-1, x.shape[-1]))
    level = background(rows, padtype)
    rows = rows if level is None else rows - level
    half = plan.span // 2
    left, right = extension(rows, padtype, half, half)
    return float(torch.cat([left, rows, right], dim=-1).pow(2).mean().sqrt())


@pytest.mark.parametrize("padtype", PADTYPES)
@pytest.mark.parametrize(("orig", "new"), RATES, ids=str)
def test_fft_path_equals_scipy_padtype_up_to_the_stopband(orig, new, padtype, rng):
    up, down = ratio(orig, new)
    module = seqdown.Resample(orig, new, padtype=padtype)
    assert module.method == "fft"
    for time in [1, 2, 7, 3000] if padtype not in SLOPED else [2, 7, 3000]:
        x = rng.standard_normal((2, 1, time)) + 2.0
        expected = signal.resample_poly(x, up, down, axis=-1, window=module.taps,
                                        padtype=padtype)
        got = seqdown.resample(torch.from_numpy(x), orig, new, padtype=padtype).numpy()
        bound = fft_error_bound(module.attenuation) * extended_rms(x, padtype, module.plan)
        assert np.abs(got - expected).max() <= bound, padtype


@pytest.mark.parametrize("padtype", PADTYPES)
@pytest.mark.parametrize("method", ["direct", "fft"])
def test_each_item_has_its_own_edges(padtype, method, rng):
    """With lengths, an item's own end is its edge: the batch equals each item alone."""
    module = seqdown.Resample(3, 2, 90, 0.2, padtype=padtype, method=method)
    lengths = torch.tensor([50, 37, 2, 1, 0])
    x = torch.from_numpy(rng.standard_normal((5, 2, 50)) + 1.5)
    y, out_lengths = module(x, lengths)
    assert out_lengths.tolist() == [34, 25, 2, 1, 0]
    for b, n in enumerate(lengths.tolist()):
        if n == 0:
            assert torch.all(y[b] == 0)
            continue
        alone = module(x[b : b + 1, :, :n])[0][0]
        torch.testing.assert_close(y[b, :, : alone.shape[-1]], alone, rtol=1e-9, atol=1e-11)
        assert torch.all(y[b, :, alone.shape[-1] :] == 0)


@pytest.mark.parametrize("padtype", SLOPED)
def test_one_sample_continues_flat(padtype):
    """A single sample has no slope: "line" and "smooth" continue it as "edge" does."""
    x = torch.tensor([[1.5]], dtype=torch.float64)
    for method in ["direct", "fft"]:
        got = seqdown.resample(x, 3, 2, padtype=padtype, method=method)
        torch.testing.assert_close(got, seqdown.resample(x, 3, 2, padtype="edge", method=method))
        torch.testing.assert_close(got, torch.full_like(got, 1.5), atol=1e-6, rtol=0)


def test_decimate_takes_a_padtype(rng):
    x = rng.standard_normal((3, 40)) + 1.0
    taps = seqdown.design_lowpass(1, 4, attenuation=60, transition=0.5)
    expected = signal.resample_poly(x, 1, 4, axis=-1, window=taps, padtype="line")
    got = seqdown.decimate(torch.from_numpy(x), 4, padtype="line").numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)
    module = seqdown.Decimate(4, padtype="edge")
    assert "padtype='edge'" in repr(module)


def test_bad_padtype():
    with pytest.raises(ValueError, match=r"padtype must be one of 'constant', .*got 'wrap'"):
        seqdown.Resample(3, 2, padtype="wrap")
    with pytest.raises(ValueError, match=r"padtype must be one of"):
        seqdown.resample(torch.zeros(3), 3, 2, padtype="zeros")

"""Decimate and Resample against scipy.signal.resample_poly / upfirdn, and with tones."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch
from scipy import signal

import seqdown
from seqdown.dsp.engine import fft_error_bound
from seqdown.dsp.filters import design_lowpass

FACTORS = [2, 3, 4, 5, 6, 8]
RATES = [(44100, 16000), (48000, 16000), (22050, 16000), (8000, 16000), (16000, 22050)]
TIMES = [1, 2, 5, 7, 13, 97, 441, 1000]


def lengths_for(factor: int) -> list[int]:
    return sorted({*TIMES, factor - 1 or 1, factor, factor + 1, 3 * factor + 1})


@pytest.mark.parametrize("factor", FACTORS)
def test_decimate_equals_resample_poly_float64(factor, rng):
    taps = design_lowpass(1, factor, attenuation=60, transition=0.5)
    module = seqdown.Decimate(factor)
    for time in lengths_for(factor):
        x = rng.standard_normal((2, 3, time))
        expected = signal.resample_poly(x, 1, factor, axis=-1, window=taps)
        got = module(torch.from_numpy(x))[0].numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12 * np.abs(x).max())
        np.testing.assert_allclose(seqdown.decimate(torch.from_numpy(x), factor).numpy(),
                                   expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("factor", FACTORS)
def test_decimate_equals_upfirdn_float32(factor, rng):
    """The same numbers from scipy's lower-level reference: filter, then keep every factor-th."""
    taps = design_lowpass(1, factor, attenuation=60, transition=0.5)
    half = taps.size // 2
    x = rng.standard_normal((4, 999)).astype(np.float32)
    full = signal.upfirdn(taps, x.astype(np.float64), 1, 1, axis=-1)  # zero-delay at index half
    expected = full[:, half : half + x.shape[-1]][:, ::factor]
    got = seqdown.decimate(torch.from_numpy(x), factor).numpy()
    # float32 keeps about 7 significant digits over a 31-123 tap sum.
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("orig", "new"), RATES, ids=lambda r: str(r))
def test_direct_resample_equals_resample_poly(orig, new, rng):
    """method="direct" is exactly resample_poly with design_lowpass taps."""
    frac = Fraction(new, orig)
    up, down = frac.numerator, frac.denominator
    taps = design_lowpass(up, down)
    module = seqdown.Resample(orig, new, method="direct")
    assert module.factor == Fraction(orig, new)
    np.testing.assert_array_equal(module.taps, taps)
    for time in [1, 3, down - 1 or 1, down, down + 1, 2000]:
        x = rng.standard_normal((2, 1, time))
        expected = signal.resample_poly(x, up, down, axis=-1, window=taps)
        np.testing.assert_allclose(module(torch.from_numpy(x))[0].numpy(), expected,
                                   rtol=1e-9, atol=1e-12)
        y32 = seqdown.resample(torch.from_numpy(x).float(), orig, new, method="direct").numpy()
        np.testing.assert_allclose(y32, expected, rtol=1e-4, atol=2e-5)


@pytest.mark.parametrize(("orig", "new"), [*RATES, (16001, 16000), (48000, 44101)],
                         ids=lambda r: str(r))
def test_default_resample_is_resample_poly_up_to_the_stopband(orig, new, rng):
    """The default (FFT) path is resample_poly with module.taps, up to the stopband level."""
    frac = Fraction(new, orig)
    up, down = frac.numerator, frac.denominator
    module = seqdown.Resample(orig, new)
    assert module.method == "fft"
    taps = module.taps
    if up == 1:  # decimation: the very design_lowpass filter
        np.testing.assert_allclose(taps, design_lowpass(1, down), rtol=0, atol=1e-15)
    for time in [1, 3, down - 1 or 1, down + 1, 3000]:
        x = rng.standard_normal((2, 1, time))
        expected = signal.resample_poly(x, up, down, axis=-1, window=taps)
        got = module(torch.from_numpy(x))[0].numpy()
        assert got.shape == expected.shape
        bound = fft_error_bound(module.attenuation) * np.sqrt(np.mean(x**2))
        assert np.abs(got - expected).max() <= bound
        y32 = seqdown.resample(torch.from_numpy(x).float(), orig, new).numpy()
        np.testing.assert_allclose(y32, expected, rtol=1e-4, atol=2e-5)


@pytest.mark.parametrize("shape", [(100,), (3, 100), (2, 3, 4, 100)], ids=str)
def test_functions_take_any_leading_shape(shape):
    x = torch.randn(shape)
    assert seqdown.decimate(x, 3).shape == (*shape[:-1], 34)
    assert seqdown.resample(x, 3, 2).shape == (*shape[:-1], 67)
    assert torch.equal(seqdown.decimate(x, 1), x)
    assert torch.equal(seqdown.resample(x, 16000, 16000), x)
    with pytest.raises(ValueError, match="resample needs at least min_length=1"):
        seqdown.resample(torch.zeros(2, 0), 3, 1)


def test_zero_delay_impulse_lands_on_its_output_step():
    x = torch.zeros(1, 1, 61)
    x[..., 30] = 1.0
    module = seqdown.Decimate(3)
    y = module(x)[0].flatten().double()
    assert int(y.argmax()) == 10  # input step 30 is output step 10
    # y[t] = taps[30 - 3 t + half]: the filter centred on the impulse, read every 3 steps.
    taps, half = torch.from_numpy(module.taps), module.taps.size // 2
    expected = torch.tensor([taps[30 - 3 * t + half] if 0 <= 30 - 3 * t + half < taps.numel()
                             else 0.0 for t in range(y.numel())], dtype=torch.float64)
    torch.testing.assert_close(y, expected, atol=1e-7, rtol=1e-6)


@pytest.mark.parametrize("factor", [2, 3, 4])
@pytest.mark.parametrize(("attenuation", "transition"), [(60, 0.5), (100, 0.1)],
                         ids=["default", "waveform"])
def test_decimate_tones(factor, attenuation, transition, tone_gain_db):
    """At or above the output Nyquist: >= attenuation dB down; in the passband: flat."""
    nyquist = 0.5 / factor  # output Nyquist in cycles per input sample

    def op(x: np.ndarray) -> np.ndarray:
        return seqdown.decimate(torch.from_numpy(x), factor, attenuation=attenuation,
                                transition=transition).numpy()

    for position in [1.0, 1.05, 1.5, 1.99]:
        frequency = min(position * nyquist, 0.499)
        assert tone_gain_db(op, frequency, ratio=1 / factor) <= -attenuation
    limit_db = -20 * np.log10(1 - 10 ** (-attenuation / 20)) + 1e-9
    for position in [0.05, 0.5 * (1 - transition), 1 - transition]:
        gain = tone_gain_db(op, position * nyquist, ratio=1 / factor)
        assert abs(gain) <= limit_db, f"{gain} dB at {position} of the output band"


@pytest.mark.parametrize(("orig", "new"), [(44100, 16000), (8000, 16000)], ids=str)
def test_resample_tones(orig, new, tone_gain_db):
    """Default Resample: >= 100 dB of alias/image rejection, flat to 0.9 of the lower Nyquist.

    (The 120 dB default is measured on every ratio in test_resample_quality.py.)
    """
    lower = 0.5 * min(orig, new) / orig  # the lower Nyquist, in cycles per input sample

    def op(x: np.ndarray) -> np.ndarray:
        return seqdown.resample(torch.from_numpy(x), orig, new).numpy()

    ratio = new / orig
    if new < orig:
        for position in [1.0, 1.2, 2.0]:
            assert tone_gain_db(op, position * lower, ratio=ratio, n=44100) <= -100
    for position in [0.1, 0.5, 0.9]:
        assert abs(tone_gain_db(op, position * lower, ratio=ratio, n=44100)) < 1e-4


def test_upsampling_rejects_images(tone_gain_db):
    """8 kHz -> 16 kHz: a 3 kHz tone's image at 8 - 3 = 5 kHz is >= 100 dB down.

    A tone of 0.625 cycles/sample is, sampled, the same as 0.375 (3 kHz at 8 kHz);
    asking for it makes the fixture fit 0.625 / 2 = 0.3125 cycles per output
    sample, 5 kHz at 16 kHz: the image.
    """

    def op(x: np.ndarray) -> np.ndarray:
        return seqdown.resample(torch.from_numpy(x), 8000, 16000).numpy()

    assert tone_gain_db(op, 0.375, ratio=2.0) == pytest.approx(0.0, abs=1e-4)
    assert tone_gain_db(op, 0.625, ratio=2.0, others=(0.1875,)) <= -100


def test_half_precision_is_filtered_in_float32():
    x = torch.randn(2, 4, 500)
    reference = seqdown.Decimate(4)(x)[0]
    for dtype in (torch.float16, torch.bfloat16):
        y = seqdown.Decimate(4)(x.to(dtype))[0]
        assert y.dtype == dtype
        # Only the input and output roundings remain: about 3 (2) significant digits.
        torch.testing.assert_close(y.float(), reference, atol=3e-2, rtol=3e-2)


def test_gradcheck():
    x = torch.randn(2, 2, 23, dtype=torch.float64, requires_grad=True)
    module = seqdown.Decimate(3, attenuation=40, transition=0.5)
    assert torch.autograd.gradcheck(lambda x: module(x, torch.tensor([23, 10]))[0], (x,))
    assert torch.autograd.gradcheck(lambda x: seqdown.resample(x, 3, 2), (x,))


@pytest.mark.parametrize("factor", [2, 3, 4, 8])
@pytest.mark.parametrize(("batch", "channels"), [(5, 4), (3, 7), (9, 2)], ids=str)
def test_flat_layout_batch_tail_is_batch_invariant(factor, batch, channels, random_lengths,
                                                   check_batch_invariance):
    """The flat layout (16 rows or more, the time axis a multiple of the factor) redoes the
    outputs at the batch's end when the rows do not fill its last conv step: those read
    NaN or inf in the padding as zeros too."""
    time = 17 * factor
    assert batch * channels >= 16 and batch * channels * time % (16 * factor)
    x = torch.randn(batch, channels, time, generator=torch.Generator().manual_seed(factor))
    lengths = random_lengths(batch, time, seed=factor)
    lengths[-1] = time - factor - 1  # the last item, whose rows the redo reads, is padded
    check_batch_invariance(seqdown.Decimate(factor), x, lengths)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_inference_mode(dtype):
    """Under torch.inference_mode: a module built there, a module first called there, and
    the function give the eager output; the module then still trains outside it."""
    x = torch.randn(32, 8, 400, dtype=dtype)  # the flat layout (32 * 8 rows, 400 % 4 == 0)
    lengths = torch.tensor([400, 123] * 16)
    reference = seqdown.Decimate(4)(x, lengths)[0]
    fresh = seqdown.Decimate(4)
    with torch.inference_mode():
        built_there = seqdown.Decimate(4)
        torch.testing.assert_close(built_there(x, lengths)[0], reference, rtol=0, atol=0)
        torch.testing.assert_close(fresh(x, lengths)[0], reference, rtol=0, atol=0)
        torch.testing.assert_close(seqdown.decimate(x, 4), seqdown.Decimate(4)(x)[0])
    leaf = x.clone().requires_grad_()
    fresh(leaf, lengths)[0].sum().backward()
    assert leaf.grad is not None and bool(leaf.grad[0].abs().sum() > 0)


def test_module_properties():
    decimate = seqdown.Decimate(4)
    assert decimate.factor == 4
    assert decimate.receptive_field == decimate.taps.size == 61
    assert decimate.state_dict() == {}  # the filter is derived, not a parameter
    resample = seqdown.Resample(48000, 16000)
    assert resample.factor == Fraction(3, 1)
    assert resample.output_length(48000) == 16000


@pytest.mark.parametrize("padtype", ["constant", "line"])
def test_two_stage_resample_is_batch_invariant(padtype, random_lengths, check_batch_invariance):
    module = seqdown.Resample(96000, 16, padtype=padtype).double()
    assert module.method == "cascade"
    lengths = random_lengths(4, 200000, seed=3)
    lengths[0] = 96000  # the shortest input with whole outputs past its first
    x = torch.randn(4, 2, 200000, dtype=torch.float64)
    # Past an item's end its batch's zeros go through the FFT blocks, not exact zeros.
    check_batch_invariance(module, x, lengths, atol=1e-10, rtol=1e-10)


def test_two_stage_resample_is_not_traced():
    module = seqdown.Resample(96000, 16)
    assert module.traced_weight.numel() == 0
    with pytest.raises(ValueError, match=r"runs in two stages \(method='cascade'\)"):
        torch.export.export(module, (torch.randn(1, 1, 96000),))

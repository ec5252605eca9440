"""Upsample and TransposedConv: length rules, oracles, the padded-batch contract, target_length."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import signal
from torch import nn

from seqdown import Decimate, build_frontend, design_lowpass
from seqdown.frontends.upsampling import TransposedConv, Upsample, pad_or_trim, upsample
from seqdown.lengths import target_lengths, transposed_conv_length, upsample_length

MODES = ["nearest", "linear", "sinc"]
FACTORS = [1, 2, 3, 5, 7]
#: Odd lengths, 1 and 2, and lengths that are not multiples of the factors.
TIMES = [1, 2, 7, 33, 101]


def make_upsampler(kind: str, channels: int, factor: int) -> nn.Module:
    """``Upsample(factor, mode)`` for the modes, or a seeded ``TransposedConv``."""
    if kind in MODES:
        return Upsample(factor, kind)
    torch.manual_seed(0)
    kernel_size, padding = {"tconv": (factor, 0), "tconv-overlap": (2 * factor + 1, 1)}[kind]
    return TransposedConv(channels, 3, factor, kernel_size=kernel_size, padding=padding)


KINDS = [*MODES, "tconv", "tconv-overlap"]


# ---------------------------------------------------------------- length rules


@pytest.mark.parametrize("factor", FACTORS, ids=lambda f: f"factor{f}")
def test_upsample_length_is_n_times_factor(factor):
    n = torch.arange(0, 50)
    assert torch.equal(upsample_length(n, factor), n * factor)
    assert [upsample_length(int(k), factor) for k in n] == (n * factor).tolist()


@pytest.mark.parametrize(("kernel_size", "stride", "padding"),
                         [(2, 2, 0), (3, 2, 1), (5, 2, 2), (4, 3, 1), (1, 1, 0), (7, 4, 3)],
                         ids=lambda v: str(v))
def test_transposed_conv_length_matches_torch(kernel_size, stride, padding):
    conv = nn.ConvTranspose1d(1, 1, kernel_size, stride, padding)
    for n in range(1, 40):
        expected = conv(torch.zeros(1, 1, n)).shape[-1]
        assert transposed_conv_length(n, kernel_size, stride, padding) == expected
        as_tensor = transposed_conv_length(torch.tensor([n]), kernel_size, stride, padding)
        assert as_tensor.tolist() == [expected]
    assert transposed_conv_length(0, kernel_size, stride, padding) == 0
    assert transposed_conv_length(torch.tensor([0]), kernel_size, stride, padding).tolist() == [0]


def test_target_lengths_is_the_elementwise_minimum():
    lengths = torch.tensor([0, 3, 9, 10, 40])
    assert target_lengths(lengths, 9).tolist() == [0, 3, 9, 9, 9]
    assert target_lengths(lengths, None) is lengths
    assert [target_lengths(int(n), 9) for n in lengths] == [0, 3, 9, 9, 9]


# ---------------------------------------------------------------- oracles


@pytest.mark.parametrize("time", TIMES, ids=lambda t: f"time{t}")
@pytest.mark.parametrize("factor", FACTORS, ids=lambda f: f"factor{f}")
@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_nearest_and_linear_match_torch_upsample(mode, factor, time):
    x = torch.randn(2, 3, time, dtype=torch.float64)
    expected = F.interpolate(x, scale_factor=factor, mode=mode,
                             **({"align_corners": False} if mode == "linear" else {}))
    # float64 rounding of torch's float source index (t + 0.5) / factor - 0.5.
    torch.testing.assert_close(upsample(x, factor, mode), expected, atol=1e-12, rtol=0)
    torch.testing.assert_close(Upsample(factor, mode)(x)[0], expected, atol=1e-12, rtol=0)


@pytest.mark.parametrize("time", TIMES, ids=lambda t: f"time{t}")
@pytest.mark.parametrize("factor", FACTORS, ids=lambda f: f"factor{f}")
@pytest.mark.parametrize(("attenuation", "transition"), [(60.0, 0.5), (100.0, 0.1)],
                         ids=["60dB-0.5", "100dB-0.1"])
def test_sinc_matches_resample_poly(attenuation, transition, factor, time):
    x = np.random.default_rng(time).standard_normal((2, 3, time))
    taps = design_lowpass(factor, 1, attenuation=attenuation, transition=transition)
    expected = torch.from_numpy(signal.resample_poly(x, factor, 1, axis=-1, window=taps))
    module = Upsample(factor, "sinc", attenuation=attenuation, transition=transition)
    torch.testing.assert_close(module(torch.from_numpy(x))[0], expected, atol=1e-12, rtol=0)
    got = upsample(torch.from_numpy(x), factor, "sinc", attenuation=attenuation,
                   transition=transition)
    torch.testing.assert_close(got, expected, atol=1e-12, rtol=0)


def test_sinc_defaults_are_decimates():
    assert np.array_equal(Upsample(3, "sinc").resampler.taps, design_lowpass(
        3, 1, attenuation=Decimate(3).attenuation, transition=Decimate(3).transition))


@pytest.mark.parametrize("factor", [2, 3, 4], ids=lambda f: f"factor{f}")
def test_sinc_passes_a_tone_and_rejects_its_images(factor):
    attenuation = 60.0
    frequency = 0.2  # cycles per input sample: inside the flat band, below 0.25 (transition 0.5)
    x = torch.from_numpy(np.cos(2 * np.pi * frequency * np.arange(2000) + 0.3))
    y = upsample(x, factor, "sinc", attenuation=attenuation, transition=0.5).numpy()[200:-200]
    t = np.arange(200, 200 + y.size)
    # The tone at frequency / factor and its images at (k +- frequency) / factor, fitted jointly.
    images = [(k + s * frequency) / factor for k in range(1, factor) for s in (-1, 1)]
    columns = [np.cos(2 * np.pi * f * t) for f in (frequency / factor, *images)]
    columns += [np.sin(2 * np.pi * f * t) for f in (frequency / factor, *images)]
    coefficients, *_ = np.linalg.lstsq(np.stack(columns, axis=1), y, rcond=None)
    amplitudes = np.hypot(*coefficients.reshape(2, -1))
    assert abs(amplitudes[0] - 1) <= 10 ** (-attenuation / 20)
    assert (amplitudes[1:] <= 10 ** (-attenuation / 20)).all()


@pytest.mark.parametrize("factor", [2, 3, 4], ids=lambda f: f"factor{f}")
def test_sinc_after_decimate_restores_a_band_limited_tone(factor):
    n = np.arange(4000)
    frequency = 0.2 / factor  # 40% of the decimated Nyquist, in Decimate's flat band
    x = torch.from_numpy(np.cos(2 * np.pi * frequency * n + 0.3))[None, None]
    y, _ = Upsample(factor, "sinc")(Decimate(factor)(x)[0], target_length=n.size)
    error = (y - x)[..., 300:-300]
    # Each of the two filters deviates by at most -60 dB in the flat band.
    assert error.abs().max() < 2 * 10 ** (-60 / 20)


@pytest.mark.parametrize(("kernel_size", "padding"), [(None, 0), (4, 1), (5, 2), (3, 0)],
                         ids=["k=factor", "k4-p1", "k5-p2", "k3-p0"])
def test_transposed_conv_matches_torch(kernel_size, padding):
    torch.manual_seed(0)
    reference = nn.ConvTranspose1d(4, 6, kernel_size or 2, stride=2, padding=padding)
    torch.manual_seed(0)
    module = TransposedConv(4, 6, 2, kernel_size=kernel_size, padding=padding)
    # Same initialisation, draw for draw.
    torch.testing.assert_close(module.weight, reference.weight, atol=0, rtol=0)
    torch.testing.assert_close(module.bias, reference.bias, atol=0, rtol=0)
    x = torch.randn(3, 4, 11)
    torch.testing.assert_close(module(x)[0], reference(x), atol=1e-6, rtol=1e-6)
    assert module(x)[0].shape[-1] == module.output_length(11)


def test_transposed_conv_without_bias():
    module = TransposedConv(2, 2, 3, bias=False)
    assert module.bias is None
    assert torch.equal(module(torch.zeros(1, 2, 5))[0], torch.zeros(1, 2, 15))


# ---------------------------------------------------------------- padded batches


@pytest.mark.parametrize("factor", [1, 2, 3], ids=lambda f: f"factor{f}")
@pytest.mark.parametrize("kind", KINDS)
def test_batch_equals_items_alone(kind, factor, check_batch_invariance, random_lengths):
    module = make_upsampler(kind, 4, factor)
    x = torch.randn(6, 4, 23, dtype=torch.float64)
    module = module.double()
    check_batch_invariance(module, x, random_lengths(6, 23, seed=factor), atol=1e-12, rtol=1e-12)


@pytest.mark.parametrize("target", [0, 5, 40, 69, 90], ids=lambda t: f"target{t}")
@pytest.mark.parametrize("kind", KINDS)
def test_target_length_trims_or_pads_each_item(kind, target):
    module = make_upsampler(kind, 4, 3).double()
    x = torch.randn(3, 4, 23, dtype=torch.float64)
    lengths = torch.tensor([23, 17, 0])
    full, full_lengths = module(x, lengths)
    y, out_lengths = module(x, lengths, target_length=target)
    assert y.shape == (*full.shape[:2], target)
    assert torch.equal(out_lengths, torch.clamp(full_lengths, max=target))
    kept = min(target, full.shape[-1])
    torch.testing.assert_close(y[..., :kept], full[..., :kept], atol=0, rtol=0)
    assert (y[..., kept:] == 0).all()
    for b, n in enumerate(lengths.tolist()):
        m = int(out_lengths[b])
        assert (y[b, :, m:] == 0).all()
        if n:
            alone, none = module(x[b : b + 1, :, :n], target_length=target)
            assert none is None and alone.shape[-1] == target
            torch.testing.assert_close(y[b, :, :m], alone[0, :, :m], atol=1e-12, rtol=1e-12)


INTEGER_SPECS = ["max:2", "avg:3", "blur:2", "decimate:2", "decimate:3", "stack:4", "conv:5",
                 "decimate:2+max:2", "blur:3+avg:2", "max:7"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("spec", INTEGER_SPECS)
def test_upsampling_after_a_frontend_restores_every_length(spec, kind):
    torch.manual_seed(0)
    frontend = build_frontend(spec, channels=2)
    factor = frontend.factor
    channels = frontend.output_channels(2)
    module = make_upsampler(kind, channels, factor)
    lengths = torch.tensor(range(frontend.min_length, frontend.min_length + 64))
    for n in [*range(frontend.min_length, frontend.min_length + 40), 97, 101, 255, 1001]:
        z, _ = frontend(torch.randn(1, 2, n))
        y, _ = module(z, target_length=n)
        assert y.shape[-1] == n, f"{spec}, n={n}"
    # And for a padded batch of many odd and even lengths at once.
    time = int(lengths.max())
    z, z_lengths = frontend(torch.randn(len(lengths), 2, time), lengths)
    y, out_lengths = module(z, z_lengths, target_length=time)
    assert y.shape[-1] == time
    assert torch.equal(out_lengths,
                       torch.clamp(module.output_length(frontend.output_length(lengths)),
                                   max=time))


# ---------------------------------------------------------------- autograd, dtypes, devices


@pytest.mark.parametrize("kind", ["linear", "sinc", "tconv-overlap"])
def test_gradcheck(kind):
    module = make_upsampler(kind, 2, 2).double()
    x = torch.randn(2, 2, 5, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([5, 3])
    assert torch.autograd.gradcheck(lambda v: module(v, lengths, target_length=9)[0], (x,))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32],
                         ids=lambda d: str(d).removeprefix("torch."))
@pytest.mark.parametrize("mode", MODES)
def test_dtype_is_kept(mode, dtype):
    x = torch.randn(2, 3, 9)
    y, _ = Upsample(2, mode)(x.to(dtype), torch.tensor([9, 4]))
    assert y.dtype == dtype
    reference = Upsample(2, mode)(x.to(dtype).double(), torch.tensor([9, 4]))[0]
    # Half precision keeps about 3 significant digits.
    torch.testing.assert_close(y.double(), reference, atol=2e-2, rtol=2e-2)


@pytest.mark.parametrize("kind", KINDS)
def test_devices_agree(kind, device):
    module = make_upsampler(kind, 3, 3)
    x = torch.randn(2, 3, 13)
    lengths = torch.tensor([13, 6])
    expected, expected_lengths = module(x, lengths, target_length=40)
    y, out_lengths = module.to(device)(x.to(device), lengths.to(device), target_length=40)
    assert y.device.type == device.type and out_lengths.device.type == device.type
    torch.testing.assert_close(y.cpu(), expected, atol=1e-5, rtol=1e-5)
    assert torch.equal(out_lengths.cpu(), expected_lengths)


@pytest.mark.parametrize("kind", KINDS)
def test_empty_time_axis(kind):
    module = make_upsampler(kind, 3, 2)
    # target_length may reach 2 * output_length(0) + factor = 2 steps of zeros
    y, out_lengths = module(torch.zeros(2, 3, 0), torch.tensor([0, 0]), target_length=2)
    assert y.shape == (2, module.output_channels(3), 2) and (y == 0).all()
    assert out_lengths.tolist() == [0, 0]


# ---------------------------------------------------------------- pad_or_trim and errors


def test_pad_or_trim():
    x = torch.arange(1.0, 5.0).view(1, 4)
    assert pad_or_trim(x, 6).tolist() == [[1, 2, 3, 4, 0, 0]]
    assert pad_or_trim(x, 2).tolist() == [[1, 2]]
    assert pad_or_trim(x, 0).shape == (1, 0)


@pytest.mark.parametrize(("make", "error", "match"), [
    (lambda: Upsample(0), ValueError, "factor must be a positive integer, got 0"),
    (lambda: Upsample(1.5), TypeError, "factor must be an integer"),
    (lambda: Upsample(2, "cubic"), ValueError, "mode must be one of 'nearest', 'linear', 'sinc'"),
    (lambda: Upsample(2, "sinc", attenuation=5), ValueError, "attenuation must be > 10"),
    (lambda: Upsample(2, "sinc", transition=1.0), ValueError, "transition must be > 0"),
    (lambda: upsample(torch.zeros(3), 2, "cubic"), ValueError, "mode must be one of"),
    (lambda: upsample(torch.zeros(3, dtype=torch.int64), 2), TypeError, "floating-point"),
    (lambda: TransposedConv(2, 2, 0), ValueError, "factor must be a positive integer, got 0"),
    (lambda: TransposedConv(2, 2, 2, kernel_size=3, padding=2), ValueError,
     r"padding must be at most \(kernel_size - 1\) // 2 = 1 for kernel_size=3, got 2"),
    (lambda: TransposedConv(2, 2, 2)(torch.zeros(1, 3, 4)), ValueError,
     r"in_channels=2 channels .* got shape \(1, 3, 4\)"),
    (lambda: Upsample(2)(torch.zeros(3, 4)), ValueError, "3 dimensions"),
    (lambda: Upsample(2)(torch.zeros(1, 1, 4), torch.tensor([5])), ValueError,
     r"lengths must be <= the time axis of x \(4\), got 5"),
    (lambda: Upsample(2)(torch.zeros(1, 1, 4), target_length=-1), ValueError,
     "target_length must be an integer >= 0, got -1"),
    (lambda: Upsample(2)(torch.zeros(1, 1, 4), target_length=2.0), TypeError,
     "target_length must be an integer"),
    (lambda: pad_or_trim(torch.zeros(2), -3), ValueError, "target_length must be an integer >= 0"),
], ids=["factor0", "factor-float", "mode", "attenuation", "transition", "fn-mode", "fn-int",
        "tconv-factor0", "tconv-padding", "tconv-channels", "2d", "lengths", "target-negative",
        "target-float", "pad-negative"])
def test_bad_args(make, error, match):
    with pytest.raises(error, match=match):
        make()

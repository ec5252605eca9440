"""The contract every front-end keeps: lengths, batch invariance, dtypes, devices, bad input."""

from __future__ import annotations

from fractions import Fraction

import pytest
import torch

import seqdown


@pytest.mark.parametrize("time", [1, 2, 5, 13, 31, 64])
def test_output_length_is_the_length_produced(any_frontend, time):
    frontend = any_frontend(4)
    x = torch.randn(2, 4, time)
    if frontend.output_length(time) < 1:
        with pytest.raises(ValueError, match=f"min_length={frontend.min_length}"):
            frontend(x)
        return
    y, out_lengths = frontend(x)
    assert out_lengths is None
    assert y.shape == (2, frontend.output_channels(4), frontend.output_length(time))


def test_min_length_is_the_shortest_input_that_runs(any_frontend):
    frontend = any_frontend(3)
    shortest = frontend.min_length
    assert frontend(torch.randn(1, 3, shortest))[0].shape[-1] >= 1
    if shortest > 1:
        with pytest.raises(ValueError, match=f"at least min_length={shortest}"):
            frontend(torch.randn(1, 3, shortest - 1))


def test_output_length_int_and_tensor_agree(any_frontend):
    frontend = any_frontend(3)
    n = torch.arange(0, 40)
    tensor = frontend.output_length(n)
    assert tensor.dtype == torch.int64
    assert tensor.tolist() == [frontend.output_length(int(k)) for k in n]
    assert frontend.output_length(0) == 0
    assert (tensor >= 0).all()
    assert (tensor[1:] >= tensor[:-1]).all(), "length rules are non-decreasing"


@pytest.mark.parametrize("time", [1, 7, 29, 60])
def test_batch_invariance(any_frontend, random_lengths, check_batch_invariance, time):
    frontend = any_frontend(3)
    x = torch.randn(6, 3, time, dtype=torch.float64)
    check_batch_invariance(frontend.double(), x, random_lengths(6, time, seed=time),
                           atol=1e-10, rtol=1e-10)


def test_batch_invariance_with_every_item_too_short(any_frontend):
    frontend = any_frontend(2)
    time = max(frontend.min_length - 1, 0)
    x = torch.randn(3, 2, time)
    y, out_lengths = frontend(x, torch.full((3,), time))
    assert out_lengths.tolist() == [0, 0, 0]
    assert y.shape == (3, frontend.output_channels(2), 0)


def test_factor_and_receptive_field_types(any_frontend):
    frontend = any_frontend(2)
    assert isinstance(frontend.factor, (int, Fraction))
    assert isinstance(frontend.receptive_field, int) and frontend.receptive_field >= 1


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.bfloat16],
                         ids=["float64", "float16", "bfloat16"])
def test_dtype_is_kept(any_frontend, dtype):
    frontend = any_frontend(3).to(dtype)
    x = torch.randn(2, 3, 40)
    y, _ = frontend(x.to(dtype), torch.tensor([40, 17]))
    assert y.dtype == dtype
    reference, _ = any_frontend(3)(x, torch.tensor([40, 17]))
    # Half precision keeps about 3 significant digits; bfloat16 about 2.
    tolerance = {torch.float64: 1e-5, torch.float16: 2e-2, torch.bfloat16: 1e-1}[dtype]
    torch.testing.assert_close(y.float(), reference, atol=tolerance, rtol=tolerance)


def test_device(any_frontend, device):
    frontend = any_frontend(3)
    x = torch.randn(3, 3, 50)
    lengths = torch.tensor([50, 20, 0])
    expected, expected_lengths = frontend(x, lengths)
    y, out_lengths = frontend.to(device)(x.to(device), lengths)
    assert y.device.type == device.type
    assert out_lengths.device == lengths.device  # lengths stay where they were given
    torch.testing.assert_close(y.cpu(), expected, atol=1e-4, rtol=1e-4)
    assert torch.equal(out_lengths, expected_lengths)


# -- bad input ---------------------------------------------------------------------------

@pytest.mark.parametrize(("x", "lengths", "error", "match"), [
    (torch.randn(8, 20), None, ValueError,
     r"3 dimensions \(batch, channels, time\), got 2 with shape \(8, 20\)"),
    (torch.randn(1, 2, 3, 20), None, ValueError, r"got 4 with shape \(1, 2, 3, 20\)"),
    (torch.ones(1, 2, 20, dtype=torch.int64), None, TypeError, "dtype torch.int64"),
    (torch.ones(1, 2, 20, dtype=torch.complex64), None, TypeError, "dtype torch.complex64"),
    ("not a tensor", None, TypeError, "must be a torch.Tensor"),
    (torch.randn(2, 2, 20), torch.tensor([20]), ValueError,
     r"shape \(batch,\) = \(2,\).*got shape \(1,\)"),
    (torch.randn(2, 2, 20), torch.tensor([20, -1]), ValueError, ">= 0, got -1"),
    (torch.randn(2, 2, 20), torch.tensor([20, 21]), ValueError, r"time axis of x \(20\), got 21"),
    (torch.randn(2, 2, 20), torch.tensor([20.0, 3.0]), TypeError, "integer tensor"),
    (torch.randn(2, 2, 20), [20, 3], TypeError, "int64 tensor"),
], ids=["2-d", "4-d", "int", "complex", "list", "lengths-size", "lengths-negative",
        "lengths-too-long", "lengths-float", "lengths-list"])
def test_bad_input(any_frontend, x, lengths, error, match):
    frontend = any_frontend(2)
    with pytest.raises(error, match=match):
        frontend(x, lengths)


@pytest.mark.parametrize(("build", "error", "match"), [
    (lambda: seqdown.MaxPool(0), ValueError, "kernel_size must be a positive integer, got 0"),
    (lambda: seqdown.MaxPool(2, stride=-1), ValueError, "stride must be a positive integer"),
    (lambda: seqdown.MaxPool(2, padding=2), ValueError, r"kernel_size // 2 = 1, got 2"),
    (lambda: seqdown.AvgPool(2.5), TypeError, r"kernel_size must be an integer, got 2.5"),
    (lambda: seqdown.StridedConv(4, 4, 3, 0), ValueError, "stride must be a positive integer"),
    (lambda: seqdown.Decimate(0), ValueError, "factor must be a positive integer, got 0"),
    (lambda: seqdown.Decimate(True), TypeError, "factor must be an integer, got True"),
    (lambda: seqdown.Decimate(2, attenuation=-3), ValueError, "attenuation must be > 10"),
    (lambda: seqdown.Decimate(2, transition=1.5), ValueError, "transition must be > 0.0 and < 1"),
    (lambda: seqdown.Resample(44100, 0), ValueError, "new_freq must be a positive integer"),
    (lambda: seqdown.Resample(44100.5, 16000), TypeError, "orig_freq must be an integer"),
    (lambda: seqdown.BlurPool(0), ValueError, "factor must be a positive integer, got 0"),
    (lambda: seqdown.FrameStack(-2), ValueError, "factor must be a positive integer, got -2"),
    (lambda: seqdown.PyramidPool(levels=(2, 0)), ValueError, "must be a positive integer, got 0"),
    (lambda: seqdown.PyramidPool(mode="median"), ValueError, "'max', 'avg', got 'median'"),
    (lambda: seqdown.Chain(seqdown.PyramidPool(), seqdown.MaxPool(2)), ValueError, "last stage"),
    (lambda: seqdown.Chain(torch.nn.ReLU()), TypeError, "frontends\\[0\\] must be a seqdown"),
], ids=lambda v: "" if callable(v) or isinstance(v, type) else v[:24])
def test_bad_construction(build, error, match):
    with pytest.raises(error, match=match):
        build()


def test_conv_checks_its_channels():
    with pytest.raises(ValueError, match=r"in_channels=4 channels.*got shape \(1, 3, 9\)"):
        seqdown.StridedConv(4, 4, 3, 2)(torch.randn(1, 3, 9))


@pytest.mark.parametrize("in_place", [False, True])
def test_fill_padding_against_a_mask(in_place):
    """Each item's steps from its length on take the value; ``in_place`` fills the tensor
    itself where the per-item path runs (eager, CPU, large items) and a copy otherwise."""
    from seqdown.frontends.base import fill_padding

    lengths = torch.tensor([0, 3, 64, 17])
    for channels, per_item in [(80, True), (2, False)]:  # 80 x 64 values take the item path
        x = torch.randn(4, channels, 64)
        expected = torch.where(torch.arange(64) < lengths[:, None, None], x, -7.0)
        original = x.clone()
        y = fill_padding(x, lengths, -7.0, in_place=in_place)
        assert torch.equal(y, expected)
        assert (y is x) == (in_place and per_item)
        if y is not x:
            assert torch.equal(x, original)


def test_fills_time_reads_lengths_on_the_cpu_only():
    """Every item filling the axis skips the mask; lengths on a device are not read (the
    read would wait for it): the caller masks them as any padded batch."""
    from seqdown.frontends.base import fills_time

    assert fills_time(torch.tensor([5, 5]), 5) and not fills_time(torch.tensor([5, 4]), 5)
    assert not fills_time(torch.tensor([5, 5], device="meta"), 5)


@pytest.mark.parametrize("make", [lambda: seqdown.Decimate(2), lambda: seqdown.Resample(3, 2)],
                         ids=["decimate-2", "resample-3-2"])
def test_resampler_masks_its_own_output_in_place(monkeypatch, make):
    """Decimate and Resample fill the padding of the output they made, not of a copy (the
    items are large enough for the in-place fill); the input is never written."""
    from seqdown.frontends import base

    seen: list[tuple[bool, bool]] = []  # (in_place asked, the output itself filled)
    original = base.fill_padding

    def spy(x: torch.Tensor, lengths: torch.Tensor, value: float = 0.0,
            in_place: bool = False) -> torch.Tensor:
        result = original(x, lengths, value, in_place)
        seen.append((in_place, result is x))
        return result

    monkeypatch.setattr(base, "fill_padding", spy)
    time = 300
    module = make()
    assert 80 * module.output_length(time) >= base._FILL_BY_ITEM_VALUES
    x = torch.randn(3, 80, time)
    kept = x.clone()
    lengths = torch.tensor([time, 40, 157])
    y, out = module(x, lengths)
    assert seen[-1] == (True, True) and torch.equal(x, kept)
    reference = module(x[1:2, :, :40])[0]
    torch.testing.assert_close(y[1:2, :, : int(out[1])], reference)
    assert (y[1, :, int(out[1]):] == 0).all()
    seqdown.AvgPool(2)(x, lengths)
    assert seen[-1] == (False, False)  # a module that does not own its output copies it

"""BlurPool, FrameStack and PyramidPool against naive numpy / scipy.ndimage / torch references."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import ndimage

import seqdown
from seqdown.dsp.filters import binomial_taps


def naive_blur_pool(x: np.ndarray, factor: int, order: int) -> np.ndarray:
    """Dense max (scipy.ndimage), zero-padded binomial blur (np.convolve), then the stride."""
    # maximum_filter1d centres its window; origin shifts it to cover [t, t + factor).
    peaks = ndimage.maximum_filter1d(x, factor, axis=-1, origin=-(factor // 2), mode="nearest")
    peaks = peaks[..., : x.shape[-1] - factor + 1]
    taps = binomial_taps(order)
    blurred = np.apply_along_axis(
        lambda row: np.convolve(np.pad(row, (order // 2, order - order // 2)), taps, "valid"),
        -1, peaks)
    return blurred[..., ::factor]


@pytest.mark.parametrize(("factor", "order"), [(2, None), (2, 4), (3, None), (3, 3), (4, 1)],
                         ids=str)
def test_blur_pool_matches_naive(factor, order, rng):
    module = seqdown.BlurPool(factor, order)
    for time in [factor, factor + 1, 17, 40]:
        x = rng.standard_normal((2, 3, time))
        expected = naive_blur_pool(x, factor, module.order)
        got = module(torch.from_numpy(x))[0].numpy()
        assert got.shape[-1] == time // factor == module.output_length(time)
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(seqdown.blur_pool(torch.from_numpy(x), factor, order).numpy(),
                                   expected, rtol=1e-12, atol=1e-12)


def test_blur_pool_default_order_has_at_least_three_taps():
    assert [seqdown.BlurPool(f).order + 1 for f in (1, 2, 3, 4)] == [3, 3, 5, 7]


@pytest.mark.parametrize("factor", [2, 3, 4])
def test_blur_pool_aliases_less_than_max_pool(factor, tone_gain_db):
    """Tones above the output Nyquist: BlurPool leaves less alias energy than MaxPool.

    Up to 1.5 times the output Nyquist the blur removes at least 5 dB more (6-14 dB
    measured); towards the input Nyquist the dense max itself turns the tone into a
    slow envelope inside the passband, which no blur removes, and the two meet.
    """

    def through(module: seqdown.FrontEnd):
        return lambda x: module(torch.from_numpy(x).view(1, 1, -1))[0].flatten().numpy()

    nyquist = 0.5 / factor
    for position in [1.05, 1.2, 1.5, 1.8, 1.95]:
        blur = tone_gain_db(through(seqdown.BlurPool(factor)), position * nyquist)
        peak = tone_gain_db(through(seqdown.MaxPool(factor)), position * nyquist)
        margin = 5.0 if position <= 1.5 else 0.0
        assert blur < peak - margin, f"{position}: blur {blur:.1f} dB vs max {peak:.1f} dB"


@pytest.mark.parametrize("factor", [1, 2, 3])
@pytest.mark.parametrize("pad_remainder", [False, True], ids=["floor", "ceil"])
def test_frame_stack_matches_loop(factor, pad_remainder, rng):
    for time in [1, 5, 6, 11]:
        x = rng.standard_normal((2, 3, time))
        steps = seqdown.stack_length(time, factor, pad_remainder)
        if steps == 0:  # as FrameStack without lengths: no output step is an error
            with pytest.raises(ValueError, match=f"needs at least min_length={factor}"):
                seqdown.frame_stack(torch.from_numpy(x), factor, pad_remainder)
            continue
        padded = np.concatenate([x, np.zeros((2, 3, factor))], axis=-1)
        expected = np.zeros((2, 3 * factor, steps))
        for t in range(steps):
            expected[:, :, t] = np.concatenate([padded[:, :, t * factor + j]
                                                for j in range(factor)], axis=1)
        got = seqdown.frame_stack(torch.from_numpy(x), factor, pad_remainder)
        assert got.shape == (2, 3 * factor, steps)
        np.testing.assert_array_equal(got.numpy(), expected)


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("levels", [(4, 2, 1), (3,), (1, 5)], ids=str)
def test_pyramid_pool_equals_adaptive_pool_per_item(mode, levels):
    torch.manual_seed(0)
    adaptive = F.adaptive_max_pool1d if mode == "max" else F.adaptive_avg_pool1d
    x = torch.randn(5, 3, 23, dtype=torch.float64)
    lengths = torch.tensor([23, 1, 2, 10, 0])
    garbage = x.clone()
    for b, n in enumerate(lengths.tolist()):  # padding must not leak, whatever it holds
        garbage[b, :, n:] = float("nan")
    module = seqdown.PyramidPool(levels, mode)
    y, none = module(garbage, lengths)
    assert none is None
    assert y.shape == (5, 3 * sum(levels))
    for b, n in enumerate(lengths.tolist()):
        if n == 0:
            assert (y[b] == 0).all()
            continue
        item = x[b : b + 1, :, :n]
        expected = torch.cat([adaptive(item, bins).flatten(1) for bins in levels], dim=1)
        torch.testing.assert_close(y[b : b + 1], expected, atol=1e-12, rtol=1e-12)
    torch.testing.assert_close(module(x)[0], torch.cat(
        [adaptive(x, bins).flatten(1) for bins in levels], dim=1))


def test_pyramid_pool_contract():
    module = seqdown.PyramidPool()
    assert module.factor is None and module.receptive_field is None
    assert module.output_length(0) == 0 and module.output_length(7) == 1
    assert module.output_length(torch.tensor([0, 3])).tolist() == [0, 1]
    assert module.output_channels(80) == 560
    with pytest.raises(ValueError, match="at least 1 time step"):
        module(torch.randn(2, 3, 0))
    y, _ = module(torch.randn(2, 3, 0), torch.tensor([0, 0]))
    assert (y == 0).all() and y.shape == (2, 21)

"""The polyphase engine against a naive loop over its defining sum."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seqdown.dsp.polyphase import polyphase_kernel, polyphase_resample


def naive(x: np.ndarray, taps: np.ndarray, up: int, down: int) -> np.ndarray:
    """y[t] = up * sum_i x[i] * taps[i * up - t * down + half], the resample_poly definition."""
    half = taps.size // 2
    n_out = -(-x.size * up // down)
    y = np.zeros(n_out)
    for t in range(n_out):
        for i in range(x.size):
            k = i * up - t * down + half
            if 0 <= k < taps.size:
                y[t] += up * x[i] * taps[k]
    return y


@pytest.mark.parametrize(("up", "down"), [(1, 2), (1, 3), (2, 1), (3, 2), (2, 5), (7, 3)], ids=str)
@pytest.mark.parametrize("block", [1, 2, 4, None], ids=lambda b: f"block{b}")
@pytest.mark.parametrize("taps_size", [1, 5, 23])
def test_matches_naive_sum(up, down, block, taps_size, rng):
    taps = rng.standard_normal(taps_size)
    kernel = polyphase_kernel(taps, up, down, block)
    for time in [1, 2, 9, 31]:
        x = rng.standard_normal(time)
        got = polyphase_resample(torch.from_numpy(x)[None], kernel)[0].numpy()
        np.testing.assert_allclose(got, naive(x, taps, up, down), rtol=1e-10, atol=1e-12)


def test_span_is_the_largest_phase_support():
    taps = np.ones(9)
    assert polyphase_kernel(taps, 1, 2).span == 9
    assert polyphase_kernel(taps, 2, 1).span == 5  # phases see 5 and 4 of the 9 taps


@pytest.mark.parametrize("chunk_floats", [1, 50, 333])
@pytest.mark.parametrize(("up", "down"), [(1, 3), (3, 2), (2, 1)], ids=str)
def test_chunked_path_matches_naive_sum(up, down, chunk_floats, rng, monkeypatch):
    """Long inputs run in chunks; force tiny chunks and compare with the definition."""
    from seqdown.dsp import polyphase

    monkeypatch.setattr(polyphase, "_ONE_SHOT_FLOATS", 0)
    monkeypatch.setattr(polyphase, "_CHUNK_FLOATS", chunk_floats)
    taps = rng.standard_normal(23)
    kernel = polyphase_kernel(taps, up, down)
    for time in [1, 40, 97]:
        x = rng.standard_normal((2, time))
        got = polyphase_resample(torch.from_numpy(x), kernel).numpy()
        for row in range(2):
            np.testing.assert_allclose(got[row], naive(x[row], taps, up, down), rtol=1e-10,
                                       atol=1e-12)


@pytest.mark.parametrize("factor", [2, 3, 4, 5])
@pytest.mark.parametrize("taps_size", [1, 5, 23, 31])
@pytest.mark.parametrize("padtype", ["constant", "line"])
def test_depthwise_decimation_matches_the_polyphase_layout(factor, taps_size, padtype, rng,
                                                           monkeypatch):
    """Many rows take the depthwise path (interior convolution on x itself, padded ends);
    it computes the same sums as the blocked layout, which the naive loop checks above."""
    from seqdown.dsp import polyphase

    taps = rng.standard_normal(taps_size)
    kernel = polyphase_kernel(taps, 1, factor)
    for time in [1, 2, factor, taps_size - 1 or 1, taps_size, taps_size + factor + 1, 200]:
        x = torch.from_numpy(rng.standard_normal((polyphase._DEPTHWISE_ROWS, time)) + 1.0)
        depthwise = polyphase_resample(x, kernel, padtype=padtype)
        with monkeypatch.context() as patch:
            patch.setattr(polyphase, "_DEPTHWISE_ROWS", 1 << 30)
            blocked = polyphase_resample(x, kernel, padtype=padtype)
        torch.testing.assert_close(depthwise, blocked, rtol=1e-10, atol=1e-12)
        if padtype == "constant":
            np.testing.assert_allclose(depthwise[3].numpy(), naive(x[3].numpy(), taps, 1, factor),
                                       rtol=1e-10, atol=1e-12)

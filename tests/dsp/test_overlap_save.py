"""The overlap-save FFT engine against resample_poly with the same filter, on every block layout."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import signal

from seqdown.dsp import overlap_save as engine
from seqdown.dsp.engine import fft_error_bound
from seqdown.dsp.filters import design_sinc
from seqdown.dsp.overlap_save import overlap_save_plan, overlap_save_resample

RATIOS = [(1, 2), (1, 3), (2, 1), (3, 2), (2, 3), (160, 441), (3, 1), (7, 5)]


def reference(x: np.ndarray, up: int, down: int, attenuation: float) -> np.ndarray:
    taps = design_sinc(up, down, attenuation=attenuation, transition=0.1).taps(up)
    return signal.resample_poly(x, up, down, axis=-1, window=taps)


@pytest.mark.parametrize(("up", "down"), RATIOS, ids=str)
@pytest.mark.parametrize("layout", ["default", "tiny blocks"])
def test_matches_resample_poly_up_to_the_stopband(up, down, layout, rng, monkeypatch):
    """Tiny blocks and groups force many head, body and tail blocks on short inputs."""
    if layout == "tiny blocks":
        monkeypatch.setattr(engine, "_TARGET_BLOCK", 8)
        monkeypatch.setattr(engine, "_GROUP_VALUES", 1)
    taps = design_sinc(up, down, attenuation=100.0, transition=0.1).taps()
    plan = overlap_save_plan(taps, up, down)
    assert plan.size % down == 0 and plan.hop % down == 0 and plan.hop > 0
    assert plan.size - plan.hop >= taps.size  # the overlap covers the filter span
    for time in [0, 1, 2, down, down + 1, 97, 2 * plan.size + 5]:
        x = rng.standard_normal((3, time))
        got = overlap_save_resample(torch.from_numpy(x), plan).numpy()
        assert got.shape == (3, -(-time * up // down))
        if time:
            error = np.abs(got - reference(x, up, down, 100.0)).max()
            assert error <= fft_error_bound(100.0) * np.sqrt(np.mean(x**2)), (time, error)


def test_decimation_runs_the_design_lowpass_filter(rng):
    """up == 1: the block response is design_lowpass's; impulses show the taps themselves."""
    from seqdown.dsp.filters import design_lowpass

    taps = design_lowpass(1, 3, attenuation=120.0, transition=0.1)
    plan = overlap_save_plan(taps, 1, 3)
    half = taps.size // 2
    x = torch.zeros(1, 3 * 400, dtype=torch.float64)
    x[0, 600] = 1.0  # lands on output 200; y[t] = taps[600 - 3 t + half]
    y = overlap_save_resample(x, plan)[0]
    expected = torch.zeros_like(y)
    for t in range(y.numel()):
        if 0 <= 600 - 3 * t + half < taps.size:
            expected[t] = taps[600 - 3 * t + half]
    torch.testing.assert_close(y, expected, atol=1e-6, rtol=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dtype_is_kept(dtype):
    plan = overlap_save_plan(design_sinc(160, 441).taps(), 160, 441)
    y = overlap_save_resample(torch.randn(2, 5000, dtype=dtype), plan)
    assert y.dtype == dtype and y.shape == (2, 1815)

"""Extreme decimation in two stages: the spec, the composite filter, edges, streams, memory."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import torch

import seqdown
from seqdown.dsp.cascade import CASCADE_MIN_TAPS, cascade_factor, estimated_taps, stage_specs
from seqdown.dsp.engine import fft_error_bound, resample_rows, resampling_plan
from seqdown.dsp.filters import MAX_ATTENUATION, RESAMPLE_ATTENUATION, RESAMPLE_TRANSITION
from seqdown.dsp.rates import rate_ratio
from seqdown.dsp.streaming import StreamingResampler

SPEC = (RESAMPLE_ATTENUATION, RESAMPLE_TRANSITION)
#: Pairs beyond one stage's reach at the default spec (one stage: over 131072 taps).
EXTREME = [(768000, 1), (768000, 100), (767999, 100), (767999, 1), (96000, 16), (48000, 8),
           (44100, 40), (96001, 7), (768000, 599)]
MIB = 1 << 20


@pytest.mark.parametrize(("orig", "new"), EXTREME, ids=str)
def test_auto_runs_two_stages_that_compose_to_the_ratio(orig, new):
    up, down = rate_ratio(orig, new)
    assert estimated_taps(up, down, *SPEC) > CASCADE_MIN_TAPS
    plan = resampling_plan(up, down, *SPEC)
    assert plan.method == "cascade" and plan.stages is not None and plan.layout is not None
    first, second = plan.stages
    layout = plan.layout
    assert Fraction(first.up, first.down) / layout.factor == Fraction(up, down)
    assert (second.up, second.down) == (1, layout.factor)
    assert first.method != "cascade" and second.method != "cascade"
    # Stage 1 sees only its extension beyond `lead`; stage 2's grid starts at -back.
    assert layout.lead % first.down == 0 and layout.lead > first.span
    assert layout.back % layout.factor == 0 and layout.back >= second.span
    assert plan.nbytes < 16 * MIB  # 120 million taps in one stage for 768 kHz -> 1 Hz
    assert max(first.span, second.span) < CASCADE_MIN_TAPS


def test_one_stage_below_the_threshold():
    assert resampling_plan(*rate_ratio(767999, 1000), *SPEC).method == "table"
    assert resampling_plan(*rate_ratio(48000, 100), *SPEC).method == "fft"


@pytest.mark.parametrize(("up", "down", "method"),
                         [(1, 2, "fft"), (1, 3, "fft"), (2, 5, "fft"), (1, 4, "cascade")])
def test_a_long_filter_runs_two_stages_only_from_a_decimation_by_4(up, down, method):
    """A strict spec needs a long filter at any ratio; below ``down = 4 * up`` there is no
    intermediate rate to go through, so ``"auto"`` runs it in one stage."""
    spec = (120.0, 0.0002)
    assert estimated_taps(up, down, *spec) > CASCADE_MIN_TAPS
    assert resampling_plan(up, down, *spec).method == method


def test_factor_keeps_both_filters_short():
    """The factor minimises the two estimated lengths together (checked by brute force)."""
    for up, down in [(1, 768000), (1, 6000), (100, 767999), (1, 120)]:
        factor = cascade_factor(up, down, *SPEC)

        def total(m: int, up: int = up, down: int = down) -> int:
            (a1, t1), (a2, t2) = stage_specs(*SPEC, m)
            return estimated_taps(up * m, down, a1, t1) + estimated_taps(1, m, a2, t2)

        candidates = [2**k for k in range(1, 30) if 2 ** (k + 1) * up <= down]
        assert factor in candidates
        assert total(factor) == min(total(m) for m in candidates)
    # The values cascade_factor's docstring states.
    assert cascade_factor(1, 768000, *SPEC) == 256 and cascade_factor(1, 6000, *SPEC) == 32


def test_stage_specs_keep_the_product_of_passbands_within_the_spec():
    (a1, t1), (a2, t2) = stage_specs(120.0, 0.1, 8)
    assert a1 == a2 == 120.0 + 6.1 and t2 == 0.1
    assert t1 == pytest.approx(1 - 0.9 / 8)  # flat to the same (1 - 0.1) * f_out / 2
    ripple = 10 ** (-a1 / 20)
    assert (1 + ripple) ** 2 - 1 < 10 ** (-120 / 20)
    assert stage_specs(199.0, 0.1, 8)[0][0] < MAX_ATTENUATION  # still a valid design


def tone_errors(orig: int, new: int, seconds: float,
                method: str = "auto") -> tuple[float, float]:
    """Worst passband error and worst alias (amplitudes re. a unit tone) in the interior."""
    up, down = rate_ratio(orig, new)
    plan = resampling_plan(up, down, *SPEC, method)
    t = np.arange(int(orig * seconds)) / orig
    edge = math.ceil(plan.span / 2 * new / orig) + 2
    nyquist = min(orig, new) / 2
    passband = [0.01, 0.3, 0.6, 0.89, 0.9]
    stopband = [1.0, 1.05, 2.5, 30.0, orig / 2 / nyquist * 0.5, orig / 2 / nyquist * 0.99]
    tones = np.stack([np.cos(2 * np.pi * f * nyquist * t) for f in passband + stopband])
    y = seqdown.resample(torch.from_numpy(tones), orig, new, method=method).numpy()
    assert y.shape[-1] - 2 * edge > 20, "too short an interior to measure"
    steps = np.arange(y.shape[-1]) / new
    ideal = np.cos(2 * np.pi * np.array(passband)[:, None] * nyquist * steps)
    worst_pass = float(np.abs(y[: len(passband)] - ideal)[:, edge:-edge].max())
    worst_alias = float(np.abs(y[len(passband):])[:, edge:-edge].max())
    return worst_pass, worst_alias


@pytest.mark.parametrize(("orig", "new", "seconds", "method"), [
    (48000, 400, 4.0, "cascade"),  # forced, stage 1 pure decimation
    (44100, 300, 4.0, "cascade"),  # forced, stage 1 rational (u1 > 1)
    pytest.param(96000, 16, 40.0, "auto", marks=pytest.mark.slow),
    pytest.param(767999, 100, 4.0, "auto", marks=pytest.mark.slow),  # tabulated stage 1
], ids=str)
def test_tones_meet_the_spec(orig, new, seconds, method):
    """Flat to 0.9 of the output Nyquist, 120 dB down from it, in float64."""
    worst_pass, worst_alias = tone_errors(orig, new, seconds, method)
    limit = 10 ** (-RESAMPLE_ATTENUATION / 20)
    assert worst_pass <= limit, f"passband {20 * math.log10(worst_pass):.1f} dB"
    assert worst_alias <= limit, f"alias {20 * math.log10(worst_alias):.1f} dB"


def composite_reference(x: np.ndarray, h1: np.ndarray, down1: int, h2: np.ndarray,
                        factor: int) -> np.ndarray:
    """The two filters applied to the zero-extended signal, by full convolutions.

    Stage 1 keeps every intermediate sample whose window touches ``x`` (negative
    indices included), stage 2 every output of ``resample_length``.
    """
    half1, half2 = h1.size // 2, h2.size // 2
    full = np.convolve(x, h1)  # full[m] = sum_i x[i] h1[m - i]; z[k] = full[k * down1 + half1]
    first_k = -(half1 // down1)
    ks = np.arange(first_k, (x.size - 1 + half1) // down1 + 1)
    z = full[ks * down1 + half1]
    second = np.convolve(z, h2)  # y[j] = second[j * factor - first_k + half2]
    n_out = -(-x.size // (down1 * factor))
    index = np.arange(n_out) * factor - first_k + half2
    return np.where(index < second.size, second[np.minimum(index, second.size - 1)], 0.0)


@pytest.mark.parametrize("time", [1, 119, 120, 121, 5000, 20011])
def test_equals_the_composite_filter_edges_included(time, rng):
    """Against two numpy convolutions: the whole output, the first and last samples too."""
    plan = resampling_plan(1, 120, *SPEC, "cascade")
    first, second = plan.stages
    assert first.up == 1  # the reference handles a pure decimation in stage 1
    x = rng.standard_normal((2, time))
    y = resample_rows(torch.from_numpy(x), plan).numpy()
    for row in range(2):
        expected = composite_reference(x[row], first.taps(), first.down, second.taps(),
                                       second.down)
        assert y[row].shape == expected.shape
        # Each FFT stage equals its taps up to fft_error_bound of its input's RMS (at most
        # 1 here: unit noise, then its low-passed part).
        bound = 2 * fft_error_bound(first.attenuation)
        np.testing.assert_allclose(y[row], expected, rtol=0, atol=bound)


@pytest.mark.parametrize("padtype", ["edge", "line", "smooth", "mean", "maximum", "minimum"])
@pytest.mark.parametrize(("up", "down"), [(1, 120), (10, 1470)], ids=str)
def test_a_constant_stays_constant_at_the_edges(padtype, up, down):
    plan = resampling_plan(up, down, *SPEC, "cascade")
    x = torch.full((1, 30001), 3.0, dtype=torch.float64)
    y = resample_rows(x, plan, padtype)
    torch.testing.assert_close(y, torch.full_like(y, 3.0), rtol=0, atol=1e-9)
    # With zeros beyond the ends the filter's tails dip at both edges.
    dipped = resample_rows(x, plan, "constant")
    assert dipped[0, 0] < 2.0 and dipped[0, -1] < 2.0


@pytest.mark.parametrize("padtype", ["line", "smooth"])
@pytest.mark.parametrize(("up", "down"), [(1, 120), (10, 1470)], ids=str)
def test_a_line_stays_a_line_at_the_intermediate_times(padtype, up, down):
    """Both stages pass a line; its continuation past the ends is evaluated at the
    intermediate rate's times, so the output lies on the line at ``j * down / up``."""
    plan = resampling_plan(up, down, *SPEC, "cascade")
    t = torch.arange(30001, dtype=torch.float64)
    y = resample_rows((2.0 + 1e-3 * t)[None], plan, padtype)[0]
    expected = 2.0 + 1e-3 * torch.arange(y.numel(), dtype=torch.float64) * down / up
    # A linear-phase low-pass passes a line up to its stopband level times the line's
    # rise over the filter (about 1e-3 * span here).
    tolerance = 1e-3 * plan.span * 10 ** (-RESAMPLE_ATTENUATION / 20) * 10
    torch.testing.assert_close(y, expected, rtol=0, atol=tolerance)


@pytest.mark.parametrize(("orig", "new", "time"), [(96000, 16, 400000), (767999, 100, 900000),
                                                   (768000, 1, 900000), (44100, 300, 44100)],
                         ids=str)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_streaming_resampler_equals_the_one_shot_path(orig, new, time, dtype):
    x = torch.randn(2, time, generator=torch.Generator().manual_seed(orig)).to(dtype)
    expected = seqdown.resample(x, orig, new)
    stream = StreamingResampler(orig, new)
    assert stream.plan.method == ("fft" if new == 300 else "cascade")  # 44100 -> 300: one stage
    sizes = np.random.default_rng(new).choice([1, 7, 4410, 100000, 300000], size=200)
    pieces, start, held = [], 0, 0
    for size in sizes:
        pieces.append(stream.process(x[:, start : start + int(size)]))
        held = max(held, stream.buffered)
        start += int(size)
        if start >= time:
            break
    pieces.append(stream.flush())
    y = torch.cat(pieces, dim=1)
    assert y.shape == expected.shape and stream.samples_out == expected.shape[1]
    # Both stages run the one-shot path's own blocks on its samples (FFT calls over other
    # groups of blocks may round differently).
    tolerance = (1e-12 if dtype == torch.float64 else 1e-6) * float(expected.abs().max())
    torch.testing.assert_close(y, expected, rtol=0, atol=tolerance)
    # Bounded state while streaming, whatever was pushed (chunks of up to 300000 samples):
    # below both stages' windows (measured 0.59-0.91 of them), not the input seen.
    assert held < stream.window


def test_cascade_stream_ready_is_a_function_of_n():
    """``ready(n)`` is what a push of ``n`` samples returns, asked before or after it."""
    from seqdown.dsp.streaming import CascadeStream

    stream = CascadeStream(resampling_plan(*rate_ratio(16000, 10), *SPEC))
    asked = [stream.ready(n) for n in (1000, 3_000_000)]
    pushed = stream.push(torch.zeros(1, 3_000_000)).shape[1]
    assert pushed == asked[1] > 0
    assert [stream.ready(n) for n in (1000, 3_000_000)] == asked


def test_extreme_ratios_no_longer_refused_but_one_engine_still_is():
    y = seqdown.resample(torch.randn(1, 768000), 768000, 1)
    assert y.shape == (1, 1) and torch.isfinite(y).all()
    with pytest.raises(ValueError, match=r"needs a filter of about \d+ input samples.*"
                                         r"method='auto' or 'cascade'"):
        seqdown.Resample(768000, 100, method="fft")
    with pytest.raises(ValueError, match=r"even in two stages.*widen the transition"):
        seqdown.Resample(768000, 1, attenuation=199.9, transition=0.0001)
    with pytest.raises(ValueError, match=r"method='cascade' needs a decimation by at least 4"):
        seqdown.Resample(3, 1, method="cascade")
    with pytest.raises(ValueError, match=r"runs in two stages, not one filter"):
        _ = seqdown.Resample(96000, 16).taps


@pytest.mark.parametrize("padtype", ["constant", "line", "mean"])
def test_gradcheck(padtype):
    plan = resampling_plan(1, 8, 60.0, 0.3, "cascade")
    x = torch.randn(2, 61, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: resample_rows(x, plan, padtype), (x,))

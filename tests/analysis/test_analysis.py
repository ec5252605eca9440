"""seqdown.analysis against independent computations, the plot, and ``seqdown analyze``."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from scipy import signal

from seqdown import (
    AvgPool,
    Chain,
    Decimate,
    MaxPool,
    PyramidPool,
    Resample,
    StridedConv,
    build_frontend,
    design_lowpass,
)
from seqdown.analysis.measurement import Measurement, measure, shift_change, tone_sweep

SAMPLE_RATE = 16000
KEYS = [
    "sample_rate", "factor", "output_sample_rate", "receptive_field", "min_length",
    "delay_samples", "passband_deviation_db_to_80pct_nyquist",
    "passband_deviation_db_to_90pct_nyquist", "worst_alias_db_from_100pct_nyquist",
    "worst_alias_db_from_110pct_nyquist", "worst_alias_db_from_125pct_nyquist",
    "worst_dc_db_from_100pct_nyquist", "shift_change_db",
]


def response_db(taps: np.ndarray, cycles: np.ndarray) -> np.ndarray:
    """20 log10 |H| of an FIR at frequencies in cycles per sample, by scipy.signal.freqz."""
    _, h = signal.freqz(taps, worN=2 * np.pi * cycles)
    return 20 * np.log10(np.maximum(np.abs(h), 1e-15))


def folds_onto_dc(ratios: np.ndarray) -> np.ndarray:
    """Tones at even multiples of the output Nyquist frequency: sampling puts them at 0 Hz."""
    return (ratios > 0) & np.isclose((ratios + 1) % 2, 1)


def expected_figures(ratios: np.ndarray, gain_db: np.ndarray) -> dict[str, float]:
    """The passband and alias figures of a linear front-end from its response on the tone grid.

    A linear front-end turns a tone above the output Nyquist frequency into its
    alias at the same gain, a DC offset if the alias lands on 0 Hz.
    """
    def furthest(limit):
        chosen = gain_db[ratios <= limit + 1e-9]
        return chosen[np.argmax(np.abs(chosen))]

    aliases = np.where(folds_onto_dc(ratios), -np.inf, gain_db)
    return {
        "passband_deviation_db_to_80pct_nyquist": furthest(0.8),
        "passband_deviation_db_to_90pct_nyquist": furthest(0.9),
        "worst_alias_db_from_100pct_nyquist": aliases[ratios >= 1 - 1e-9].max(),
        "worst_alias_db_from_110pct_nyquist": aliases[ratios >= 1.1 - 1e-9].max(),
        "worst_alias_db_from_125pct_nyquist": aliases[ratios >= 1.25 - 1e-9].max(),
    }


def assert_linear_response(frontend, expected_db):
    """measure(frontend) agrees with ``expected_db(cycles per input sample)`` on every figure."""
    result = measure(frontend, SAMPLE_RATE)
    sweep = result.sweep
    expected = expected_db(sweep.frequencies / SAMPLE_RATE)
    below, dc = sweep.ratios < 1, folds_onto_dc(sweep.ratios)
    np.testing.assert_allclose(sweep.gain_db[below], expected[below], atol=1e-6)
    # Linear: nothing but the tone below the output Nyquist frequency (the -300 dB floor
    # is not reached because of float64 round-off, hence -200).
    assert (sweep.alias_db[below] < -200).all()
    assert (sweep.dc_db[below & (sweep.ratios > 0)] < -200).all()
    # Zeros of the response (e.g. AvgPool(2) at the input Nyquist frequency) measure as
    # round-off, so levels below -200 dB are compared as -200 dB. Removing the DC
    # estimate's leakage (< -92 dB) from a folded tone near 0 Hz moves its power by up to
    # a few 1e-6 dB, hence the looser tolerance above the Nyquist frequency.
    above = ~below & ~dc
    np.testing.assert_allclose(np.maximum(sweep.alias_db[above], -200),
                               np.maximum(expected[above], -200), atol=1e-4)
    np.testing.assert_allclose(np.maximum(sweep.dc_db[dc], -200), np.maximum(expected[dc], -200),
                               atol=1e-6)
    assert (sweep.alias_db[dc] < -200).all()
    # Elsewhere the DC estimate only sees the Blackman-Harris window's leakage (< -92 dB).
    assert (sweep.dc_db[above] < expected[above] - 85).all()
    for key, value in expected_figures(sweep.ratios, expected).items():
        assert getattr(result, key) == pytest.approx(value, abs=1e-4), key
    return result


# ---------------------------------------------------------------- linear front-ends vs scipy


@pytest.mark.parametrize(("factor", "attenuation", "transition"),
                         [(2, 60.0, 0.5), (3, 60.0, 0.5), (4, 80.0, 0.2), (5, 40.0, 0.3)],
                         ids=["2-default", "3-default", "4-80dB-0.2", "5-40dB-0.3"])
def test_decimate_matches_freqz_of_its_taps(factor, attenuation, transition):
    taps = design_lowpass(1, factor, attenuation=attenuation, transition=transition)
    # method="direct" runs exactly these taps (the FFT path is within its own error bound,
    # tested in tests/dsp), so the measured response must be freqz's to 1e-6 dB.
    result = assert_linear_response(Decimate(factor, attenuation, transition, method="direct"),
                                    lambda cycles: response_db(taps, cycles))
    # The spec, read back: every alias at least `attenuation` dB down, zero delay.
    assert result.worst_alias_db_from_100pct_nyquist <= -attenuation
    assert result.delay_samples == pytest.approx(0, abs=1e-9)


@pytest.mark.parametrize("kernel_size", [2, 3, 4, 5], ids=lambda k: f"k{k}")
def test_avg_pool_matches_the_box_filter(kernel_size):
    def box_db(cycles):
        with np.errstate(invalid="ignore", divide="ignore"):
            gain = np.sin(np.pi * cycles * kernel_size) / (kernel_size * np.sin(np.pi * cycles))
        gain = np.where(cycles == 0, 1.0, gain)
        return 20 * np.log10(np.maximum(np.abs(gain), 1e-15))

    result = assert_linear_response(AvgPool(kernel_size), box_db)
    # Averages x[t k] ... x[t k + k - 1]: centred (k - 1) / 2 after t k, i.e. leading.
    assert result.delay_samples == pytest.approx(-(kernel_size - 1) / 2, abs=1e-9)


def test_chain_of_linear_stages_multiplies_their_responses():
    taps = design_lowpass(1, 2, attenuation=60, transition=0.5)

    def chain_db(cycles):
        # Decimate's output carries the tone at 2 * cycles per step (folded), then AvgPool(2).
        folded = np.abs((2 * cycles + 0.5) % 1 - 0.5)
        avg = np.where(folded == 0, 1.0, np.abs(np.cos(np.pi * folded)))
        return response_db(taps, cycles) + 20 * np.log10(np.maximum(avg, 1e-15))

    result = assert_linear_response(Chain(Decimate(2), AvgPool(2)), chain_db)
    assert result.delay_samples == pytest.approx(-1.0, abs=1e-9)  # -0.5 steps at half the rate
    assert result.factor == 4
    assert result.receptive_field == Chain(Decimate(2), AvgPool(2)).receptive_field


def test_rational_resample_matches_freqz():
    # Resample(3, 2): the filter runs at twice the input rate, on the zero-stuffed input
    # whose tone is 1/2 as loud, and is scaled by up = 2: the tone's gain is H(f / 2).
    # Unlike a decimator it also leaves the zero-stuffing's image of each tone, at least
    # `attenuation` dB down, so below the output Nyquist frequency there is a residual.
    taps = design_lowpass(2, 3, attenuation=60, transition=0.3)
    result = measure(Resample(3, 2, attenuation=60, transition=0.3), SAMPLE_RATE)
    sweep = result.sweep
    below = sweep.ratios < 1
    expected = response_db(taps, sweep.frequencies / SAMPLE_RATE / 2)
    np.testing.assert_allclose(sweep.gain_db[below], expected[below], atol=1e-6)
    assert sweep.alias_db[below].max() < -60
    figures = expected_figures(sweep.ratios, expected)
    for key in ("passband_deviation_db_to_80pct_nyquist", "passband_deviation_db_to_90pct_nyquist"):
        assert getattr(result, key) == pytest.approx(figures[key], abs=1e-6)
    assert result.worst_alias_db_from_100pct_nyquist < -60 + 3  # folded tone and image, each -60
    assert result.factor == 1.5 and result.output_sample_rate == SAMPLE_RATE / 1.5


@pytest.mark.parametrize(("kernel_size", "stride"), [(2, 2), (3, 2), (4, 3)],
                         ids=["k2-s2", "k3-s2", "k4-s3"])
def test_strided_conv_is_measured_with_its_weights(kernel_size, stride):
    torch.manual_seed(kernel_size)
    conv = StridedConv(1, 1, kernel_size, stride)  # with a bias: the output for silence
    weights = conv.weight.detach().double().flatten().numpy()

    def correlation(cycles):
        # y[t] = sum_j w[j] x[t s + j]: the response is sum_j w[j] exp(+2 pi i f j).
        return np.exp(2j * np.pi * np.outer(cycles, np.arange(kernel_size))) @ weights

    result = assert_linear_response(
        conv, lambda cycles: 20 * np.log10(np.maximum(np.abs(correlation(cycles)), 1e-15)))
    low = result.sweep.frequencies[1:3] / SAMPLE_RATE
    phase = np.angle(correlation(low))
    group_delay = -np.angle(np.exp(1j * (phase[1] - phase[0]))) / (2 * np.pi * (low[1] - low[0]))
    assert result.delay_samples == pytest.approx(group_delay, abs=1e-6)


def test_identity_passes_everything_and_has_no_alias_range():
    result = measure(Chain(), SAMPLE_RATE)
    assert result.factor == 1 and result.delay_samples == 0
    assert result.passband_deviation_db_to_90pct_nyquist == pytest.approx(0, abs=1e-9)
    assert result.worst_alias_db_from_100pct_nyquist is None
    assert result.worst_alias_db_from_125pct_nyquist is None
    assert result.shift_change_db < -250  # a one-sample move is a one-step delay


# ---------------------------------------------------------------- non-linear front-ends


def test_max_pool_aliases_and_rectifies():
    result = measure(MaxPool(2), SAMPLE_RATE)
    sweep = result.sweep
    # Far from an anti-aliasing filter: high tones fold back a few dB down, and the max
    # rectifies them into a DC offset of about their own level.
    assert result.worst_alias_db_from_100pct_nyquist > -6
    assert result.worst_dc_db_from_100pct_nyquist > -3
    assert -3 < result.passband_deviation_db_to_80pct_nyquist < 0
    assert sweep.alias_db[1:4].max() < -30  # the lowest tones pass almost clean


@pytest.mark.parametrize("factor", [2, 3, 4], ids=lambda f: f"factor{f}")
def test_blur_pool_aliases_less_and_is_more_shift_consistent_than_max_pool(factor):
    # Zhang (2019)'s claims, read off the figures; the DC offset of the max stays.
    blur, peak = measure(build_frontend(f"blur:{factor}"), SAMPLE_RATE), measure(MaxPool(factor),
                                                                                 SAMPLE_RATE)
    assert blur.worst_alias_db_from_100pct_nyquist < peak.worst_alias_db_from_100pct_nyquist - 2.5
    assert blur.shift_change_db < peak.shift_change_db - 5
    assert blur.worst_dc_db_from_100pct_nyquist == pytest.approx(
        peak.worst_dc_db_from_100pct_nyquist, abs=0.5)


@pytest.mark.parametrize("factor", [2, 3], ids=lambda f: f"factor{f}")
def test_shift_change_of_avg_pool_matches_its_aliasing(factor):
    # For periodic white noise, the change equals the alias energy of the box filter
    # weighted by |1 - exp(-2 pi i k / factor)|^2 for the k-th alias band (the terms of
    # different bands are uncorrelated), divided by the output energy. Computed here on
    # a dense grid with the analytic box response.
    cycles = (np.arange(200000) + 0.5) / 400000  # (0, 0.5)
    power = (np.sin(np.pi * cycles * factor) / (factor * np.sin(np.pi * cycles))) ** 2
    band = np.floor(2 * cycles * factor).astype(int)  # half-bands of width 1 / (2 factor)
    k = (band + 1) // 2  # alias order of each half-band
    weight = np.abs(1 - np.exp(-2j * np.pi * k / factor)) ** 2
    expected = 10 * np.log10((weight * power).sum() / power.sum())
    # One noise realisation of 1024 output steps: its spectrum is flat, but the bands
    # mix with random phases in the output energy, hence a tenth of a dB.
    assert shift_change(AvgPool(factor)) == pytest.approx(expected, abs=0.2)


def test_decimate_is_shift_consistent_to_its_attenuation():
    assert shift_change(Decimate(2)) < -55
    assert shift_change(Decimate(2, attenuation=100, transition=0.1)) < -90


# ---------------------------------------------------------------- the result and bad args


def test_as_dict_has_the_documented_keys_and_is_json():
    result = measure(build_frontend("decimate:2+max:2"), SAMPLE_RATE)
    data = result.as_dict()
    assert list(data) == KEYS
    assert json.loads(json.dumps(data, allow_nan=False)) == data
    assert isinstance(result, Measurement) and "sweep" not in data
    assert data["factor"] == 4 and data["output_sample_rate"] == 4000


def test_measure_leaves_the_frontend_as_it_was():
    torch.manual_seed(0)
    conv = StridedConv(3, 3, 2, 2).train()
    before = conv.weight.detach().clone()
    measure(conv, SAMPLE_RATE, channels=3)
    assert conv.weight.dtype == torch.float32 and conv.training
    assert torch.equal(conv.weight.detach(), before)


def test_tone_grid_and_sample_rate():
    sweep = tone_sweep(Decimate(3), 22050)
    assert sweep.output_nyquist == pytest.approx(22050 / 6)
    np.testing.assert_allclose(sweep.frequencies, sweep.ratios * 22050 / 6)
    assert sweep.ratios[0] == 0 and sweep.ratios[-1] < 3
    np.testing.assert_allclose(np.diff(sweep.ratios), 1 / 80)
    assert np.isnan(sweep.gain_db[sweep.ratios >= 1]).all()


@pytest.mark.parametrize(("frontend", "kwargs", "error", "match"), [
    (torch.nn.Identity(), {}, TypeError, "frontend must be a seqdown FrontEnd, got Identity"),
    (PyramidPool(), {}, ValueError, "must keep a time axis"),
    (Resample(8000, 16000), {}, ValueError, r"factor >= 1.*got factor 1/2"),
    (MaxPool(2), {"sample_rate": 0}, ValueError, "sample_rate must be > 0.0, got 0.0"),
    (MaxPool(2), {"sample_rate": float("nan")}, ValueError, "sample_rate must be > 0.0"),
    (MaxPool(2), {"channels": 0}, ValueError, "channels must be a positive integer, got 0"),
    (StridedConv(4, 4, 2, 2), {}, ValueError, "in_channels=4"),
], ids=["not-frontend", "pyramid", "upsampling", "rate-0", "rate-nan", "channels-0",
        "conv-channels"])
def test_bad_args(frontend, kwargs, error, match):
    kwargs = {"sample_rate": SAMPLE_RATE, **kwargs}
    with pytest.raises(error, match=match):
        measure(frontend, **kwargs)


# ---------------------------------------------------------------- plot and command


def is_png(path) -> bool:
    from matplotlib.image import imread

    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and imread(path).shape[0] > 100


def test_plot_measurements(tmp_path):
    from seqdown.analysis.plotting import plot_measurements

    results = {spec: measure(build_frontend(spec), SAMPLE_RATE) for spec in ("max:2", "decimate:3")}
    path = plot_measurements(results, tmp_path / "cmp.png")
    assert is_png(path)
    with pytest.raises(ValueError, match="at least one front-end"):
        plot_measurements({}, tmp_path / "none.png")


def seqdown(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "seqdown", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=120)


def test_analyze_command_prints_writes_and_plots(tmp_path):
    specs = ["max:2", "decimate:2", "conv:2+avg:2"]
    done = seqdown("analyze", *specs, "--sample-rate", "8000", "--channels", "3",
                   "--json", "out.json", "--plot", "out.png", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    rows = [line.split()[0] for line in done.stdout.splitlines() if line.strip()]
    assert all(spec in rows for spec in specs)
    data = json.loads((tmp_path / "out.json").read_text())
    assert list(data) == specs
    for spec in specs:
        torch.manual_seed(0)  # --seed 0, the default
        expected = measure(build_frontend(spec, channels=3), 8000, channels=3).as_dict()
        assert list(data[spec]) == KEYS
        assert data[spec] == pytest.approx(expected, abs=1e-9)
    assert is_png(tmp_path / "out.png")


@pytest.mark.parametrize(("args", "match"), [
    (["bogus:2"], "unknown front-end 'bogus'"),
    (["max:0"], "needs a positive integer factor"),
    (["max:2", "max:2"], "each spec may be given once"),
    (["max:2", "--sample-rate", "0"], "sample_rate must be > 0"),
    (["conv:2", "--channels", "0"], "channels must be a positive integer"),
    (["--sample-rate", "8000"], "the following arguments are required: SPEC"),
], ids=["unknown", "factor-0", "duplicate", "rate-0", "channels-0", "no-spec"])
def test_analyze_command_usage_errors(tmp_path, args, match):
    done = seqdown("analyze", *args, cwd=tmp_path)
    assert done.returncode == 2
    assert match in done.stderr
    assert list(tmp_path.iterdir()) == []


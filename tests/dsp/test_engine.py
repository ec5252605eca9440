"""Plan choice, bounded memory for every ratio, dtypes, autograd and devices of the engine."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
import torch

import seqdown
from seqdown.dsp.engine import fft_error_bound, resample_rows, resampling_plan
from seqdown.dsp.filters import DECIMATE_ATTENUATION, DECIMATE_TRANSITION, RESAMPLE_PRESETS
from seqdown.dsp.rates import rate_ratio

FIVE = [(48000, 16000), (44100, 16000), (22050, 16000), (16000, 8000), (8000, 16000)]
ODD = [(16001, 16000), (44100, 44099), (48000, 44101), (22254, 16000), (11127, 8000),
       (47999, 48000)]
#: Ratios whose FFT blocks would be large: the tabulated filter runs them.
HUGE = [(767999, 768000), (384001, 384000), (1, 768000), (96001, 8000), (767999, 1000)]
MIB = 1 << 20
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.mark.parametrize("factor", [2, 3, 4, 5, 6, 8])
def test_decimate_defaults_run_the_exact_path(factor):
    plan = resampling_plan(1, factor, DECIMATE_ATTENUATION, DECIMATE_TRANSITION)
    assert plan.method == "direct"
    assert seqdown.Decimate(factor).method == "direct"


@pytest.mark.parametrize(("orig", "new"), FIVE + ODD, ids=str)
@pytest.mark.parametrize("quality", ["hq", "vhq"])
def test_waveform_defaults_run_the_fft_path_in_bounded_memory(orig, new, quality):
    plan = resampling_plan(*rate_ratio(orig, new), *RESAMPLE_PRESETS[quality])
    assert plan.method == "fft"
    assert plan.fft is not None
    assert plan.nbytes < 64 * MIB  # the filter's spectrum on the kept bins
    # One block: at most a few times max(down, default block) samples, whatever up * down.
    assert plan.fft.size <= 4 * max(plan.down, 8192)
    assert plan.fft.size % plan.down == 0 and plan.fft.hop > 0


@pytest.mark.parametrize(("orig", "new"), HUGE, ids=str)
def test_huge_terms_run_the_table_in_bounded_memory(orig, new):
    plan = resampling_plan(*rate_ratio(orig, new), *RESAMPLE_PRESETS["hq"])
    assert plan.method == "table"
    assert plan.nbytes < 64 * MIB


@pytest.mark.parametrize(("up", "down"), [(160, 441), (2, 25), (1000, 96001)], ids=str)
def test_table_matches_the_fft_path(up, down, rng):
    """Both run the same design_sinc filter: the table adds its interpolation error.

    The ratios cover overlapping windows (down < 4 up) and windows far apart.
    """
    x = torch.from_numpy(rng.standard_normal((2, max(5000, 3 * down))))
    fft = resample_rows(x, resampling_plan(up, down, 120.0, 0.1, "fft"))
    table = resample_rows(x, resampling_plan(up, down, 120.0, 0.1, "table"))
    assert (fft - table).abs().max() <= 2 * fft_error_bound(120.0)


def test_direct_method_refuses_huge_kernels():
    with pytest.raises(ValueError, match=r"method='direct' for up=16000, down=16001 needs .* MiB"):
        seqdown.Resample(16001, 16000, method="direct")
    with pytest.raises(ValueError, match=r"method must be one of 'auto', 'direct', 'fft'"):
        seqdown.Resample(16001, 16000, method="exact")


def test_plans_are_cached():
    assert resampling_plan(160, 441, 120.0, 0.1) is resampling_plan(320, 882, 120, 0.1)


PEAK_RSS = textwrap.dedent("""
    import json, pathlib, sys, torch, seqdown
    torch.set_num_threads(1)
    seqdown.resample(torch.randn(1, 4000), 3, 2)  # load the FFT and conv code first
    def peak():  # this process's own high-water mark (ru_maxrss counts the parent at fork)
        status = pathlib.Path("/proc/self/status").read_text().splitlines()
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))
    report = {}
    for orig, new in json.loads(sys.argv[1]):
        x = torch.randn(1, orig)  # one second
        before = peak()
        y = seqdown.resample(x, orig, new)
        assert y.shape == (1, new), (orig, new, y.shape)
        report[f"{orig}->{new}"] = peak() - before
    print(json.dumps(report))
""")


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_peak_memory_of_odd_ratios_in_a_subprocess():
    """The first 1 s call at an odd ratio (design included) adds little to the peak RSS.

    Before the FFT path, 16001 -> 16000 took 12.7 GB and 44100 -> 44099 was killed;
    767999 -> 1000 Hz (a 122k-tap filter, tabulated) took 160 MiB to design its table;
    768000 -> 1 Hz (two stages now) was refused: one stage needs 120 million taps.
    """
    ratios = [(16001, 16000), (44100, 44099), (48000, 44101), (767999, 768000), (1, 768000),
              (767999, 1000), (768000, 1001), (768000, 1), (767999, 100), (767999, 1),
              (96001, 7)]
    result = subprocess.run([sys.executable, "-c", PEAK_RSS, json.dumps(ratios)],
                            capture_output=True, text=True, check=True, timeout=300)
    growth = json.loads(result.stdout)
    for name, extra in growth.items():
        assert extra < 64 * MIB, f"{name}: peak RSS grew by {extra / MIB:.1f} MiB"


@pytest.mark.parametrize("method", ["direct", "fft"])
@pytest.mark.parametrize("padtype", ["constant", "line", "mean"])
def test_gradcheck(method, padtype):
    x = torch.randn(2, 41, dtype=torch.float64, requires_grad=True)
    plan = resampling_plan(2, 3, 60.0, 0.3, method)
    assert torch.autograd.gradcheck(lambda x: resample_rows(x, plan, padtype), (x,))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_dtypes(dtype):
    x = torch.randn(2, 4410, dtype=torch.float64)
    reference = seqdown.resample(x, 44100, 16000)
    y = seqdown.resample(x.to(dtype), 44100, 16000)
    assert y.dtype == dtype
    # float32 and below: rounding of the input, the FFTs and the output only.
    tolerance = {torch.float16: 2e-2, torch.bfloat16: 2e-2, torch.float32: 1e-5,
                 torch.float64: 0.0}[dtype]
    torch.testing.assert_close(y.double(), reference, atol=tolerance, rtol=tolerance)


@CUDA
@pytest.mark.parametrize(("orig", "new"), [(44100, 16000), (16001, 16000), (8000, 16000)],
                         ids=str)
def test_cuda_matches_cpu_and_keeps_autograd(orig, new):
    x = torch.randn(2, 3, orig // 4)
    module = seqdown.Resample(orig, new, padtype="line")
    expected, _ = module(x)
    got, _ = module.to("cuda")(x.cuda())
    torch.testing.assert_close(got.cpu(), expected, atol=1e-5, rtol=1e-5)
    leaf = x.cuda().double().requires_grad_()
    seqdown.resample(leaf, orig, new).sum().backward()
    assert leaf.grad is not None and leaf.grad.device.type == "cuda"


@CUDA
@pytest.mark.parametrize(("up", "down", "method"),
                         [(1, 2, "direct"), (1, 4, "direct"), (2, 3, "direct"), (160, 441, "fft"),
                          (2, 1, "fft"), (160, 441, "table"), (2, 25, "table"),
                          (1, 40, "cascade"), (3, 400, "cascade")], ids=str)
@pytest.mark.parametrize("padtype", ["constant", "line", "mean"])
def test_each_method_runs_on_cuda_with_autograd(up, down, method, padtype):
    """The same plan on CUDA gives the CPU's numbers, and gradients flow back on the GPU.

    Decimation of many rows covers the depthwise path of the direct method.
    """
    plan = resampling_plan(up, down, 60.0 if method == "direct" else 120.0, 0.3, method)
    x = torch.randn(20, 3 * max(down, 400), dtype=torch.float64)
    expected = resample_rows(x, plan, padtype)
    leaf = x.cuda().requires_grad_()
    got = resample_rows(leaf, plan, padtype)
    assert got.device.type == "cuda"
    torch.testing.assert_close(got.cpu(), expected, atol=1e-9, rtol=1e-9)
    got.square().sum().backward()
    cpu_leaf = x.clone().requires_grad_()
    resample_rows(cpu_leaf, plan, padtype).square().sum().backward()
    assert leaf.grad is not None and leaf.grad.device.type == "cuda"
    torch.testing.assert_close(leaf.grad.cpu(), cpu_leaf.grad, atol=1e-9, rtol=1e-9)


@CUDA
@pytest.mark.parametrize("factor", [2, 4])
def test_decimate_on_cuda_with_lengths_matches_cpu(factor):
    module = seqdown.Decimate(factor)
    x, lengths = torch.randn(32, 8, 300), torch.randint(1, 301, (32,))
    expected, expected_lengths = module(x, lengths)
    got, got_lengths = module.to("cuda")(x.cuda(), lengths.cuda())
    torch.testing.assert_close(got.cpu(), expected, atol=1e-5, rtol=1e-5)
    assert torch.equal(got_lengths.cpu(), expected_lengths)


@pytest.mark.parametrize(("up", "down", "method"), [(1, 2, "direct"), (1, 4, "direct"),
                                                   (2, 3, "direct"), (160, 441, "fft"),
                                                   (1, 40, "cascade")], ids=str)
def test_lengths_read_the_padding_as_zeros(up, down, method, rng):
    """Each item's valid outputs equal the item resampled alone; NaN in the padding stays out."""
    plan = resampling_plan(up, down, 60.0, 0.3, method)
    x = torch.from_numpy(rng.standard_normal((5, 3, 900)))
    lengths = torch.tensor([900, 0, 1, 457, 899])
    padded = x.clone()
    for b, n in enumerate(lengths.tolist()):
        padded[b, :, n:] = float("nan")
    y = resample_rows(padded, plan, lengths=lengths)
    assert y.shape == (5, 3, -(-900 * up // down))
    for b, n in enumerate(lengths.tolist()):
        m = -(-n * up // down)
        if m:
            alone = resample_rows(x[b, :, :n], plan)
            torch.testing.assert_close(y[b, :, :m], alone, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match=r"lengths needs padtype='constant'.*'edge'"):
        resample_rows(x, plan, "edge", lengths=lengths)
    for bad, got in ((lengths[:2], r"\(2,\)"), (lengths[None], r"\(1, 5\)")):
        with pytest.raises(ValueError, match=r"lengths must have shape \(x.shape\[0\],\).*"
                                             r"\(5, 3, 900\).*got " + got):
            resample_rows(x, plan, lengths=bad)
    with pytest.raises(ValueError, match=r"at least 2-D"):
        resample_rows(x[0, 0], plan, lengths=lengths[:1])
    for bad, got in ((torch.full((5,), -1), r"lengths must be >= 0, got -1"),
                     (torch.full((5,), 901), r"must be <= the time axis of x \(900\), got 901"),
                     (lengths.double(), r"lengths must be an integer tensor")):
        with pytest.raises((ValueError, TypeError), match=got):
            resample_rows(x, plan, lengths=bad)

"""The length algebra against the lengths torch and scipy actually produce."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import signal

from seqdown import lengths
from seqdown.lengths import (
    blur_pool_length,
    causal_delay,
    ceil_div,
    check_steps,
    composed_receptive_field,
    conv_length,
    kernel_span,
    lengths_to_mask,
    min_input_length,
    pool_length,
    ready_length,
    resample_length,
    stack_length,
    stepwise_lookahead,
    stft_frames,
    stream_lookahead,
    target_lengths,
    transposed_conv_length,
    upsample_length,
    valid_steps,
    window_start,
    window_stop,
)

LENGTHS = list(range(0, 26))


def torch_pool_length(n: int, kernel: int, stride: int, padding: int, dilation: int,
                      ceil_mode: bool) -> int:
    """What torch's max_pool1d returns, 0 where it refuses the input."""
    try:
        return F.max_pool1d(torch.zeros(1, 1, n), kernel, stride, padding, dilation,
                            ceil_mode).shape[-1]
    except RuntimeError:
        return 0


POOL_CASES = [
    (kernel, stride, padding, dilation, ceil_mode)
    for kernel, stride, dilation, ceil_mode in itertools.product(
        (1, 2, 3, 4, 5), (1, 2, 3, 4), (1, 2, 3), (False, True))
    for padding in range(kernel // 2 + 1)
]


@pytest.mark.parametrize(("kernel", "stride", "padding", "dilation", "ceil_mode"), POOL_CASES,
                         ids=lambda v: str(v))
def test_pool_length_matches_torch(kernel, stride, padding, dilation, ceil_mode):
    expected = [torch_pool_length(n, kernel, stride, padding, dilation, ceil_mode)
                for n in LENGTHS]
    got = [pool_length(n, kernel, stride, padding, dilation, ceil_mode) for n in LENGTHS]
    assert got == expected
    tensor = pool_length(torch.tensor(LENGTHS), kernel, stride, padding, dilation, ceil_mode)
    assert tensor.dtype == torch.int64
    assert tensor.tolist() == expected


@pytest.mark.parametrize(("kernel", "stride", "padding", "dilation"),
                         list(itertools.product((1, 2, 3, 5), (1, 2, 3), (0, 1, 3), (1, 2))))
def test_conv_length_matches_conv1d(kernel, stride, padding, dilation):
    for n in LENGTHS:
        try:
            expected = F.conv1d(torch.zeros(1, 1, n), torch.zeros(1, 1, kernel), None, stride,
                                padding, dilation).shape[-1]
        except RuntimeError:
            expected = 0
        if n == 0:
            expected = 0  # the contract: no input, no output (torch may pad an empty input)
        assert conv_length(n, kernel, stride, padding, dilation) == expected, n
        assert int(conv_length(torch.tensor(n), kernel, stride, padding, dilation)) == expected


@pytest.mark.parametrize(("up", "down"), [(1, 2), (1, 3), (2, 1), (160, 441), (3, 2), (1, 1)])
def test_resample_length_matches_resample_poly(up, down):
    for n in [0, 1, 2, 3, 5, 7, 97, 441, 442]:
        expected = signal.resample_poly(np.ones(n), up, down).size if n else 0
        assert resample_length(n, up, down) == expected


@pytest.mark.parametrize("factor", [1, 2, 3, 7])
@pytest.mark.parametrize("pad_remainder", [False, True], ids=["floor", "ceil"])
def test_stack_length(factor, pad_remainder):
    for n in LENGTHS:
        groups = [n_ for n_ in range(0, n, factor) if pad_remainder or n_ + factor <= n]
        assert stack_length(n, factor, pad_remainder) == len(groups)


def test_rules_never_negative_and_zero_for_empty():
    n = torch.arange(0, 4)
    assert (conv_length(n, 9, 2) == 0).all()
    assert pool_length(0, 2, 1, padding=1) == 0  # torch would pad an empty input to 1 output
    assert resample_length(0, 3, 1) == 0
    assert stack_length(0, 2, True) == 0


@pytest.mark.parametrize("a", range(-7, 8))
@pytest.mark.parametrize("b", [1, 2, 3, 5])
def test_ceil_div(a, b):
    assert ceil_div(a, b) == int(np.ceil(a / b))


@pytest.mark.parametrize(("rule", "expected"), [
    (lambda n: conv_length(n, 5, 2), 5),
    (lambda n: pool_length(n, 3, 2, ceil_mode=True), 2),
    (lambda n: n // 1000, 1000),
    (lambda n: n, 1),
], ids=["conv-5", "ceil-pool-3", "floor-1000", "identity"])
def test_min_input_length_is_the_first_length_with_output(rule, expected):
    brute = next(n for n in range(1, 5000) if rule(n) >= 1)
    assert min_input_length(rule) == brute == expected


def test_min_input_length_rejects_a_rule_that_never_outputs():
    with pytest.raises(ValueError, match="never reaches 1"):
        min_input_length(lambda n: 0)


def test_lengths_to_mask_matches_loop():
    lengths = torch.tensor([0, 3, 5, 1])
    mask = lengths_to_mask(lengths, 6)
    expected = [[t < n for t in range(6)] for n in lengths.tolist()]
    assert mask.dtype == torch.bool
    assert mask.tolist() == expected
    assert lengths_to_mask(lengths).shape == (4, 5)
    assert lengths_to_mask(torch.zeros(0, dtype=torch.long)).shape == (0, 0)


@pytest.mark.parametrize(("lengths", "max_length", "error", "match"), [
    (torch.tensor([1.0]), None, TypeError, "integer tensor"),
    (torch.tensor([[1]]), None, ValueError, r"shape \(batch,\)"),
    (torch.tensor([-1, 2]), None, ValueError, ">= 0, got -1"),
    (torch.tensor([4]), 3, ValueError, r"<= max_length \(3\), got 4"),
    (torch.tensor([1]), -2, ValueError, "max_length must be an integer >= 0, got -2"),
], ids=["float", "2-d", "negative", "too-long", "bad-max"])
def test_lengths_to_mask_bad_args(lengths, max_length, error, match):
    with pytest.raises(error, match=match):
        lengths_to_mask(lengths, max_length)


def windows_by_loop(t: int, up: int, down: int, left: int, span: int) -> list[int]:
    """The input steps output ``t`` reads, by brute force: ``i`` with ``i * up`` in the
    window ``[t * down - left, t * down - left + span)`` of the upsampled input."""
    return [i for i in range(-50, 200) if 0 <= i * up - (t * down - left) < span]


GEOMETRIES = [(1, 2, 1, 3), (1, 3, 0, 3), (1, 2, 15, 31), (3, 2, 4, 9), (2, 1, 1, 2),
              (4, 2, 10, 16), (160, 441, 300, 601), (1, 1, 0, 1)]


@pytest.mark.parametrize(("up", "down", "left", "span"), GEOMETRIES, ids=str)
def test_window_start_and_window_stop_match_a_loop(up, down, left, span):
    for t in range(12):
        inside = windows_by_loop(t, up, down, left, span)
        if inside:
            assert window_start(t, up, down, left) == inside[0]
            assert window_stop(t, up, down, left, span) == inside[-1] + 1
    ts = torch.arange(12)
    assert window_start(ts, up, down, left).tolist() == [
        window_start(t, up, down, left) for t in range(12)]


@pytest.mark.parametrize(("up", "down", "left", "span"), GEOMETRIES, ids=str)
def test_ready_length_counts_complete_windows(up, down, left, span):
    for n in range(40):
        complete = sum(1 for t in range(200) if window_stop(t, up, down, left, span) <= n)
        assert ready_length(n, up, down, left, span) == complete
    n = torch.arange(40)
    assert ready_length(n, up, down, left, span).tolist() == [
        ready_length(k, up, down, left, span) for k in range(40)]


@pytest.mark.parametrize(("left", "span"), [(15, 31), (0, 2), (1, 3), (2, 3), (0, 1), (3, 4)])
def test_causal_delay_moves_the_window_end_to_the_output(left, span):
    delay = causal_delay(left, span)
    for t in range(5):
        last = window_stop(t, 1, 2, left, span) - 1 - delay  # in undelayed input steps
        assert last <= t * 2
        assert delay == 0 or last == t * 2


def test_stream_lookahead_matches_brute_force():
    def brute(emitted, length, horizon):
        return min(lag for lag in range(horizon + 1)
                   if all(emitted(n) >= length(max(n - lag, 0)) for n in range(horizon)))

    rules = [(lambda n: max(0, (n - 1) // 2), lambda n: ceil_div(n, 2)),
             (lambda n: n // 3, lambda n: n // 3),
             (lambda n: max(0, (n - 15) // 2 + 1) if n < 40 else ceil_div(n, 2),
              lambda n: ceil_div(n, 2)),
             (lambda n: 0, lambda n: min(n, 1))]
    for emitted, length in rules:
        assert stream_lookahead(emitted, length, 64) == brute(emitted, length, 64)


def test_stepwise_lookahead_matches_stream_lookahead():
    """Checked only before the changes, with bisection: the same as the loop over every n."""
    rules = [(lambda n: max(0, (n - 1) // 2), lambda n: ceil_div(n, 2), range(1, 400, 2)),
             (lambda n: 7 * max(0, (n - 30) // 11 + 1), lambda n: ceil_div(7 * n, 11),
              range(30, 400, 11)),
             (lambda n: 0 if n < 97 else ceil_div(n, 5), lambda n: ceil_div(n, 5), [97]),
             (lambda n: 3 * (n // 9), lambda n: n // 3, range(0, 400, 9))]
    for emitted, length, events in rules:
        assert stepwise_lookahead(emitted, length, events) == stream_lookahead(emitted, length,
                                                                               400)


def test_every_rule_has_a_reference_test():
    """Each law of lengths.__all__ is checked here against what torch, scipy or a loop does."""
    tests = [name for name in globals() if name.startswith("test_")]
    untested = [rule for rule in lengths.__all__ if rule != "Length"
                and not any(f"test_{rule}_" in f"{test}_" or f"_{rule}_" in f"{test}_"
                            for test in tests)]
    assert untested == []


@pytest.mark.parametrize(("kernel", "dilation"),
                         list(itertools.product((1, 2, 3, 5), (1, 2, 3))))
def test_kernel_span_is_the_shortest_input_conv1d_accepts(kernel, dilation):
    weight = torch.ones(1, 1, kernel)
    span = kernel_span(kernel, dilation)
    assert F.conv1d(torch.zeros(1, 1, span), weight, dilation=dilation).shape[-1] == 1
    with pytest.raises(RuntimeError):
        F.conv1d(torch.zeros(1, 1, span - 1), weight, dilation=dilation)


@pytest.mark.parametrize("factor", [1, 2, 3, 5])
def test_upsample_length_matches_nn_upsample(factor):
    upsample = torch.nn.Upsample(scale_factor=factor)
    for n in range(1, 12):
        assert upsample_length(n, factor) == upsample(torch.zeros(1, 1, n)).shape[-1]
    assert upsample_length(0, factor) == 0


@pytest.mark.parametrize(("kernel", "stride", "padding"),
                         [(k, s, p) for k in (1, 2, 3, 4, 5) for s in (1, 2, 3)
                          for p in range((k - 1) // 2 + 1)])
def test_transposed_conv_length_matches_conv_transpose1d(kernel, stride, padding):
    conv = torch.nn.ConvTranspose1d(1, 1, kernel, stride, padding)
    for n in range(1, 10):
        assert transposed_conv_length(n, kernel, stride, padding) == \
            conv(torch.zeros(1, 1, n)).shape[-1]
    assert transposed_conv_length(0, kernel, stride, padding) == 0


def test_target_lengths_matches_loop():
    out = torch.tensor([38, 20, 0, 37])
    for target in (None, 0, 19, 37, 40):
        expected = [n if target is None else min(n, target) for n in out.tolist()]
        assert target_lengths(out, target).tolist() == expected
        assert [target_lengths(n, target) for n in out.tolist()] == expected


@pytest.mark.parametrize(("n_fft", "hop"), [(400, 160), (512, 128), (16, 5), (7, 3)])
def test_stft_frames_matches_torch_stft(n_fft, hop):
    for n in [0, 1, n_fft // 2, n_fft // 2 + 1, n_fft - 1, n_fft, 3 * n_fft + 7]:
        expected = 0
        if n > n_fft // 2:  # reflect padding needs more samples than the pad
            expected = torch.stft(torch.zeros(n), n_fft, hop, window=torch.ones(n_fft),
                                  center=True, return_complex=True).shape[-1]
        assert stft_frames(n, n_fft, hop) == expected
    tensor = stft_frames(torch.tensor([0, n_fft, 3 * n_fft]), n_fft, hop)
    assert tensor.tolist() == [stft_frames(n, n_fft, hop) for n in (0, n_fft, 3 * n_fft)]


def test_valid_steps_matches_loop():
    lengths_ = torch.tensor([0, 3, 5])
    expected = [[t < n for t in range(5)] for n in lengths_.tolist()]
    assert valid_steps(lengths_, 5).tolist() == expected


@pytest.mark.parametrize("factor", [1, 2, 3, 4])
def test_blur_pool_length_matches_its_torch_ops(factor):
    """Dense max (stride 1), a same-length blur, then every factor-th step."""
    for n in range(0, 14):
        if n < factor:
            expected = 0
        else:
            dense = F.max_pool1d(torch.zeros(1, 1, n), factor, 1)
            expected = dense[..., ::factor].shape[-1]
        assert blur_pool_length(n, factor) == expected


@pytest.mark.parametrize("stages", [
    [(3, 1), (3, 1)], [(4, 2), (2, 2)], [(31, 2), (2, 2), (3, 3)], [(5, 1)], [],
], ids=str)
def test_composed_receptive_field_matches_the_gradient_support(stages):
    """Average pools with the given windows and strides: an output step's nonzero
    gradient spans exactly the composed receptive field."""
    x = torch.zeros(1, 1, 400, requires_grad=True)
    y = x
    for kernel, stride in stages:
        y = F.avg_pool1d(y, kernel, stride)
    y[0, 0, y.shape[-1] // 2].backward()
    support = torch.nonzero(x.grad[0, 0]).flatten()
    assert int(support.max() - support.min()) + 1 == composed_receptive_field(stages)


@pytest.mark.parametrize("n", [2.5, True, "3", None, torch.tensor([2.0]), torch.tensor([True])],
                         ids=repr)
def test_check_steps_refuses_what_no_rule_can_count(n):
    with pytest.raises(TypeError, match="n must be an int or an integer tensor"):
        check_steps(n)
    with pytest.raises(TypeError, match="n must be an int or an integer tensor"):
        conv_length(n, 3)


def test_check_steps_accepts_ints_and_integer_tensors():
    for n in (0, 7, torch.tensor([3, 0]), torch.tensor([3], dtype=torch.int32)):
        check_steps(n)

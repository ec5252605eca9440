"""MaxPool and AvgPool against torch.nn, and how much they alias."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from torch import nn

import seqdown

MAX_CASES = [
    pytest.param(seqdown.MaxPool(k, s, p, d, c), nn.MaxPool1d(k, s, p, d, ceil_mode=c),
                 id=f"max-k{k}-s{s}-p{p}-d{d}-{'ceil' if c else 'floor'}")
    for k, s, d, c in itertools.product((1, 2, 3, 5), (None, 1, 2, 3), (1, 2), (False, True))
    for p in range(k // 2 + 1)
]
AVG_CASES = [
    pytest.param(seqdown.AvgPool(k, s, p, c, i), nn.AvgPool1d(k, s, p, c, i),
                 id=f"avg-k{k}-s{s}-p{p}-{'ceil' if c else 'floor'}-{'incl' if i else 'excl'}")
    for k, s, c, i in itertools.product((1, 2, 3, 4), (None, 1, 2, 3), (False, True),
                                        (False, True))
    for p in range(k // 2 + 1)
]
TIMES = [1, 2, 3, 7, 11, 16]


@pytest.mark.parametrize(("ours", "reference"), MAX_CASES + AVG_CASES)
def test_pooling_equals_torch(ours, reference):
    for time in TIMES:
        x = torch.randn(2, 3, time)
        if ours.output_length(time) < 1:
            with pytest.raises(RuntimeError):
                reference(x)
            continue
        assert torch.equal(ours(x)[0], reference(x))
        # The padded-batch path (the avg divisor per item) agrees on full-length items.
        y, _ = ours(x, torch.full((2,), time))
        torch.testing.assert_close(y, reference(x), atol=1e-6, rtol=1e-6)


def test_avgpool_divisor_for_a_short_item_is_the_items_own():
    # Item 1 is 3 steps long inside a batch of 8: its last window (ceil mode, overhang
    # past the padding) must be divided by the count torch uses for a 3-step input.
    pool = seqdown.AvgPool(2, 2, padding=1, ceil_mode=True, count_include_pad=False)
    x = torch.arange(16.0).view(2, 1, 8)
    y, out = pool(x, torch.tensor([8, 3]))
    alone = nn.AvgPool1d(2, 2, 1, ceil_mode=True, count_include_pad=False)(x[1:, :, :3])
    assert out.tolist() == [5, 2]
    torch.testing.assert_close(y[1:, :, :2], alone)


def test_lookahead_as_the_readme_states():
    """``padding``, up to ``stride - 1`` more with ``ceil_mode`` (every extra seen), and 0
    when causal with ``2 * padding`` below the kernel's span."""
    extras: dict[int, set[int]] = {}
    for k, s, d, ceil in itertools.product((1, 2, 3, 4, 5), (1, 2, 3, 4), (1, 2), (False, True)):
        for p in range(k // 2 + 1):
            ops = [seqdown.MaxPool(k, s, p, d, ceil)]
            if d == 1:  # AvgPool has no dilation
                ops.append(seqdown.AvgPool(k, s, p, ceil))
            for op in ops:
                extra = op.lookahead - p
                assert extra == 0 or (ceil and 0 < extra < s), (k, s, p, d, ceil)
                extras.setdefault(s, set()).add(extra)
            if not ceil and 2 * p < d * (k - 1) + 1:
                assert seqdown.MaxPool(k, s, p, d, causal=True).lookahead == 0
    assert all(extras[s] == set(range(s)) for s in extras)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("kernel", [4, 64])
def test_avgpool_padded_batch_sums_half_precision_in_float32(dtype, kernel):
    """With lengths, each window is summed in float32 as avg_pool1d does alone: a padded
    item matches itself alone to the output's rounding (tap-by-tap sums in bfloat16 were
    off by up to 18 times that)."""
    x = (torch.randn(2, 8, 512, generator=torch.Generator().manual_seed(kernel)) + 10).to(dtype)
    lengths = torch.tensor([512, 384])
    module = seqdown.AvgPool(kernel)
    y, out = module(x, lengths)
    for b, n in enumerate(lengths.tolist()):
        alone = module(x[b : b + 1, :, :n])[0]
        torch.testing.assert_close(y[b : b + 1, :, : int(out[b])].float(), alone.float(),
                                   rtol=torch.finfo(dtype).eps, atol=0)


@pytest.mark.parametrize("frontend", [seqdown.MaxPool(2), seqdown.AvgPool(2)], ids=["max", "avg"])
def test_gradients_flow_only_into_valid_steps(frontend):
    x = torch.randn(2, 3, 10, requires_grad=True)
    y, _ = frontend(x, torch.tensor([10, 5]))
    y.sum().backward()
    assert (x.grad[1, :, 5:] == 0).all()
    assert x.grad[1, :, :4].abs().sum() > 0


def test_pooling_aliases(tone_gain_db):
    """Pooling does not low-pass: a tone above the output Nyquist comes through, folded.

    For factor 2 and a tone at 0.35 cycles/sample (0.7 of the input Nyquist, 1.4
    of the output Nyquist), plain striding passes it at 0 dB, average pooling at
    |cos(pi * 0.35)| (-6.9 dB), and max pooling leaves -4.5 dB of alias energy.
    """
    stride = tone_gain_db(lambda x: x[::2], 0.35, ratio=0.5)
    avg = tone_gain_db(lambda x: seqdown.AvgPool(2)(torch.tensor(x).view(1, 1, -1))[0].flatten(),
                       0.35, ratio=0.5)
    peak = tone_gain_db(lambda x: seqdown.MaxPool(2)(torch.tensor(x).view(1, 1, -1))[0].flatten(),
                        0.35)
    assert stride == pytest.approx(0.0, abs=1e-6)
    assert avg == pytest.approx(20 * np.log10(abs(np.cos(np.pi * 0.35))), abs=1e-6)
    assert peak == pytest.approx(-4.5, abs=0.5)

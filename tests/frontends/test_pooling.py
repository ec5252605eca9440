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

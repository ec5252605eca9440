"""RNNEncoder: padding never reaches the recurrent state; empty items are zeros."""

from __future__ import annotations

import pytest
import torch

import seqdown


@pytest.mark.parametrize("frontend", [None, "decimate:2+max:2", "stack:3", "conv:2"],
                         ids=str)
@pytest.mark.parametrize(("rnn", "bidirectional"), [("lstm", False), ("gru", True)],
                         ids=["lstm", "bigru"])
def test_batch_invariance(frontend, rnn, bidirectional):
    torch.manual_seed(0)
    encoder = seqdown.RNNEncoder(6, 8, frontend, rnn=rnn, num_layers=2,
                                 bidirectional=bidirectional).double().eval()
    x = torch.randn(5, 6, 37, dtype=torch.float64)
    lengths = torch.tensor([37, 1, 0, 20, 3])
    garbage = x.clone()
    for b, n in enumerate(lengths.tolist()):
        garbage[b, :, n:] = float("nan")
    y, out = encoder(garbage, lengths)
    assert y.shape == (5, encoder.output_length(37), 8 * (2 if bidirectional else 1))
    assert out.tolist() == [encoder.output_length(n) for n in lengths.tolist()]
    assert torch.isfinite(y).all()
    for b, n in enumerate(lengths.tolist()):
        m = int(out[b])
        assert (y[b, m:] == 0).all()
        if m:
            alone, _ = encoder(x[b : b + 1, :, :n])
            torch.testing.assert_close(y[b : b + 1, :m], alone, atol=1e-10, rtol=1e-10)


def test_all_items_empty_gives_zeros_not_nan():
    encoder = seqdown.RNNEncoder(4, 5, "max:4")
    y, out = encoder(torch.randn(2, 4, 3), torch.tensor([3, 2]))
    assert y.shape == (2, 0, 5) and out.tolist() == [0, 0]


def test_gradients_reach_the_frontend_and_not_the_padding():
    torch.manual_seed(0)
    encoder = seqdown.RNNEncoder(4, 5, "conv:2")
    x = torch.randn(2, 4, 12, requires_grad=True)
    y, _ = encoder(x, torch.tensor([12, 6]))
    y.sum().backward()
    assert encoder.frontend[0].weight.grad.abs().sum() > 0
    assert (x.grad[1, :, 6:] == 0).all()


def test_frontend_and_sizes():
    encoder = seqdown.RNNEncoder(80, 32, seqdown.FrameStack(2), bidirectional=True)
    assert encoder.rnn.input_size == 160
    assert encoder.output_size == 64 and encoder.factor == 2
    y, out = encoder(torch.randn(1, 80, 9))
    assert y.shape == (1, 4, 64) and out is None


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"frontend": seqdown.PyramidPool()}, ValueError, "keep a time axis"),
    ({"frontend": torch.nn.Identity()}, TypeError, "FrontEnd, a spec string or None"),
    ({"frontend": "warp:2"}, ValueError, "unknown front-end 'warp'"),
    ({"rnn": "transformer"}, ValueError, "'lstm', 'gru', got 'transformer'"),
    ({"dropout": 1.0}, ValueError, r"dropout must be in \[0, 1\), got 1.0"),
], ids=["pyramid", "module", "spec", "rnn", "dropout"])
def test_bad_construction(kwargs, error, match):
    with pytest.raises(error, match=match):
        seqdown.RNNEncoder(4, 8, **kwargs)


def test_bad_input_channels():
    with pytest.raises(ValueError, match=r"input_size=4 channels.*got shape \(1, 3, 10\)"):
        seqdown.RNNEncoder(4, 8)(torch.randn(1, 3, 10))

"""StridedConv against F.conv1d, its initialisation and its gradients."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import seqdown


@pytest.mark.parametrize(("kernel", "stride", "padding", "dilation", "bias"),
                         list(itertools.product((1, 2, 3, 5), (1, 2, 3), (0, 2), (1, 2),
                                                (True, False))), ids=str)
def test_equals_conv1d(kernel, stride, padding, dilation, bias):
    torch.manual_seed(0)
    conv = seqdown.StridedConv(3, 4, kernel, stride, padding, dilation, bias)
    assert conv.weight.shape == (4, 3, kernel)
    assert (conv.bias is None) == (not bias)
    for time in (1, 4, 9, 17):
        x = torch.randn(2, 3, time)
        if conv.output_length(time) < 1:
            with pytest.raises(RuntimeError):
                F.conv1d(x, conv.weight, conv.bias, stride, padding, dilation)
            continue
        expected = F.conv1d(x, conv.weight, conv.bias, stride, padding, dilation)
        assert torch.equal(conv(x)[0], expected)


def test_initialisation_matches_nn_conv1d():
    torch.manual_seed(0)
    ours = seqdown.StridedConv(16, 32, 3, 2)
    bound = 1 / math.sqrt(16 * 3)
    assert ours.weight.abs().max() <= bound and ours.bias.abs().max() <= bound
    # Same distribution as nn.Conv1d: compare spreads on a large layer.
    torch.manual_seed(0)
    theirs = nn.Conv1d(256, 256, 3, 2)
    ours = seqdown.StridedConv(256, 256, 3, 2)
    assert ours.weight.std().item() == pytest.approx(theirs.weight.std().item(), rel=0.02)


def test_gradcheck():
    torch.manual_seed(0)
    conv = seqdown.StridedConv(2, 3, 3, 2, padding=1).double()
    x = torch.randn(2, 2, 9, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([9, 4])
    assert torch.autograd.gradcheck(lambda x, w: conv(x, lengths)[0], (x, conv.weight))

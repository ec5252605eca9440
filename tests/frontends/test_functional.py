"""Each functional form agrees with its Module: same shapes, same values, same short-input rule."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

import seqdown

#: (name, functional form, Module without lengths), each with its own parameters.
PAIRS: list[tuple[str, Callable[[torch.Tensor], torch.Tensor], seqdown.FrontEnd]] = [
    ("blur_pool(2)", lambda x: seqdown.blur_pool(x, 2), seqdown.BlurPool(2)),
    ("blur_pool(3, order=1)", lambda x: seqdown.blur_pool(x, 3, 1), seqdown.BlurPool(3, 1)),
    ("frame_stack(3)", lambda x: seqdown.frame_stack(x, 3), seqdown.FrameStack(3)),
    ("frame_stack(3, pad)", lambda x: seqdown.frame_stack(x, 3, True),
     seqdown.FrameStack(3, pad_remainder=True)),
    ("decimate(2)", lambda x: seqdown.decimate(x, 2), seqdown.Decimate(2)),
    ("resample(3, 2)", lambda x: seqdown.resample(x, 3, 2), seqdown.Resample(3, 2)),
    ("pyramid_pool((2, 1))", lambda x: seqdown.pyramid_pool(x, (2, 1)),
     seqdown.PyramidPool((2, 1))),
]


@pytest.mark.parametrize(("name", "function", "module"), PAIRS, ids=[p[0] for p in PAIRS])
def test_functional_form_agrees_with_its_module(name, function, module):
    torch.manual_seed(0)
    factor = module.factor or 1
    for time in sorted({0, 1, int(factor) - 1, module.min_length - 1, module.min_length, 7, 23}):
        if time < 0:
            continue
        x = torch.randn(2, 3, time)
        if module.output_length(time) < 1:
            with pytest.raises(ValueError) as refused:
                module(x)
            with pytest.raises(ValueError) as also_refused:
                function(x)
            # The same rule, naming the op as the function or the class does (the hint
            # after ';' differs: a function takes no lengths).
            rule, also = (str(e.value).split(";")[0].lower() for e in (refused, also_refused))
            assert also == rule
            continue
        expected = module(x)[0]
        torch.testing.assert_close(function(x), expected, rtol=0, atol=0)


def test_build_frontend_gives_each_stage_the_channels_before_it():
    encoder = seqdown.RNNEncoder(80, 8, frontend="stack:2+conv:2")
    assert encoder.frontend[1].in_channels == 160
    y, out = encoder(torch.randn(2, 80, 11), torch.tensor([11, 6]))
    assert y.shape == (2, 2, 8) and out.tolist() == [2, 1]


@pytest.mark.parametrize(("factor", "order"), [(2, None), (3, None), (2, 5), (4, 1)])
def test_blur_pool_receptive_field_is_its_gradient_support(factor, order):
    """The law in lengths.py is what the op actually reads: perturb by autograd."""
    blur = seqdown.BlurPool(factor, order).double()
    # A max passes the gradient to one step of its window; over many random inputs the
    # windows that one output step reads together cover its receptive field exactly.
    x = torch.randn(256, 1, 200, dtype=torch.float64, requires_grad=True)
    blur(x)[0][:, 0, 20].sum().backward()
    support = torch.nonzero(x.grad[:, 0].abs().sum(0)).flatten()
    assert int(support.max() - support.min()) + 1 == blur.receptive_field

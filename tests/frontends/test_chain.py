"""Chain composition and spec strings; receptive fields measured by perturbation."""

from __future__ import annotations

from fractions import Fraction

import pytest
import torch

import seqdown


def measured_receptive_field(frontend: seqdown.FrontEnd, time: int = 160) -> int:
    """Largest span of input steps that change one output step when each is perturbed alone."""
    torch.manual_seed(0)
    x = torch.randn(1, 2, time, dtype=torch.float64)
    frontend = frontend.double()
    base, _ = frontend(x)
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for i in range(time):
        bumped = x.clone()
        bumped[..., i] += 1e3
        changed = (frontend(bumped)[0] - base).abs().amax(dim=(0, 1)) > 0
        for t in torch.nonzero(changed).flatten().tolist():
            first.setdefault(t, i)
            last[t] = i
    return max(last[t] - first[t] + 1 for t in last)


def test_receptive_field_matches_measurement(any_frontend):
    frontend = any_frontend(2)
    assert frontend.receptive_field == measured_receptive_field(frontend)


@pytest.mark.parametrize("spec", ["max:2+max:3", "decimate:2+avg:2", "blur:2+stack:2",
                                  "avg:3+decimate:2+max:2"])
def test_chain_receptive_field_matches_measurement(spec):
    chain = seqdown.build_frontend(spec)
    assert chain.receptive_field == measured_receptive_field(chain, time=240)


def test_chain_composes_lengths_factor_and_min_length():
    stages = [seqdown.MaxPool(3, 2, padding=1, ceil_mode=True), seqdown.Decimate(3),
              seqdown.FrameStack(2)]
    chain = seqdown.Chain(*stages)
    assert chain.factor == 12
    for n in range(0, 60):
        expected = n
        for stage in stages:
            expected = stage.output_length(expected)
        assert chain.output_length(n) == expected
    assert chain.min_length == next(n for n in range(1, 100) if chain.output_length(n) >= 1)
    x = torch.randn(2, 4, 59)
    y, out = chain(x, torch.tensor([59, 13]))
    assert y.shape == (2, 8, chain.output_length(59))
    assert out.tolist() == [chain.output_length(59), chain.output_length(13)]


def test_chain_with_a_rational_stage():
    chain = seqdown.Chain(seqdown.Resample(3, 2), seqdown.MaxPool(2))
    assert chain.factor == Fraction(3)
    assert chain.output_length(9) == 3


def test_chain_too_short_names_the_chains_minimum():
    chain = seqdown.build_frontend("max:2+max:2")
    with pytest.raises(ValueError, match="Chain needs at least min_length=4"):
        chain(torch.randn(1, 1, 3))


def test_chain_ending_in_pyramid_pool():
    chain = seqdown.Chain(seqdown.MaxPool(2), seqdown.PyramidPool((2, 1)))
    y, out = chain(torch.randn(3, 4, 10), torch.tensor([10, 1, 3]))
    assert y.shape == (3, 12) and out is None
    assert (y[1] == 0).all()  # one step pools to nothing
    assert chain.factor is None and chain.receptive_field is None
    assert chain.lookahead is None  # as PyramidPool's own: the output waits for the item


@pytest.mark.parametrize(("spec", "types", "factor"), [
    ("max:2", [seqdown.MaxPool], 2),
    ("decimate:2+max:2", [seqdown.Decimate, seqdown.MaxPool], 4),
    (" AVG:3 + stack:2 ", [seqdown.AvgPool, seqdown.FrameStack], 6),
    ("blur:2+conv:3", [seqdown.BlurPool, seqdown.StridedConv], 6),
    ("none", [], 1),
], ids=str)
def test_build_frontend(spec, types, factor):
    chain = seqdown.build_frontend(spec, channels=8)
    assert [type(stage) for stage in chain.stages] == types
    assert chain.factor == factor
    assert chain.output_channels(8) == (16 if "stack" in spec.lower() else 8)


@pytest.mark.parametrize(("spec", "channels", "match"), [
    ("maxpool:2", None, r"unknown front-end 'maxpool'.*valid names: max, avg, conv, decimate, "
                        r"blur, stack"),
    ("max", None, r"needs a positive integer factor as max:FACTOR, got ''"),
    ("max:0", None, r"got '0'"),
    ("max:-2", None, r"got '-2'"),
    ("decimate:two", None, r"got 'two'; valid names"),
    ("max:2++avg:2", None, "unknown front-end ''"),
    ("conv:2", None, "needs channels="),
    ("", None, r"spec is empty \(''\); use 'none' for the identity"),
    ("  ", None, "spec is empty"),
], ids=lambda v: str(v)[:16] or "empty")
def test_build_frontend_errors(spec, channels, match):
    with pytest.raises(ValueError, match=match):
        seqdown.build_frontend(spec, channels)

"""``derived``: what is kept for a tensor, and when it is built again."""

from __future__ import annotations

import gc

import torch

from seqdown.dsp import derived as derived_module
from seqdown.dsp.derived import derived


def counting(build):
    """``build`` wrapped so that its calls are counted in ``calls``."""
    calls = []

    def run() -> torch.Tensor:
        calls.append(1)
        return build()

    return run, calls


def test_kept_per_source_and_key():
    source = torch.arange(4.0)
    build, calls = counting(lambda: source * 2)
    first = derived(source, "twice", build)
    assert derived(source, "twice", build) is first
    assert len(calls) == 1
    other, other_calls = counting(lambda: source + 1)
    torch.testing.assert_close(derived(source, "plus one", other), source + 1)
    assert len(other_calls) == 1
    assert derived(source.clone(), "twice", build) is not first  # another tensor, same values


def test_built_again_after_an_in_place_change():
    source = torch.arange(4.0)
    build, calls = counting(lambda: source * 2)
    derived(source, "twice", build)
    source.add_(1)
    torch.testing.assert_close(derived(source, "twice", build), (torch.arange(4.0) + 1) * 2)
    assert len(calls) == 2


def test_nothing_kept_with_grad_or_for_a_view_of_the_source():
    source = torch.arange(4.0, requires_grad=True)
    build, calls = counting(lambda: source * 2)
    derived(source, "twice", build)
    derived(source, "twice", build)
    assert len(calls) == 2
    plain = torch.arange(4.0)
    view, view_calls = counting(lambda: plain[1:])
    same, same_calls = counting(lambda: plain)
    for _ in range(2):
        derived(plain, "view", view)
        derived(plain, "same", same)
    assert len(view_calls) == len(same_calls) == 2


def test_freed_with_its_source():
    """The cache holds no reference to the source: the entry goes when the source does."""
    kept = len(derived_module._KEPT)
    source = torch.arange(4.0)
    twice = source * 2
    result = derived(source, "twice", lambda: twice)
    assert len(derived_module._KEPT) == kept + 1
    del source
    gc.collect()
    assert len(derived_module._KEPT) == kept
    assert result is twice and result.tolist() == [0.0, 2.0, 4.0, 6.0]  # still valid


def test_inference_mode():
    """An inference tensor has no version: nothing is kept for it. What is built for a
    plain tensor under inference mode is built outside it, so autograd can use it later."""
    with torch.inference_mode():
        frozen = torch.arange(4.0)
        build, calls = counting(lambda: frozen * 2)
        for _ in range(2):
            torch.testing.assert_close(derived(frozen, "twice", build), frozen * 2)
    assert len(calls) == 2
    plain = torch.arange(4.0)
    build, calls = counting(lambda: plain * 2)
    with torch.inference_mode():
        twice = derived(plain, "twice", build)
    assert not twice.is_inference() and derived(plain, "twice", build) is twice
    assert len(calls) == 1
    scale = torch.ones(4, requires_grad=True)
    (twice * scale).sum().backward()
    assert scale.grad is not None and scale.grad.tolist() == [0.0, 2.0, 4.0, 6.0]

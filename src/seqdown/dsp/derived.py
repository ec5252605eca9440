"""Tensors derived from another tensor, kept for as long as it lives and stays unchanged.

The direct engine derives a few small tensors from a Module's cached filter on every
call: the weight in the input's dtype, the taps, the banded matrices of the ends and
the flat layout's weight. Each costs tens of microseconds to build, a tenth of the
whole op on a feature batch; :func:`derived` builds each once per source tensor.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, MutableMapping
from typing import cast

import torch
from torch import Tensor
from torch.utils.weak import WeakIdKeyDictionary

from seqdown._validation import is_batched, is_tracing

__all__ = ["derived"]

#: Per source tensor (by identity, while it lives): its version and what was built from it.
_KEPT = cast(MutableMapping[Tensor, tuple[int, dict[Hashable, Tensor]]], WeakIdKeyDictionary())


def derived(source: Tensor, key: Hashable, build: Callable[[], Tensor]) -> Tensor:
    """``build()``, kept for ``source`` under ``key`` until it changes in place or is freed.

    Traced, under ``vmap``, or from a tensor that requires grad, nothing is kept (the
    result would hold fake tensors or a graph): ``build()`` runs each time. So it is
    for an inference tensor (one made under ``torch.inference_mode``), which has no
    version to tell a change by. Nor is a result kept that is ``source`` or a view of
    it (kept, it would keep ``source`` alive). Under ``torch.inference_mode``, a
    result to keep is built outside it, so that a later call that records autograd
    can use it.

    Args:
        source: the tensor the result is computed from.
        key: what distinguishes the results kept for one source (e.g. a dtype and shape).
        build: computes the result from ``source`` (and only from values fixed with ``key``).
    """
    if is_tracing() or is_batched(source) or source.requires_grad or source.is_inference():
        return build()
    version, kept = _KEPT.get(source, (None, None))
    if version != source._version or kept is None:
        kept = {}
        _KEPT[source] = (source._version, kept)
    result = kept.get(key)
    if result is None:
        with torch.inference_mode(False):
            result = build()
        # What holds its source would keep it alive: such a result (the source itself, a
        # view of it) is cheap, and is built again each time instead.
        if result is not source and result._base is not source:
            kept[key] = result
    return result

"""The resampling sum in direct form: what Decimate and Resample run when traced.

``scipy.signal.resample_poly`` with a centred filter ``h`` of odd length
``K = 2 * half + 1`` (scaled by ``up``) computes::

    y[t] = sum_i x[i] * h[i * up - t * down + half]

Written on the input zero-stuffed by ``up`` (``v[i * up] = x[i]``, zero between)
this is ``y[t] = sum_j v[j] * h[j - t * down + half]``: a correlation of ``v``,
padded with ``half`` zeros on each side, with ``h`` flipped, at stride ``down``.
Its length is ``floor((n * up - 1) / down) + 1 = ceil(n * up / down)``, the
:func:`~seqdown.lengths.resample_length` law, with no slicing. Every step is one
tensor op whose sizes are integer expressions of the input's length, so
``torch.export``, the dynamo ONNX exporter and ``torch.compile(dynamic=True)``
keep the time axis symbolic, which the polyphase engine's Python loop over
blocks would not.

It computes ``K`` products per output step (the polyphase engine ``K / up``), so
it is as cheap as the engine for decimation (``up = 1``) and ``up`` times dearer
for rational ratios; eager code uses the engine.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from seqdown.dsp.engine import compute_dtype

__all__ = ["TRACE_MAX_TAPS", "direct_resample", "direct_weight"]

#: The most taps a Module builds its direct form with (8 MiB in float64): beyond it (a
#: large ``up``, as for 16001 Hz -> 16000 Hz) the direct form would also zero-stuff the
#: input ``up`` times, so such ratios run eagerly only.
TRACE_MAX_TAPS = 1 << 20


def direct_weight(taps: np.ndarray, up: int) -> Tensor:
    """``(1, 1, K)`` float64 conv1d weight of :func:`direct_resample`: ``h * up``, flipped.

    Example:
        >>> direct_weight(np.array([0.25, 0.5, 0.25]), up=2).flatten().tolist()
        [0.5, 1.0, 0.5]
    """
    return torch.tensor(np.asarray(taps, dtype=np.float64)[::-1] * up).view(1, 1, -1)


def direct_resample(x: Tensor, weight: Tensor, up: int, down: int) -> Tensor:
    """Resamples ``(..., time)`` by ``up / down`` with :func:`direct_weight` taps.

    Args:
        x: ``(..., time)`` floating tensor; half precision is filtered in float32.
        weight: ``direct_weight(taps, up)``, any dtype and device.
        up: upsampling factor.
        down: downsampling factor.

    Returns:
        ``(..., ceil(time * up / down))``, ``x``'s dtype: ``resample_poly``'s numbers.

    Example:
        >>> x = torch.arange(5.0)
        >>> direct_resample(x, direct_weight(np.array([0.25, 0.5, 0.25]), 1), 1, 2).tolist()
        [0.25, 2.0, 2.75]
    """
    compute = compute_dtype(x)
    time = x.shape[-1]
    rows = x.reshape(-1, 1, time).to(compute)
    if up > 1:
        rows = F.pad(rows.unsqueeze(-1), (0, up - 1)).reshape(rows.shape[0], 1, time * up)
    half = (weight.shape[-1] - 1) // 2
    y = F.conv1d(F.pad(rows, (half, half)), weight.to(device=x.device, dtype=compute),
                 stride=down)
    return y.reshape(*x.shape[:-1], y.shape[-1]).to(x.dtype)

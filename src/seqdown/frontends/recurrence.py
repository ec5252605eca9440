"""An ``nn.LSTM``/``nn.GRU`` run as a masked scan, for ``torch.export``, ONNX and ``torch.compile``.

torch 2.14 exports a packed or padded ``nn.LSTM``/``nn.GRU`` step by step, which
pins the time axis (``torch.export``), fails to convert (the dynamo ONNX exporter's
GRU) or unrolls (dynamo's GRU). :func:`scan_recurrence` computes the same layers
from the module's own parameters as one ``torch._higher_order_ops.scan`` per layer
and direction, whose length is the symbolic time axis: it exports with a dynamic
time axis, becomes an ONNX ``Scan`` and compiles once for every length.

The cells are torch's (``nn.LSTM``: gates ``i, f, g, o``; ``nn.GRU``: ``r, z, n``
with the reset gate applied to the hidden projection), with the input projection
of every step computed up front. Padding never reaches an item's state:

* forward, step ``t`` updates the state only where ``t < lengths[b]`` and emits
  zeros past each item's end (the packed sequence's output);
* backward, each item is reversed *within its own length* (step ``t`` reads step
  ``lengths[b] - 1 - t``), run forward the same way, and reversed back, so the
  backward direction starts at each item's own end, as a packed sequence does.

Eager mode keeps the packed cuDNN/oneDNN kernels (:class:`~seqdown.RNNEncoder`);
this path reads the same parameters, so checkpoints load either way.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch._higher_order_ops.scan import scan

__all__ = ["lstm_by_direction", "reverse_within_lengths", "scan_recurrence"]


def reverse_within_lengths(x: Tensor, lengths: Tensor) -> Tensor:
    """``(batch, time, features)`` with each item's first ``lengths[b]`` steps reversed.

    The steps past an item's length stay where they are; applying it twice is the identity.
    """
    time = torch.arange(x.shape[1], device=x.device)[None, :]
    last = lengths.to(x.device)[:, None] - 1
    index = torch.where(time <= last, last - time, time)
    return x.gather(1, index[..., None].expand_as(x))


def _lstm_cell(inputs: Tensor, state: tuple[Tensor, Tensor], weight: Tensor,
               bias: Tensor | None) -> tuple[Tensor, Tensor]:
    h, c = state
    i, f, g, o = (inputs + F.linear(h, weight, bias)).chunk(4, dim=-1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def _gru_cell(inputs: Tensor, h: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    in_r, in_z, in_n = inputs.chunk(3, dim=-1)
    hid_r, hid_z, hid_n = F.linear(h, weight, bias).chunk(3, dim=-1)
    r, z = torch.sigmoid(in_r + hid_r), torch.sigmoid(in_z + hid_z)
    n = torch.tanh(in_n + r * hid_n)
    return n + z * (h - n)  # (1 - z) * n + z * h


def _direction(rnn: nn.LSTM | nn.GRU, x: Tensor, valid: Tensor, suffix: str) -> Tensor:
    """One layer in one direction over ``(batch, time, features)``; zeros where not valid."""
    weight_hh = getattr(rnn, f"weight_hh{suffix}")
    bias_ih = getattr(rnn, f"bias_ih{suffix}") if rnn.bias else None
    bias_hh = getattr(rnn, f"bias_hh{suffix}") if rnn.bias else None
    # The input projection of every step at once: (time, batch, gates * hidden).
    inputs = F.linear(x, getattr(rnn, f"weight_ih{suffix}"), bias_ih).transpose(0, 1)
    steps = valid.transpose(0, 1)[..., None]  # (time, batch, 1)
    zeros = x.new_zeros(x.shape[0], rnn.hidden_size)
    if isinstance(rnn, nn.LSTM):
        def lstm_step(state: tuple[Tensor, Tensor], xs: tuple[Tensor, Tensor]
                      ) -> tuple[tuple[Tensor, Tensor], Tensor]:
            projected, keep = xs
            h, c = _lstm_cell(projected, state, weight_hh, bias_hh)
            h, c = torch.where(keep, h, state[0]), torch.where(keep, c, state[1])
            return (h, c), h * keep

        _, out = scan(lstm_step, (zeros, zeros.clone()), (inputs, steps))
    else:
        def gru_step(h: Tensor, xs: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
            projected, keep = xs
            h = torch.where(keep, _gru_cell(projected, h, weight_hh, bias_hh), h)
            return h, h * keep

        _, out = scan(gru_step, zeros, (inputs, steps))
    result: Tensor = out.transpose(0, 1)
    return result


def scan_recurrence(rnn: nn.LSTM | nn.GRU, sequence: Tensor, lengths: Tensor | None) -> Tensor:
    """``rnn``'s output over a padded batch, traceable with a dynamic time axis.

    Equals the output of ``rnn`` on the packed sequences, padded with zeros (see the
    module notes); dropout between layers as ``rnn`` (in training mode).

    Args:
        rnn: a batch-first ``nn.LSTM`` or ``nn.GRU`` without ``proj_size``.
        sequence: ``(batch, time, input_size)``.
        lengths: int64 ``(batch,)`` valid steps per item, or None (all of them).

    Returns:
        ``(batch, time, hidden_size * directions)``, zero past each item's length.

    Raises:
        ValueError: ``rnn`` is not batch-first or has a ``proj_size``.
    """
    if not rnn.batch_first or (isinstance(rnn, nn.LSTM) and rnn.proj_size):
        raise ValueError(f"scan_recurrence needs a batch_first rnn without proj_size, got {rnn}")
    batch, time = sequence.shape[:2]
    if lengths is None:
        lengths = torch.full((batch,), time, dtype=torch.int64, device=sequence.device)
    lengths = lengths.to(sequence.device)
    valid = torch.arange(time, device=sequence.device)[None, :] < lengths[:, None]
    x = sequence
    for layer in range(rnn.num_layers):
        if layer:
            x = F.dropout(x, rnn.dropout, rnn.training)
        outputs = [_direction(rnn, x, valid, f"_l{layer}")]
        if rnn.bidirectional:
            backward = _direction(rnn, reverse_within_lengths(x, lengths), valid,
                                  f"_l{layer}_reverse")
            outputs.append(reverse_within_lengths(backward, lengths))
        x = outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=-1)
    return x


def lstm_by_direction(rnn: nn.LSTM, sequence: Tensor, lengths: Tensor | None) -> Tensor:
    """``rnn``'s output over a padded batch as one ``torch.lstm`` per layer and direction.

    What ``torch.compile`` runs for an LSTM: dynamo keeps each ``torch.lstm`` call one
    op (with ``allow_rnn``), which inductor compiles once for every time length, where
    its lowering of :func:`scan_recurrence` fails on a time axis computed by the
    front-end (torch 2.14). A forward direction over the padded batch never reads
    ahead, so its valid steps are exact; a backward one runs forward over each item
    reversed within its length. Equals :func:`scan_recurrence`.

    Args:
        rnn: a batch-first ``nn.LSTM`` without ``proj_size``.
        sequence: ``(batch, time, input_size)``.
        lengths: int64 ``(batch,)`` valid steps per item, or None (all of them).

    Returns:
        ``(batch, time, hidden_size * directions)``, zero past each item's length.
    """
    batch, time = sequence.shape[:2]
    if lengths is None:
        lengths = torch.full((batch,), time, dtype=torch.int64, device=sequence.device)
    lengths = lengths.to(sequence.device)
    valid = (torch.arange(time, device=sequence.device)[None, :] < lengths[:, None])[..., None]
    zeros = sequence.new_zeros(1, batch, rnn.hidden_size)
    names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh") if rnn.bias else ("weight_ih",
                                                                               "weight_hh")
    x = sequence
    for layer in range(rnn.num_layers):
        if layer:
            x = F.dropout(x, rnn.dropout, rnn.training)
        outputs = []
        for suffix in [f"_l{layer}", f"_l{layer}_reverse"][: 2 if rnn.bidirectional else 1]:
            backward = suffix.endswith("_reverse")
            inputs = reverse_within_lengths(x, lengths) if backward else x
            params = [getattr(rnn, f"{name}{suffix}") for name in names]
            out = torch.lstm(inputs, (zeros, zeros), params, rnn.bias, 1, 0.0, rnn.training,
                             False, True)[0].masked_fill(~valid, 0.0)
            outputs.append(reverse_within_lengths(out, lengths) if backward else out)
        x = outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=-1)
    return x

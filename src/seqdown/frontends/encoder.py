"""A small recurrent encoder that consumes front-end output, padding-free."""

from __future__ import annotations

from fractions import Fraction
from typing import Literal, NoReturn

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from seqdown._validation import (
    check_choice,
    check_positive_int,
    check_signal,
    is_batched,
    is_tracing,
    legacy_tracing_message,
    refuse_legacy_tracing,
)
from seqdown.frontends.base import FrontEnd
from seqdown.frontends.chain import Chain, build_frontend
from seqdown.frontends.recurrence import lstm_by_direction, scan_recurrence
from seqdown.frontends.streaming import EncoderStreamer
from seqdown.lengths import Length

__all__ = ["RNNEncoder"]

RNNType = Literal["lstm", "gru"]
_RNNS = {"lstm": nn.LSTM, "gru": nn.GRU}


class RNNEncoder(nn.Module):
    """Front-end, then an LSTM or GRU over the shortened sequence.

    Takes features as torchaudio's ``MelSpectrogram`` gives them, ``(batch,
    channels, time)``, shortens them with the front-end, and runs the recurrent
    layers on packed sequences, so that padding never reaches the recurrent
    state and each item's output equals the item encoded alone. Items whose
    shortened length is 0 come out as zeros with length 0 (a batch of only
    those still backpropagates, with zero gradients).

    In float16 and bfloat16 the items stay independent too: a NaN or inf in one
    item never reaches another. Each equals the item encoded alone to the dtype's
    rounding, not bit for bit (the batch's matrix products sum in another order).

    Args:
        input_size: feature channels of the input (e.g. 80 log-mels).
        hidden_size: hidden units per direction.
        frontend: a :class:`FrontEnd`, a spec string for :func:`build_frontend`
            (built with ``channels=input_size``), or None for no downsampling.
        rnn: ``"lstm"`` or ``"gru"``.
        num_layers: stacked recurrent layers.
        bidirectional: run a backward direction too.
        dropout: dropout between recurrent layers (``num_layers > 1``).

    Shape:
        - x: ``(batch, input_size, time)``; lengths: int64 ``(batch,)`` or None.
        - y: ``(batch, frontend.output_length(time), hidden_size * directions)``.
        - out_lengths: ``frontend.output_length(lengths)``, or None when ``lengths`` is None.

    Example:
        >>> encoder = RNNEncoder(80, 64, frontend="decimate:2+max:2")
        >>> y, out = encoder(torch.randn(2, 80, 100), torch.tensor([100, 37]))
        >>> y.shape, out.tolist()
        (torch.Size([2, 25, 64]), [25, 9])
    """

    def __init__(self, input_size: int, hidden_size: int,
                 frontend: FrontEnd | str | None = None, rnn: RNNType = "lstm",
                 num_layers: int = 1, bidirectional: bool = False, dropout: float = 0.0) -> None:
        super().__init__()
        self.input_size = check_positive_int("input_size", input_size)
        hidden_size = check_positive_int("hidden_size", hidden_size)
        if frontend is None:
            frontend = Chain()
        elif isinstance(frontend, str):
            frontend = build_frontend(frontend, channels=self.input_size)
        elif not isinstance(frontend, FrontEnd):
            raise TypeError("frontend must be a seqdown FrontEnd, a spec string or None, "
                            f"got {type(frontend).__name__}")
        if frontend.factor is None:
            raise ValueError(f"frontend must keep a time axis for the recurrent layers, got "
                             f"{type(frontend).__name__}")
        self.frontend = frontend
        rnn = check_choice("rnn", rnn, tuple(_RNNS))
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.rnn = _RNNS[rnn](frontend.output_channels(self.input_size), hidden_size,
                              num_layers=check_positive_int("num_layers", num_layers),
                              batch_first=True, bidirectional=bool(bidirectional),
                              dropout=float(dropout))

    @property
    def factor(self) -> int | Fraction | None:
        """The front-end's downsampling ratio (never None: checked at construction)."""
        return self.frontend.factor

    @property
    def output_size(self) -> int:
        """Features per output step: ``hidden_size * directions``."""
        return self.rnn.hidden_size * (2 if self.rnn.bidirectional else 1)

    def output_length(self, n: Length) -> Length:
        """Output steps for ``n`` input steps; see :meth:`FrontEnd.output_length`."""
        return self.frontend.output_length(n)

    def __prepare_scriptable__(self) -> NoReturn:
        """``torch.jit.script`` calls this first: refuse with a pointer to ``torch.export``."""
        raise RuntimeError(legacy_tracing_message(type(self).__name__))

    @property
    def lookahead(self) -> int:
        """The front-end's lookahead: a recurrent layer emits each step as it arrives."""
        return self.frontend.lookahead

    def streamer(self) -> EncoderStreamer:
        """A new :class:`~seqdown.frontends.streaming.EncoderStreamer` (unidirectional only).

        It carries the front-end's state and the recurrent state across chunks;
        ``push`` returns ``(batch, m, hidden_size)``, and the concatenation over
        chunks and ``flush()`` equals ``self(x)[0]``.

        Raises:
            ValueError: the encoder is bidirectional (its backward direction needs the
                whole input).
        """
        if self.rnn.bidirectional:
            raise ValueError("a bidirectional RNNEncoder cannot stream: its backward direction "
                             "starts at the end of the input; build it with "
                             "bidirectional=False to stream")
        return EncoderStreamer(self.frontend.streamer(), self.rnn)

    def _never_lengthens(self) -> bool:
        """Whether ``output_length(n) <= n`` for every ``n`` the front-end accepts.

        The front-end laws grow by at most one step per input step, so ``output_length(n)
        - n`` never increases for ``factor >= 1``: checking the shortest input suffices.
        """
        factor, shortest = self.frontend.factor, self.frontend.min_length
        return (factor is not None and factor >= 1
                and int(self.frontend.output_length(shortest)) <= shortest)

    def _traced_rnn(self, sequence: Tensor, lengths: Tensor | None, time: int) -> Tensor:
        """The recurrent layers when traced or under ``torch.func.vmap``: a masked scan.

        Under ``torch.compile`` inductor's lowering of a scan fails on a time axis that
        the front-end computed (torch 2.14), so there an LSTM runs one ``torch.lstm``
        per layer and direction (ops that dynamo keeps whole), and a GRU's scan runs
        over the input's own ``time`` steps when the front-end never lengthens, the features
        zero-padded to it (masked steps leave the state alone): ``factor`` times the
        steps, and one graph.
        """
        if not (torch.compiler.is_compiling() and not torch.compiler.is_exporting()):
            return scan_recurrence(self.rnn, sequence, lengths)
        if isinstance(self.rnn, nn.LSTM):
            return lstm_by_direction(self.rnn, sequence, lengths)
        steps = sequence.shape[1]
        if not self._never_lengthens():  # the scan must cover the longer output itself
            return scan_recurrence(self.rnn, sequence, lengths)
        if lengths is None:
            lengths = torch.full((sequence.shape[0],), steps, dtype=torch.int64,
                                 device=sequence.device)
        padded = F.pad(sequence, (0, 0, 0, time - steps))
        return scan_recurrence(self.rnn, padded, lengths)[:, :steps]

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """Encodes ``x``.

        Eager code packs the sequences for ``self.rnn`` (``nn.LSTM``/``nn.GRU``); a
        traced one (``torch.export``, ONNX, ``torch.compile``) runs the same layers from
        the same parameters as a masked scan over the padded batch
        (:func:`~seqdown.frontends.recurrence.scan_recurrence`), which keeps the time
        axis dynamic and gives the same output: padding never reaches an item's state,
        and a backward direction starts at each item's own end. ``torch.compile`` needs
        ``torch._dynamo.config.allow_rnn = True`` to look inside the module; there an
        LSTM runs as one ``torch.lstm`` per layer and direction
        (:func:`~seqdown.frontends.recurrence.lstm_by_direction`), and a GRU's scan
        over the input's time axis (see ``_traced_rnn``).

        Raises:
            ValueError: ``x`` does not have ``input_size`` channels, or as
                :meth:`FrontEnd.forward`.
        """
        refuse_legacy_tracing(type(self).__name__)
        check_signal(x)
        if x.shape[1] != self.input_size:
            raise ValueError(f"x must have input_size={self.input_size} channels "
                             f"(batch, channels, time), got shape {tuple(x.shape)}")
        features, out_lengths = self.frontend(x, lengths)
        sequence = features.transpose(1, 2)  # (batch, time, channels)
        if is_tracing() or is_batched(sequence) or (out_lengths is not None
                                                    and is_batched(out_lengths)):
            return self._traced_rnn(sequence, out_lengths, x.shape[-1]), out_lengths
        if out_lengths is None:
            return self.rnn(sequence)[0], None
        batch, steps = sequence.shape[:2]
        output = sequence.new_zeros(batch, steps, self.output_size)
        keep = torch.nonzero(out_lengths > 0).flatten()
        if keep.numel():
            kept_lengths = out_lengths[keep].cpu()
            keep = keep.to(x.device)
            packed = pack_padded_sequence(sequence[keep], kept_lengths, batch_first=True,
                                          enforce_sorted=False)
            encoded, _ = pad_packed_sequence(self.rnn(packed)[0], batch_first=True,
                                             total_length=steps)
            output = output.index_copy(0, keep, encoded)
        else:  # every item is empty: zeros, joined to the graph so that backward() gives
            # zero gradients for the input and every parameter rather than an error
            weights = torch.stack([p.sum() for p in self.rnn.parameters()]).sum()
            output = output + 0.0 * (sequence.sum() + weights).to(output.dtype)
        return output, out_lengths

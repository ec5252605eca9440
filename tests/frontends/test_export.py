"""Front-ends that ship: torch.export, ONNX + onnxruntime and torch.compile at dynamic lengths.

Every case is exported once at ``(3, 4, 101)`` with batch and time dynamic and then run
at other batch sizes and at odd, prime and minimal lengths against eager mode. The
legacy tracer and TorchScript refuse with an error that points to ``torch.export``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch
import torch.fx.experimental._config as fx_config
from torch.export import Dim

import seqdown

CHANNELS = 4

#: Every public front-end class (and the encoder), several parameter sets each.
CASES: dict[str, Callable[[], torch.nn.Module]] = {
    "max-2": lambda: seqdown.MaxPool(2),
    "max-3-2-pad1-ceil": lambda: seqdown.MaxPool(3, 2, padding=1, ceil_mode=True),
    "max-2-causal": lambda: seqdown.MaxPool(2, causal=True),
    "avg-3-2-pad1": lambda: seqdown.AvgPool(3, 2, padding=1),
    "avg-4-3-pad2-ceil-nopad": lambda: seqdown.AvgPool(4, 3, 2, ceil_mode=True,
                                                        count_include_pad=False),
    "avg-4-2-causal": lambda: seqdown.AvgPool(4, 2, causal=True),
    "avg-4-3-pad1-causal": lambda: seqdown.AvgPool(4, 3, 1, causal=True),
    "conv-3-2-pad1": lambda: seqdown.StridedConv(CHANNELS, 5, 3, 2, padding=1),
    "conv-4-3-causal": lambda: seqdown.StridedConv(CHANNELS, 5, 4, 3, causal=True),
    "conv-4-3-pad1-causal": lambda: seqdown.StridedConv(CHANNELS, 5, 4, 3, 1, causal=True),
    "decimate-2": lambda: seqdown.Decimate(2),
    "decimate-3-causal": lambda: seqdown.Decimate(3, causal=True),
    "resample-3-2": lambda: seqdown.Resample(3, 2, attenuation=60, transition=0.3),
    "resample-48k-16k": lambda: seqdown.Resample(48000, 16000),
    "resample-8k-16k": lambda: seqdown.Resample(8000, 16000, attenuation=60, transition=0.3),
    "blur-2": lambda: seqdown.BlurPool(2),
    "blur-3-order3": lambda: seqdown.BlurPool(3, order=3),
    "stack-3": lambda: seqdown.FrameStack(3),
    "stack-2-pad": lambda: seqdown.FrameStack(2, pad_remainder=True),
    "pyramid-max": lambda: seqdown.PyramidPool((4, 2, 1)),
    "pyramid-avg": lambda: seqdown.PyramidPool((2, 1), "avg"),
    "chain-decimate-max": lambda: seqdown.build_frontend("decimate:2+max:2"),
    "chain-conv-stack-avg": lambda: seqdown.build_frontend("conv:2+stack:2+avg:3", CHANNELS),
    "upsample-nearest-2": lambda: seqdown.Upsample(2),
    "upsample-linear-3": lambda: seqdown.Upsample(3, "linear"),
    "upsample-sinc-2": lambda: seqdown.Upsample(2, "sinc"),
    "transposed-2": lambda: seqdown.TransposedConv(CHANNELS, 3, 2),
    "transposed-3-k7-pad2": lambda: seqdown.TransposedConv(CHANNELS, 3, 3, kernel_size=7,
                                                           padding=2),
    "encoder-lstm": lambda: seqdown.RNNEncoder(CHANNELS, 8, frontend="decimate:2+max:2"),
    "encoder-gru-2layers": lambda: seqdown.RNNEncoder(CHANNELS, 8, frontend="stack:2", rnn="gru",
                                                      num_layers=2),
    "encoder-gru-no-frontend": lambda: seqdown.RNNEncoder(CHANNELS, 8, rnn="gru"),
    "encoder-gru-bidirectional": lambda: seqdown.RNNEncoder(CHANNELS, 8, frontend="max:2",
                                                            rnn="gru", bidirectional=True),
    "encoder-lstm-bidirectional-2layers": lambda: seqdown.RNNEncoder(
        CHANNELS, 6, frontend="decimate:2", num_layers=2, bidirectional=True),
}
#: A subset for the slower exporters (ONNX, inductor): one or two of each class.
ONNX_CASES = ["max-3-2-pad1-ceil", "max-2-causal", "avg-3-2-pad1", "avg-4-3-pad2-ceil-nopad",
              "conv-3-2-pad1", "decimate-2", "decimate-3-causal", "resample-3-2", "blur-2",
              "stack-3", "pyramid-max", "chain-decimate-max", "upsample-linear-3",
              "upsample-sinc-2", "transposed-3-k7-pad2", "encoder-lstm", "encoder-gru-2layers",
              "encoder-gru-bidirectional", "encoder-lstm-bidirectional-2layers"]
DYNAMIC = ({0: Dim.AUTO, 2: Dim.AUTO}, {0: Dim.AUTO})


def make(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    return CASES[name]().eval()


def min_length(module: torch.nn.Module) -> int:
    """The shortest input that gives an output step, except where torch guards against one:
    2 output steps for a recurrent encoder (its LSTM/GRU) and 2 steps for an average pyramid."""
    if isinstance(module, seqdown.RNNEncoder):
        return next(n for n in range(1, 64) if module.output_length(n) >= 2)
    if isinstance(module, seqdown.PyramidPool) and module.mode == "avg":
        return 2  # the average's einsum guards against a time axis of 1 step
    if isinstance(module, seqdown.FrontEnd):
        return module.min_length
    return 1


def inputs(batch: int, time: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, CHANNELS, time, generator=generator)
    lengths = torch.randint(0, time + 1, (batch,), generator=generator)
    lengths[0] = time
    return x, lengths


def shapes_to_check(module: torch.nn.Module) -> list[tuple[int, int]]:
    """(batch, time): other batch sizes, odd, prime and minimal lengths."""
    return [(2, min_length(module)), (5, 37), (2, 97), (4, 256)]


@contextmanager
def size_oblivious() -> Iterator[None]:
    """Exports without torch's 0/1 specialisation, so that an output of one step is allowed."""
    with fx_config.patch(backed_size_oblivious=True):
        yield


def assert_matches(module: torch.nn.Module, got: tuple, x: torch.Tensor,
                   lengths: torch.Tensor | None, atol: float = 1e-5) -> None:
    with torch.no_grad():
        expected = module(x) if lengths is None else module(x, lengths)
    y, out_lengths = got if len(got) == 2 else (got[0], None)  # ONNX drops a None output
    y = torch.as_tensor(y)
    assert y.shape == expected[0].shape
    torch.testing.assert_close(y, expected[0], atol=atol, rtol=1e-5)
    if lengths is not None and expected[1] is not None:
        assert torch.as_tensor(out_lengths).tolist() == expected[1].tolist()


@pytest.mark.parametrize("name", list(CASES))
def test_torch_export_runs_at_other_batches_and_lengths(name):
    module = make(name)
    with size_oblivious():
        program = torch.export.export(module, inputs(3, 101, 0), dynamic_shapes=DYNAMIC)
    # No guard pins the time axis: its range starts at or below the minimum and is open.
    ranges = [str(r) for r in program.range_constraints.values()]
    assert all("int_oo" in r for r in ranges), ranges
    exported = program.module()
    for batch, time in shapes_to_check(module):
        x, lengths = inputs(batch, time, seed=time)
        with torch.no_grad():
            assert_matches(module, exported(x, lengths), x, lengths)


@pytest.mark.parametrize("name", ["max-3-2-pad1-ceil", "decimate-2", "chain-decimate-max",
                                  "upsample-linear-3", "max-2-causal", "avg-4-2-causal",
                                  "conv-4-3-causal", "decimate-3-causal", "avg-4-3-pad1-causal",
                                  "conv-4-3-pad1-causal"])
def test_torch_export_default_settings(name):
    # Without backed_size_oblivious torch specialises sizes 0 and 1, so the exported
    # range starts where every intermediate has 2 steps; inside it, it is exact. Every
    # remainder of the time axis by the strides runs (a causal op's delay is cut off).
    module = make(name)
    program = torch.export.export(module, inputs(3, 101, 0), dynamic_shapes=DYNAMIC)
    for batch, time in [(2, 37), (5, 97), (2, 30), (4, 100), (3, 99)]:
        x, lengths = inputs(batch, time, seed=time)
        with torch.no_grad():
            assert_matches(module, program.module()(x, lengths), x, lengths)


def test_torch_export_with_named_dims():
    module = make("chain-decimate-max")
    batch, time = Dim("batch", min=2), Dim("time", min=module.min_length, max=1 << 20)
    with size_oblivious():
        program = torch.export.export(module, inputs(3, 101, 0),
                                      dynamic_shapes=({0: batch, 2: time}, {0: batch}))
    x, lengths = inputs(4, 53, 1)
    assert_matches(module, program.module()(x, lengths), x, lengths)


def onnx_session(module: torch.nn.Module, args: tuple, path: Path, dynamic: tuple):
    ort = pytest.importorskip("onnxruntime")
    with size_oblivious():
        torch.onnx.export(module, args, str(path), dynamo=True, dynamic_shapes=dynamic)
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


@pytest.mark.slow
@pytest.mark.parametrize("name", ONNX_CASES)
def test_onnx_dynamo_export_in_onnxruntime(name, tmp_path):
    pytest.importorskip("onnxscript")
    module = make(name)
    session = onnx_session(module, inputs(3, 101, 0), tmp_path / "m.onnx", DYNAMIC)
    names = [i.name for i in session.get_inputs()]
    for batch, time in shapes_to_check(module):
        x, lengths = inputs(batch, time, seed=time)
        got = session.run(None, {names[0]: x.numpy(), names[1]: lengths.numpy()})
        assert_matches(module, tuple(got), x, lengths, atol=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["decimate-2", "chain-decimate-max", "max-2-causal",
                                  "transposed-2", "encoder-lstm"])
def test_onnx_dynamo_export_without_lengths(name, tmp_path):
    pytest.importorskip("onnxscript")
    module = make(name)
    session = onnx_session(module, (inputs(3, 101, 0)[0],), tmp_path / "m.onnx", (DYNAMIC[0],))
    for batch, time in [(2, max(min_length(module), 2)), (5, 97)]:
        x, _ = inputs(batch, time, seed=time)
        y = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
        with torch.no_grad():
            expected = module(x)[0]
        torch.testing.assert_close(torch.as_tensor(y), expected, atol=1e-4, rtol=1e-5)


def compiled_runs(module: torch.nn.Module, backend: str) -> int:
    """Runs ``module`` compiled at 5 time lengths; returns the graphs dynamo made.

    Dynamo specialises sizes 0 and 1, so each length gives every stage at least 2 steps
    (a length that gives one step compiles once more, then runs).
    """
    from torch._dynamo.utils import counters

    torch._dynamo.reset()
    counters.clear()
    compiled = torch.compile(module, fullgraph=True, dynamic=True, backend=backend)
    with torch._dynamo.config.patch(allow_rnn=True, error_on_recompile=True), torch.no_grad():
        for time in (45, 61, 77, 97, 150):
            x, lengths = inputs(3, time, seed=time)
            lengths[1:] = lengths[1:].clamp(min=20)
            assert_matches(module, compiled(x, lengths), x, lengths)
    return int(counters["stats"]["unique_graphs"])


@pytest.mark.parametrize("name", list(CASES))
def test_compile_fullgraph_dynamic_without_recompiles(name):
    # Graph breaks and recompilations are dynamo's; the eager backend keeps this fast.
    assert compiled_runs(make(name), "eager") == 1


def test_compiled_gru_behind_a_lengthening_frontend_keeps_its_length():
    """A padded conv gives 4 steps more than the input has: the compiled GRU's scan must
    run over all of them, not over the input's time axis (which silently cut 4 steps)."""
    module = seqdown.RNNEncoder(CHANNELS, 8, rnn="gru", bidirectional=True,
                                frontend=seqdown.StridedConv(CHANNELS, CHANNELS, 1, 1, padding=2))
    assert compiled_runs(module, "eager") == 1


@pytest.mark.slow
@pytest.mark.parametrize("name", ["chain-decimate-max", "encoder-lstm", "avg-3-2-pad1",
                                  "encoder-gru-no-frontend", "encoder-lstm-bidirectional-2layers",
                                  "encoder-gru-2layers", "encoder-gru-bidirectional"])
def test_compile_with_inductor(name):
    assert compiled_runs(make(name), "inductor") == 1


@pytest.mark.parametrize("name", ["decimate-2", "max-2", "upsample-nearest-2", "encoder-lstm"])
def test_legacy_tracer_refuses_with_a_pointer_to_export(name, tmp_path):
    module = make(name)
    x, lengths = inputs(2, 101, 0)
    with pytest.raises(RuntimeError, match=r"torch\.export\.export"):
        torch.jit.trace(module, (x, lengths))
    with pytest.raises(RuntimeError, match=r"dynamo=True"):
        torch.onnx.export(module, (x,), str(tmp_path / "m.onnx"), dynamo=False)


@pytest.mark.parametrize("name", ["decimate-2", "chain-decimate-max", "transposed-2",
                                  "encoder-lstm"])
def test_torchscript_refuses_with_a_pointer_to_export(name):
    with pytest.raises(RuntimeError, match=r"TorchScript.*torch\.export"):
        torch.jit.script(make(name))


def test_pyramid_pool_refuses_the_legacy_tracer():
    with pytest.raises(RuntimeError, match=r"torch\.export"):
        torch.jit.trace(seqdown.PyramidPool(), (torch.randn(2, 3, 10),))


RECURRENT = [("lstm", 1, False), ("gru", 1, False), ("lstm", 2, True), ("gru", 2, True)]
#: Each recurrence of the traced paths with the RNNs it runs (lstm_by_direction: LSTMs only).
TRACED = [(*case, "scan_recurrence") for case in RECURRENT] + [
    (*case, "lstm_by_direction") for case in RECURRENT if case[0] == "lstm"]


@pytest.mark.parametrize(("kind", "layers", "bidirectional", "recurrence"), TRACED,
                         ids=[f"{k}-{n}-{'bi' if b else 'uni'}-{r}" for k, n, b, r in TRACED])
def test_traced_recurrences_equal_the_packed_rnn(kind, layers, bidirectional, recurrence):
    """The traced paths' recurrences (a masked scan; per-direction torch.lstm) against
    torch's packed LSTM/GRU: padding never reaches an item's state, and the backward
    direction starts at each item's end."""
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    from seqdown.frontends import recurrence as module

    traced = getattr(module, recurrence)
    torch.manual_seed(0)
    rnn = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind](
        3, 5, num_layers=layers, batch_first=True, bidirectional=bidirectional).double()
    x = torch.randn(4, 23, 3, dtype=torch.float64)
    lengths = torch.tensor([23, 1, 9, 17])
    x[1, 1:] = 1e3  # padding that would show if it reached a state
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    expected = pad_packed_sequence(rnn(packed)[0], batch_first=True, total_length=23)[0]
    with torch.no_grad():
        got = traced(rnn, x, lengths)
        torch.testing.assert_close(got, expected.detach(), rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(traced(rnn, x, None), rnn(x)[0], rtol=1e-10, atol=1e-12)


def test_reverse_within_lengths_is_an_involution():
    from seqdown.frontends.recurrence import reverse_within_lengths

    x = torch.arange(12.0).view(2, 6, 1)
    flipped = reverse_within_lengths(x, torch.tensor([4, 0]))
    assert flipped[0, :, 0].tolist() == [3.0, 2.0, 1.0, 0.0, 4.0, 5.0]
    assert torch.equal(flipped[1], x[1])
    assert torch.equal(reverse_within_lengths(flipped, torch.tensor([4, 0])), x)


def test_encoder_state_dict_is_the_same_on_both_paths():
    """The traced path reads nn.LSTM's own parameters: a checkpoint loads into either."""
    module = make("encoder-lstm-bidirectional-2layers")
    program = torch.export.export(module, inputs(3, 101, 0), dynamic_shapes=DYNAMIC)
    assert set(program.state_dict) >= {f"rnn.{k}" for k in module.rnn.state_dict()}
    x, lengths = inputs(3, 64, 5)
    assert_matches(module, program.module()(x, lengths), x, lengths)


VMAP_CASES = ["max-3-2-pad1-ceil", "avg-4-3-pad2-ceil-nopad", "conv-4-3-causal", "decimate-2",
              "resample-48k-16k", "blur-3-order3", "stack-2-pad", "pyramid-avg",
              "chain-conv-stack-avg", "upsample-sinc-2", "transposed-3-k7-pad2", "encoder-lstm",
              "encoder-gru-bidirectional"]


@pytest.mark.parametrize("name", VMAP_CASES)
def test_vmap_over_single_items_equals_the_batch(name):
    """``torch.func.vmap`` over items, each called as a batch of one, with and without its
    length: the value checks are skipped on batched lengths, and the encoder runs its scan."""
    from torch.func import vmap

    module = make(name)
    x, lengths = inputs(3, 101, 2)
    with torch.no_grad():
        y = vmap(lambda item: module(item[None])[0][0])(x)
        torch.testing.assert_close(y, torch.cat([module(item[None])[0] for item in x]),
                                   rtol=1e-5, atol=1e-5)
        y = vmap(lambda item, n: module(item[None], n[None])[0][0])(x, lengths)
        expected, expected_lengths = module(x, lengths)
        torch.testing.assert_close(y, expected, rtol=1e-5, atol=1e-5)
        if expected_lengths is not None:  # a PyramidPool has no time axis left
            out = vmap(lambda item, n: module(item[None], n[None])[1][0])(x, lengths)
            assert out.tolist() == expected_lengths.tolist()


def test_eager_validation_still_runs():
    decimate = seqdown.Decimate(2)
    x = torch.randn(2, 3, 10)
    with pytest.raises(ValueError, match="lengths must be >= 0, got -1"):
        decimate(x, torch.tensor([3, -1]))
    with pytest.raises(ValueError, match=r"lengths must be <= the time axis of x \(10\)"):
        decimate(x, torch.tensor([11, 1]))

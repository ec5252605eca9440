"""Chunked == offline: every front-end streams, with exact output, lookahead and bounded state."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import seqdown
from seqdown.frontends.streaming import Streamer

#: Modules that stream besides the front-ends of the shared ``any_frontend`` fixture.
EXTRA: dict[str, Callable[[int], torch.nn.Module]] = {
    "max-2-causal": lambda c: seqdown.MaxPool(2, causal=True),
    "max-3-2-pad1-causal": lambda c: seqdown.MaxPool(3, 2, padding=1, causal=True),
    "avg-4-2-causal": lambda c: seqdown.AvgPool(4, 2, causal=True),
    "conv-4-3-causal": lambda c: seqdown.StridedConv(c, 4, 4, 3, causal=True),
    "decimate-2-causal": lambda c: seqdown.Decimate(2, causal=True),
    "chain-causal": lambda c: seqdown.Chain(seqdown.Decimate(2, causal=True),
                                            seqdown.AvgPool(2, causal=True)),
    # Every engine streams exactly (more ratios in test_streaming_resample.py).
    "resample-48k-16k": lambda c: seqdown.Resample(48000, 16000, attenuation=60,
                                                    method="direct"),
    "resample-3-2-fft": lambda c: seqdown.Resample(3, 2, attenuation=60, method="fft"),
    "resample-2-3-table": lambda c: seqdown.Resample(2, 3, attenuation=60, method="table"),
    "decimate-3-fft-causal": lambda c: seqdown.Decimate(3, method="fft", causal=True),
    # Two stages (extreme decimation's path, forced on a small ratio to keep it quick).
    "resample-8-1-cascade": lambda c: seqdown.Resample(8, 1, attenuation=60, transition=0.5,
                                                        method="cascade"),
    "decimate-12-cascade-causal": lambda c: seqdown.Decimate(12, method="cascade",
                                                             causal=True),
    "upsample-nearest-3": lambda c: seqdown.Upsample(3),
    "upsample-linear-2": lambda c: seqdown.Upsample(2, "linear"),
    "upsample-linear-3": lambda c: seqdown.Upsample(3, "linear"),
    "upsample-sinc-2": lambda c: seqdown.Upsample(2, "sinc"),
    "transposed-2": lambda c: seqdown.TransposedConv(c, 2, 2),
    "transposed-3-k7-pad2": lambda c: seqdown.TransposedConv(c, 3, 3, kernel_size=7, padding=2),
    # Outputs that read no input: every 4th one of a kernel shorter than the factor, and
    # the last ones of a padding at least the kernel's span.
    "transposed-4-k3": lambda c: seqdown.TransposedConv(c, 3, 4, kernel_size=3),
    "conv-2-2-pad2": lambda c: seqdown.StridedConv(c, 3, 2, 2, 2),
}


@pytest.fixture(params=list(EXTRA), ids=list(EXTRA))
def extra_module(request: pytest.FixtureRequest) -> Callable[[int], torch.nn.Module]:
    def make(channels: int) -> torch.nn.Module:
        torch.manual_seed(0)
        return EXTRA[request.param](channels)

    return make


def partition(time: int, rng: np.random.Generator) -> list[int]:
    """Random chunk sizes summing to ``time``, with empty chunks and single steps among them."""
    sizes: list[int] = []
    while sum(sizes) < time:
        sizes.append(int(rng.choice([0, 1, 1, 2, int(rng.integers(1, max(2, time // 3) + 1))])))
    sizes[-1] -= sum(sizes) - time
    return sizes


def stream(module: torch.nn.Module, x: torch.Tensor, sizes: list[int]) -> list[torch.Tensor]:
    """Pushes the chunks of ``x`` and flushes; checks the lookahead bound after every push."""
    streamer, lookahead = module.streamer(), module.lookahead
    pieces, pushed, emitted = [], 0, 0
    for chunk in x.split(sizes, dim=-1):
        pieces.append(streamer.push(chunk))
        pushed += chunk.shape[-1]
        emitted += pieces[-1].shape[-1]
        assert emitted >= module.output_length(max(pushed - lookahead, 0)), (
            f"late: {emitted} steps after {pushed} pushed, lookahead {lookahead}")
        assert emitted <= module.output_length(pushed)
    pieces.append(streamer.flush())
    return pieces


def check_stream(module: torch.nn.Module, x: torch.Tensor, seed: int, rtol: float) -> None:
    expected = module(x)[0]
    rng = np.random.default_rng(seed)
    for _ in range(3):
        pieces = stream(module, x, partition(x.shape[-1], rng))
        assert all(p.shape[:2] == expected.shape[:2] and p.dtype == x.dtype for p in pieces)
        y = torch.cat(pieces, dim=-1)
        assert y.shape == expected.shape
        scale = float(expected.abs().max()) if expected.numel() else 1.0
        torch.testing.assert_close(y, expected, rtol=rtol, atol=rtol * scale)


@pytest.mark.parametrize("time", [1, 2, 9, 64, 203])
def test_chunks_concatenate_to_the_offline_output_float64(any_frontend, time):
    frontend = any_frontend(3).double()
    if frontend.output_length(time) < 1:
        pytest.skip("offline needs min_length steps")
    check_stream(frontend, torch.randn(2, 3, time, dtype=torch.float64), time, 1e-10)


@pytest.mark.parametrize("time", [1, 5, 64, 203])
def test_every_other_module_streams_exactly(extra_module, time):
    module = extra_module(3).double()
    if module.output_length(time) < 1:
        pytest.skip("offline needs min_length steps")
    check_stream(module, torch.randn(2, 3, time, dtype=torch.float64), time, 1e-10)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16], ids=str)
def test_chunks_equal_offline_in_lower_precision(any_frontend, dtype):
    frontend = any_frontend(3).to(dtype)
    x = torch.randn(2, 3, 100).to(dtype)
    # float32: the same products summed in another order. Half precision rounds each op's
    # result (and filters in float32), so chunked and whole may differ in the last bit.
    rtol = 1e-5 if dtype == torch.float32 else 2e-2
    check_stream(frontend, x, 7, rtol)


def test_streams_on_the_device(device):
    chain = seqdown.build_frontend("decimate:2+max:2").to(device)
    x = torch.randn(2, 80, 57, device=device)
    y = torch.cat([chain.streamer().push(x[..., :0]), *stream(chain, x, [10, 0, 1, 46])], -1)
    torch.testing.assert_close(y, chain(x)[0], rtol=1e-5, atol=1e-5)
    for method in ("fft", "table"):  # the engine-step streamer keeps its arrays on the device
        resample = seqdown.Resample(48000, 16000, method=method).to(device)
        wave = torch.randn(2, 1, 9000, device=device)
        y = torch.cat(stream(resample, wave, [480] * 18 + [360]), dim=-1)
        assert y.device == wave.device
        torch.testing.assert_close(y, resample(wave)[0], rtol=1e-5, atol=1e-5)


@settings(max_examples=40, deadline=None)
@given(kind=st.sampled_from(["max", "avg", "conv", "decimate", "stack", "blur"]),
       kernel=st.integers(1, 5), stride=st.integers(1, 4), pad=st.integers(0, 2),
       ceil=st.booleans(), causal=st.booleans(), then_max=st.booleans(),
       time=st.integers(0, 80), seed=st.integers(0, 2**16),
       dtype=st.sampled_from([torch.float32, torch.float64]))
def test_property_random_geometry_and_partitions(kind, kernel, stride, pad, ceil, causal, then_max,
                                                  time, seed, dtype):
    pad = min(pad, kernel // 2)
    torch.manual_seed(seed)
    stage: seqdown.FrontEnd = {
        "max": lambda: seqdown.MaxPool(kernel, stride, pad, ceil_mode=ceil, causal=causal),
        "avg": lambda: seqdown.AvgPool(kernel, stride, pad, ceil_mode=ceil, causal=causal),
        "conv": lambda: seqdown.StridedConv(2, 3, kernel, stride, pad, causal=causal),
        "decimate": lambda: seqdown.Decimate(stride + 1, causal=causal),
        "stack": lambda: seqdown.FrameStack(stride, pad_remainder=ceil),
        "blur": lambda: seqdown.BlurPool(stride, order=kernel),
    }[kind]()
    module = (seqdown.Chain(stage, seqdown.MaxPool(2)) if then_max else stage).to(dtype)
    if module.output_length(time) < 1:
        return
    check_stream(module, torch.randn(2, 2, time).to(dtype), seed,
                 1e-10 if dtype == torch.float64 else 1e-5)


def emitted_counts(module: torch.nn.Module, time: int) -> list[int]:
    """Output steps returned after each of ``time`` single-step pushes."""
    streamer, counts, total = module.streamer(), [], 0
    for chunk in torch.randn(1, 3, time).split(1, dim=-1):
        total += streamer.push(chunk).shape[-1]
        counts.append(total)
    return counts


@pytest.mark.parametrize("name", ["max-3-2-pad1-ceil", "decimate-3", "resample-3-2", "blur-2",
                                  "chain-decimate-max", "chain-conv-stack-avg"])
def test_lookahead_is_tight(name):
    from tests.conftest import FRONTENDS

    torch.manual_seed(0)
    module = FRONTENDS[name](3)
    counts = emitted_counts(module, 120)
    bound = [module.output_length(max(n - module.lookahead, 0)) for n in range(1, 121)]
    assert all(c >= b for c, b in zip(counts, bound, strict=True))
    # One step less would be violated somewhere: the streamer waits no longer than needed.
    tighter = [module.output_length(max(n - module.lookahead + 1, 0)) for n in range(1, 121)]
    assert any(c < b for c, b in zip(counts, tighter, strict=True))


@pytest.mark.parametrize(("module", "lookahead"), [
    (seqdown.MaxPool(2), 0), (seqdown.MaxPool(3, 2, padding=1), 1), (seqdown.Decimate(2), 15),
    (seqdown.Decimate(3), 23), (seqdown.FrameStack(3), 0), (seqdown.BlurPool(2), 1),
    (seqdown.build_frontend("decimate:2+max:2"), 15),
    (seqdown.Chain(seqdown.MaxPool(3, 2, padding=1), seqdown.Decimate(2)), 31),
], ids=str)
def test_lookahead_values(module, lookahead):
    # Decimate's filter reaches (taps - 1) / 2 steps ahead; a padded window reaches the
    # padding ahead; in a chain, a later stage's lookahead counts in earlier steps.
    assert module.lookahead == lookahead


CAUSAL = {
    "decimate-2": (lambda: seqdown.Decimate(2, causal=True), 15),
    "decimate-4": (lambda: seqdown.Decimate(4, causal=True), 30),
    "conv-3-2-pad1": (lambda: seqdown.StridedConv(1, 2, 3, 2, padding=1, causal=True), 1),
    "conv-4-3": (lambda: seqdown.StridedConv(1, 2, 4, 3, causal=True), 3),
    "max-2": (lambda: seqdown.MaxPool(2, causal=True), 1),
    "max-5-2-pad2": (lambda: seqdown.MaxPool(5, 2, padding=2, causal=True), 2),
    "avg-3-3": (lambda: seqdown.AvgPool(3, causal=True), 2),
    "avg-4-2-pad1": (lambda: seqdown.AvgPool(4, 2, padding=1, causal=True), 2),
}


@pytest.mark.parametrize("name", list(CAUSAL))
def test_causal_output_ignores_the_future(name):
    make, delay = CAUSAL[name]
    torch.manual_seed(0)
    module = make().double()
    assert module.delay == delay and module.lookahead == 0
    x = torch.randn(1, 1, 40, dtype=torch.float64)
    y = module(x)[0]
    assert y.shape[-1] == module.output_length(40)  # the non-causal length law
    factor = module.factor
    for step in range(40):
        bumped = x.clone()
        bumped[..., step] += 10.0
        changed = (module(bumped)[0] - y).abs().amax(dim=(0, 1)) > 0
        # Output t may depend on input steps up to t * factor only ...
        assert not changed[: -(-step // factor)].any(), f"output before {step} moved"
        # ... and it does: the step lands on the output at t = ceil(step / factor).
        first = -(-step // factor)
        if first < y.shape[-1] and step < 40 - delay:
            assert changed[first], f"input {step} reaches no output"


def test_causal_is_the_delayed_op():
    x = torch.randn(2, 3, 50, dtype=torch.float64)
    causal, plain = seqdown.Decimate(2, causal=True).double(), seqdown.Decimate(2).double()
    delayed = torch.nn.functional.pad(x, (causal.delay, 0))
    torch.testing.assert_close(causal(x)[0], plain(delayed)[0][..., :25], rtol=0, atol=0)


def test_causal_batch_invariance(random_lengths, check_batch_invariance):
    for module in (seqdown.MaxPool(3, 2, 1, causal=True), seqdown.AvgPool(4, 2, causal=True),
                   seqdown.Decimate(3, causal=True),
                   seqdown.StridedConv(3, 2, 3, 2, 1, causal=True)):
        x = torch.randn(5, 3, 41, dtype=torch.float64)
        check_batch_invariance(module.double(), x, random_lengths(5, 41, seed=3),
                               atol=1e-10, rtol=1e-10)


def test_causal_avgpool_needs_count_include_pad():
    with pytest.raises(ValueError, match="count_include_pad=True"):
        seqdown.AvgPool(3, causal=True, count_include_pad=False)


def long_stream(module: torch.nn.Module, chunk: torch.Tensor, pushes: int) -> list[int]:
    streamer = module.streamer()
    held = []
    for _ in range(pushes):
        streamer.push(chunk)
        held.append(streamer.buffered)
    return held


@pytest.mark.slow
def test_one_hour_streams_in_constant_memory():
    torch.manual_seed(0)
    # 1 h of 48 kHz audio in 10 s blocks down to 16 kHz: the state is below one FFT block.
    resample = seqdown.Resample(48000, 16000)
    steps = resample.stream_geometry.steps
    assert steps is not None
    held = long_stream(resample, torch.randn(1, 1, 480_000), 360)
    assert max(held) < steps.window  # after every push, the first as the last
    # 1 h of 10 ms log-mel frames (80 channels) in 10 s chunks through decimate:2+max:2.
    chain = seqdown.build_frontend("decimate:2+max:2")
    held = long_stream(chain, torch.randn(1, 80, 1000), 360)
    assert max(held) <= chain.receptive_field + 4
    assert max(held[180:]) == max(held[:180])


def test_state_is_bounded_by_the_receptive_field(any_frontend):
    frontend = any_frontend(3)
    held = long_stream(frontend, torch.randn(1, 3, 7), 60)
    # One window plus less than one chunk and one alignment step, per stage.
    stages = max(1, len(getattr(frontend, "stages", [])))
    assert max(held) <= frontend.receptive_field + stages * (7 + 3)
    assert max(held[30:]) == max(held[10:30])


def test_push_after_flush_and_bad_chunks():
    streamer = seqdown.Decimate(2).streamer()
    with pytest.raises(RuntimeError, match="at least one chunk"):
        streamer.flush()
    streamer.push(torch.randn(2, 3, 5))
    with pytest.raises(ValueError, match=r"same \(batch, channels\).*\(2, 3\).*\(2, 4\)"):
        streamer.push(torch.randn(2, 4, 5))
    with pytest.raises(ValueError, match="3 dimensions"):
        streamer.push(torch.randn(3, 5))
    with pytest.raises(TypeError, match="floating-point"):
        streamer.push(torch.ones(2, 3, 5, dtype=torch.int64))
    assert streamer.flush().shape == (2, 3, 3)
    with pytest.raises(RuntimeError, match="flush"):
        streamer.push(torch.randn(2, 3, 5))


def test_short_stream_gives_no_steps():
    streamer = seqdown.MaxPool(4).streamer()
    assert streamer.push(torch.randn(1, 2, 3)).shape == (1, 2, 0)
    assert streamer.flush().shape == (1, 2, 0)


def test_pyramid_pool_has_no_stream():
    with pytest.raises(ValueError, match="cannot stream"):
        seqdown.PyramidPool().streamer()
    with pytest.raises(ValueError, match="cannot stream"):
        seqdown.Chain(seqdown.MaxPool(2), seqdown.PyramidPool()).streamer()


@pytest.mark.parametrize("rnn", ["lstm", "gru"])
@pytest.mark.parametrize("frontend", ["decimate:2+max:2", "none", "stack:3"])
def test_encoder_streams_exactly(rnn, frontend):
    torch.manual_seed(0)
    encoder = seqdown.RNNEncoder(6, 8, frontend=frontend, rnn=rnn, num_layers=2).double().eval()
    x = torch.randn(2, 6, 83, dtype=torch.float64)
    expected = encoder(x)[0]
    streamer = encoder.streamer()
    pieces = [streamer.push(chunk) for chunk in x.split([4, 0, 1, 30, 48], dim=-1)]
    pieces.append(streamer.flush())
    assert all(p.shape[0] == 2 and p.shape[2] == 8 for p in pieces)
    torch.testing.assert_close(torch.cat(pieces, dim=1), expected, rtol=1e-10, atol=1e-10)
    assert encoder.lookahead == encoder.frontend.lookahead
    assert streamer.buffered <= encoder.frontend.receptive_field + 48


def test_bidirectional_encoder_does_not_stream():
    with pytest.raises(ValueError, match="bidirectional"):
        seqdown.RNNEncoder(4, 8, bidirectional=True).streamer()


def test_streamer_is_a_new_object_each_time():
    pool = seqdown.MaxPool(2)
    first, second = pool.streamer(), pool.streamer()
    assert isinstance(first, Streamer) and first is not second
    first.push(torch.randn(1, 1, 4))
    assert second.received == 0


# Resample on every engine: the FFT blocks and table periods sit on a fixed grid, which the
# streamer keeps, so chunked equals offline on each path to float rounding, not only to
# the FFT path's error bound.
RATIOS = [(48000, 16000), (44100, 16000), (8000, 16000), (3, 2), (16000, 22050)]


@settings(max_examples=40, deadline=None)
@given(ratio=st.sampled_from(RATIOS), method=st.sampled_from(["direct", "fft", "table"]),
       padtype=st.sampled_from(["constant", "constant", "edge", "smooth"]),
       dtype=st.sampled_from([torch.float32, torch.float64]),
       sizes=st.lists(st.one_of(st.integers(0, 2), st.integers(0, 400), st.integers(0, 6000)),
                      min_size=1, max_size=12),
       seed=st.integers(0, 2**16))
def test_property_resample_streams_exactly_on_every_engine(ratio, method, padtype, dtype, sizes,
                                                           seed):
    module = seqdown.Resample(*ratio, attenuation=80, transition=0.2, method=method,
                              padtype=padtype).to(dtype)
    assert module.method == method
    if module.output_length(sum(sizes)) < 1:
        return
    x = torch.randn(2, 1, sum(sizes), generator=torch.Generator().manual_seed(seed)).to(dtype)
    x = x + 2.0  # an offset, so that the continuation past each end shows
    expected = module(x)[0]
    y = torch.cat(stream(module, x, sizes), dim=-1)
    rtol = 1e-10 if dtype == torch.float64 else 1e-5
    torch.testing.assert_close(y, expected, rtol=rtol, atol=rtol * float(expected.abs().max()))


@pytest.mark.parametrize(("orig", "new"), [(48000, 16000), (44100, 16000), (16001, 16000)])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=str)
def test_the_default_fft_path_streams_exactly(orig, new, dtype):
    module = seqdown.Resample(orig, new).to(dtype)
    assert module.method == "fft"
    x = torch.randn(2, 1, 3 * orig // 10, generator=torch.Generator().manual_seed(0)).to(dtype)
    check_stream(module, x, orig, 1e-10 if dtype == torch.float64 else 1e-5)
    chunk = orig // 25  # 40 ms chunks: the same blocks on the same samples, bit for bit
    y = torch.cat(stream(module, x, [chunk] * (x.shape[-1] // chunk) + [x.shape[-1] % chunk]), -1)
    torch.testing.assert_close(y, module(x)[0], rtol=0, atol=0)


@pytest.mark.parametrize("method", ["fft", "table"])
def test_engine_step_lookahead_is_tight(method):
    module = seqdown.Resample(3, 2, attenuation=60, transition=0.3, method=method)
    steps = module.stream_geometry.steps
    assert steps is not None
    time = steps.window + 2 * steps.advance
    counts = emitted_counts(module, time)
    lookahead = module.lookahead
    assert lookahead > module.receptive_field // 2  # a block waits longer than a window
    bound = [module.output_length(max(n - lookahead, 0)) for n in range(1, time + 1)]
    assert all(c >= b for c, b in zip(counts, bound, strict=True))
    tighter = [module.output_length(max(n - lookahead + 1, 0)) for n in range(1, time + 1)]
    assert any(c < b for c, b in zip(counts, tighter, strict=True))


def test_chain_with_an_engine_step_stage_streams_exactly_and_on_time():
    # check_stream asserts the composed lookahead after every push, over several blocks.
    chain = seqdown.Chain(seqdown.Resample(3, 2, attenuation=60, method="fft"),
                          seqdown.MaxPool(3, 2, padding=1)).double()
    assert chain.lookahead >= chain.stages[0].lookahead
    check_stream(chain, torch.randn(2, 1, 15000, dtype=torch.float64), 4, 1e-10)


def test_engine_step_state_stays_below_one_block():
    module = seqdown.Resample(44100, 16000)
    steps = module.stream_geometry.steps
    assert steps is not None
    held = long_stream(module, torch.randn(2, 1, 441), 400)  # 10 ms chunks, 4 s
    assert max(held) < steps.window + 441
    assert max(held[200:]) == max(held[:200])


@pytest.mark.parametrize("padtype", ["line", "mean", "maximum", "minimum"])
@pytest.mark.parametrize("method", ["direct", "fft", "table"])
def test_padtype_that_reads_the_whole_signal_refuses_to_stream(padtype, method):
    module = seqdown.Resample(3, 2, attenuation=60, padtype=padtype, method=method)
    with pytest.raises(ValueError, match=f"padtype='{padtype}' cannot stream"):
        module.streamer()


@pytest.mark.parametrize("padtype", ["edge", "smooth"])
@pytest.mark.parametrize("method", ["direct", "fft", "table"])
@pytest.mark.parametrize("time", [1, 2, 3, 250, 9001])
def test_padtype_from_the_end_samples_streams_exactly(padtype, method, time):
    """"edge" and "smooth" continue each end from its last samples: the start is known after
    two samples and the end at flush, so these stream exactly, the shortest signals included."""
    module = seqdown.Resample(48000, 16000, attenuation=80, transition=0.2, padtype=padtype,
                              method=method).double()
    x = torch.randn(2, 1, time, dtype=torch.float64) + 3.0
    check_stream(module, x, time, 1e-10)


def test_two_stage_resample_streams_exactly():
    """96 kHz -> 16 Hz (auto: two stages): chunked == offline to float rounding, and
    every push returns what the lookahead promises."""
    module = seqdown.Resample(96000, 16)
    assert module.method == "cascade"
    x = torch.randn(1, 1, 1_500_000, generator=torch.Generator().manual_seed(0))
    y = torch.cat(stream(module, x, [96000] * 15 + [60000]), dim=-1)  # checks the lookahead
    expected = module(x)[0]
    # The same blocks on the same samples; FFT calls over other groups of blocks round
    # differently (float32).
    torch.testing.assert_close(y, expected, rtol=1e-5, atol=1e-5 * float(expected.abs().max()))


@pytest.mark.parametrize(("make", "horizon"), [
    (lambda: seqdown.Resample(44100, 300, method="cascade"), 1_500_000),  # a long period
    (lambda: seqdown.Decimate(12, method="cascade", causal=True), 20000),
], ids=["resample-44100-300", "decimate-12-causal"])
def test_two_stage_lookahead_matches_the_rule_checked_at_every_step(make, horizon):
    """The lookahead ``stepwise_lookahead`` finds over the stage 1 steps equals
    ``stream_lookahead`` of the same readiness rule over every n; where pushing one
    sample at a time is affordable (the causal Decimate), the real streamer meets it,
    and at some n exactly."""
    from seqdown.dsp.streaming import CascadeStream
    from seqdown.lengths import stream_lookahead

    module = make()
    stream_ = CascadeStream(module.plan)
    lookahead = module.lookahead
    assert lookahead == stream_lookahead(
        lambda n: min(module.output_length(n), stream_.ready(n + module.delay)),
        module.output_length, horizon)
    if horizon <= 20000:
        counts = emitted_counts(module, 1300)
        assert all(c >= module.output_length(max(n - lookahead, 0))
                   for n, c in enumerate(counts, start=1))
        assert any(c < module.output_length(max(n - lookahead + 1, 0))
                   for n, c in enumerate(counts, start=1))


def test_two_stage_lookahead_where_stage_1_steps_start_before_the_signal():
    """Stage 1 (the direct engine here) completes its steps off the grid that starts at
    sample 0 (its window reads ``lead`` zeros first): the lookahead still holds at every
    step pushed one at a time around the first n where it is tight (16285)."""
    module = seqdown.Resample(4000, 1000, method="cascade")
    assert module.plan.stages is not None and module.plan.stages[0].method == "direct"
    lookahead, start = module.lookahead, 16200
    streamer = module.streamer()
    x = torch.randn(1, 1, start + 200)
    total = streamer.push(x[..., :start]).shape[-1]
    tight = []
    for n in range(start + 1, start + 201):
        total += streamer.push(x[..., n - 1 : n]).shape[-1]
        assert total >= module.output_length(n - lookahead), n
        if total < module.output_length(n - lookahead + 1):
            tight.append(n)
    assert tight == [16285]


def test_two_stage_resample_streams_only_zeros_past_the_ends():
    module = seqdown.Resample(96000, 16, padtype="edge")
    with pytest.raises(ValueError, match=r"padtype='edge' cannot stream on the two-stage path"):
        module.streamer()
    with pytest.raises(ValueError, match=r"no single stream geometry"):
        _ = seqdown.Resample(96000, 16).stream_geometry


def test_a_chain_around_a_two_stage_resample_streams_but_states_no_lookahead():
    chain = seqdown.Chain(seqdown.Resample(8, 1, attenuation=60, transition=0.5,
                                           method="cascade"), seqdown.MaxPool(2)).double()
    x = torch.randn(1, 2, 5000, dtype=torch.float64)
    streamer = chain.streamer()
    pieces = [streamer.push(chunk) for chunk in x.split([1, 332, 0, 2000, 2667], dim=-1)]
    y = torch.cat([*pieces, streamer.flush()], dim=-1)
    torch.testing.assert_close(y, chain(x)[0], rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match=r"a Chain around it streams but cannot state"):
        _ = chain.lookahead

"""StreamingResampler equals the one-shot resample, whatever the block sizes."""

from __future__ import annotations

import pytest
import torch

import seqdown
from seqdown.dsp.streaming import StreamingResampler


@pytest.mark.parametrize(("orig", "new"), [(48000, 16000), (44100, 16000), (8000, 16000),
                                           (22050, 16000), (16000, 16000)], ids=str)
@pytest.mark.parametrize("block", [1, 37, 1000, 50000])
@pytest.mark.parametrize("spec", [{}, {"attenuation": 60.0, "transition": 0.5}],
                         ids=["fft", "direct"])
def test_blocks_concatenate_to_the_one_shot_result(orig, new, block, spec):
    x = torch.randn(2, 9001, generator=torch.Generator().manual_seed(block))
    stream = StreamingResampler(orig, new, **spec)
    pieces = [stream.process(part) for part in x.split(block, dim=1)]
    pieces.append(stream.flush())
    y = torch.cat(pieces, dim=1)
    expected = seqdown.resample(x, orig, new, **spec)
    assert y.shape == expected.shape
    assert stream.samples_in == 9001 and stream.samples_out == expected.shape[1]
    # Same products, possibly summed in another order: float32 rounding only.
    torch.testing.assert_close(y, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(("orig", "new"), [(16001, 16000), (44100, 44099), (48000, 44101),
                                           (767999, 768000)], ids=str)
def test_odd_ratios_stream_like_the_one_shot_path(orig, new):
    """Chunked == whole for the FFT path (and the tabulated one, 767999 -> 768000)."""
    x = torch.randn(2, orig // 3, generator=torch.Generator().manual_seed(orig))
    stream = StreamingResampler(orig, new)
    assert stream.plan.method == ("table" if orig > 65536 else "fft")
    pieces = [stream.process(part) for part in x.split(7919, dim=1)] + [stream.flush()]
    torch.testing.assert_close(torch.cat(pieces, dim=1), seqdown.resample(x, orig, new),
                               atol=1e-5, rtol=1e-5)
    assert stream.buffered < stream.window + 7919


def test_memory_stays_bounded():
    stream = StreamingResampler(48000, 16000)
    for _ in range(50):
        stream.process(torch.randn(1, 4800))
    # Every complete step has run, so what is kept is less than one step's input window,
    # not the 240000 samples seen.
    assert stream.samples_in == 240000
    assert stream.buffered < stream.window


def test_dtype_and_errors():
    stream = StreamingResampler(2, 1)
    out = stream.process(torch.randn(1, 100, dtype=torch.float16))
    assert out.dtype == torch.float16
    with pytest.raises(ValueError, match=r"must have 1 channels.*got shape \(2, 5\)"):
        stream.process(torch.randn(2, 5, dtype=torch.float16))
    with pytest.raises(ValueError, match=r"shape \(channels, time\)"):
        stream.process(torch.randn(5, dtype=torch.float16))
    assert stream.flush().dtype == torch.float16
    with pytest.raises(RuntimeError, match="after flush"):
        stream.process(torch.randn(1, 5))
    stream = StreamingResampler(2, 1)
    stream.process(torch.randn(1, 100))
    with pytest.raises(ValueError, match=r"dtype torch.float32.*got shape \(1, 5\), dtype "
                                         r"torch.float64"):
        stream.process(torch.randn(1, 5, dtype=torch.float64))


def test_identity_flush_keeps_the_blocks_device():
    stream = StreamingResampler(16000, 16000)
    block = torch.randn(2, 100, device="meta")
    assert stream.process(block).device == stream.flush().device == block.device


@pytest.mark.parametrize(("orig", "new"), [(3, 2), (44100, 16000), (16000, 10)], ids=str)
def test_no_channel(orig, new):
    """A block without channels streams to outputs without channels, as the one-shot path."""
    stream = StreamingResampler(orig, new)
    pieces = [stream.process(torch.zeros(0, n)) for n in (0, 5000, 1)] + [stream.flush()]
    assert torch.cat(pieces, dim=1).shape == seqdown.resample(torch.zeros(0, 5001), orig,
                                                              new).shape


def test_engine_streams_keep_their_order():
    """Pushes, then one flush: the engine streams refuse anything else with a clear error."""
    from seqdown.dsp.engine import resampling_plan
    from seqdown.dsp.streaming import CascadeStream, EngineStream, plan_stream

    for plan in (resampling_plan(1, 2, 120.0, 0.1), resampling_plan(1, 1600, 120.0, 0.1)):
        stream = plan_stream(plan)
        with pytest.raises(RuntimeError, match=r"flush\(\) needs a stream that was pushed"):
            stream.flush()
        stream.push(torch.zeros(1, 10))
        stream.flush()
        with pytest.raises(RuntimeError, match=r"push\(\) after flush\(\)"):
            stream.push(torch.zeros(1, 10))
        with pytest.raises(RuntimeError, match=r"flush\(\) needs"):
            stream.flush()
    assert isinstance(plan_stream(resampling_plan(1, 1600, 120.0, 0.1)), CascadeStream)
    assert isinstance(plan_stream(resampling_plan(1, 2, 120.0, 0.1)), EngineStream)
    with pytest.raises(ValueError, match=r"CascadeStream needs a 'cascade' plan, got "
                                         r"method='direct'"):
        CascadeStream(resampling_plan(1, 2, 60.0, 0.3))

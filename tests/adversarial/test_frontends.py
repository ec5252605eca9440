"""Front-ends under hostile arguments and random geometry (hypothesis).

Every public constructor and forward either works, in bounded time and memory, or
raises a ValueError/TypeError that names the argument; the padded-batch contract holds
for random geometry with garbage in the padding; gradients stay finite.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import seqdown
from seqdown.frontends.blur import MAX_ORDER
from seqdown.frontends.pyramid import MAX_BINS

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@st.composite
def frontends(draw: st.DrawFn) -> seqdown.FrontEnd:
    """A random front-end (or a chain of two) over 3 channels."""

    def one() -> seqdown.FrontEnd:
        kind = draw(st.sampled_from(["max", "avg", "conv", "decimate", "blur", "stack"]))
        factor = draw(st.integers(1, 4))
        if kind in ("max", "avg"):
            kernel = draw(st.integers(1, 5))
            padding = draw(st.integers(0, kernel // 2))
            # (dilated max pools whose window can miss every valid step are covered below)
            dilation = 1
            ceil_mode = draw(st.booleans())
            cls = seqdown.MaxPool if kind == "max" else seqdown.AvgPool
            extra = {"dilation": dilation} if kind == "max" else {}
            return cls(kernel, stride=factor, padding=padding, ceil_mode=ceil_mode, **extra)
        if kind == "conv":
            kernel = draw(st.integers(1, 5))
            return seqdown.StridedConv(3, 3, kernel, stride=factor,
                                       padding=draw(st.integers(0, kernel)),
                                       dilation=draw(st.integers(1, 2)))
        if kind == "decimate":
            return seqdown.Decimate(factor)
        if kind == "blur":
            return seqdown.BlurPool(factor, draw(st.none() | st.integers(0, 4)))
        return seqdown.FrameStack(factor, pad_remainder=draw(st.booleans()))

    first = one()
    if first.output_channels(3) == 3 and draw(st.booleans()):
        return seqdown.Chain(first, one())
    return first


@SETTINGS
@given(frontend=frontends(), time=st.integers(0, 40), batch=st.integers(1, 4),
       seed=st.integers(0, 2**16))
def test_random_geometry_keeps_the_padded_batch_contract(frontend, time, batch, seed,
                                                         check_batch_invariance):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, 3, time, generator=generator, dtype=torch.float64)
    lengths = torch.randint(0, time + 1, (batch,), generator=generator)
    frontend = frontend.double()
    check_batch_invariance(frontend, x, lengths, atol=1e-10, rtol=1e-10)


@SETTINGS
@given(frontend=frontends(), time=st.integers(1, 30), seed=st.integers(0, 2**16))
def test_gradients_are_finite_whatever_the_padding(frontend, time, seed):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(3, 3, time, generator=generator, dtype=torch.float64)
    lengths = torch.randint(0, time + 1, (3,), generator=generator)
    x[0, :, lengths[0]:] = float("nan")
    x.requires_grad_(True)
    y, _ = frontend.double()(x, lengths)
    (y.square().sum() + 1.0).backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


@settings(max_examples=80, deadline=None)
@given(name=st.sampled_from(["MaxPool", "AvgPool", "Decimate", "BlurPool", "FrameStack",
                             "Upsample"]),
       value=st.one_of(st.integers(-5, 0), st.floats(allow_nan=True), st.text(max_size=3),
                       st.none(), st.booleans(), st.just(2**70)))
def test_bad_arguments_raise_value_or_type_errors_only(name, value):
    """Any other exception (OverflowError, MemoryError, RuntimeError) fails the test."""
    with contextlib.suppress(ValueError, TypeError):
        getattr(seqdown, name)(value)


def test_a_dilated_window_that_misses_every_step_is_minus_inf_as_in_torch():
    """MaxPool(2, stride=1, padding=1, dilation=2) on one step: the one window reads
    steps -1 and 1, both padding, so it is -inf, exactly what torch's max_pool1d gives."""
    pool = seqdown.MaxPool(2, stride=1, padding=1, dilation=2)
    x = torch.randn(1, 1, 1)
    expected = torch.nn.functional.max_pool1d(x, 2, 1, 1, 2)
    assert torch.equal(pool(x)[0], expected) and expected.isneginf().all()
    batched, _ = pool(torch.cat([x, torch.randn(1, 1, 1)]).expand(2, 1, 4).contiguous() * 0
                      + torch.nn.functional.pad(torch.cat([x, x]), (0, 3)), torch.tensor([1, 4]))
    assert torch.equal(batched[:1, :, :1], expected)  # and the batch does not change it


def test_huge_blur_orders_are_bounded():
    assert seqdown.BlurPool(600).order == MAX_ORDER  # the default is capped, not overflowed
    taps = seqdown.BlurPool(600).taps
    assert torch.isfinite(taps).all() and abs(float(taps.sum()) - 1) < 1e-12
    assert seqdown.BlurPool(10**6).order == MAX_ORDER  # constructs at once
    with pytest.raises(ValueError, match=f"order must be <= MAX_ORDER={MAX_ORDER}, got 5000"):
        seqdown.BlurPool(2, order=5000)


def test_huge_pyramid_levels_are_refused():
    with pytest.raises(ValueError, match=f"at most MAX_BINS={MAX_BINS} bins each, got 1000000"):
        seqdown.PyramidPool((10**6,))


@pytest.mark.parametrize("n", [2.5, True, "3", None, torch.tensor([2.0]),
                               torch.tensor([True])], ids=repr)
def test_output_length_refuses_non_integer_steps(n):
    with pytest.raises(TypeError, match="n must be an int or an integer tensor"):
        seqdown.MaxPool(2).output_length(n)


@pytest.mark.parametrize("spec", ["max:٣", "max:²", "decimate:１"])
def test_specs_take_ascii_digits_only(spec):
    with pytest.raises(ValueError, match="needs a positive integer factor"):
        seqdown.build_frontend(spec)


def test_lengths_to_mask_refuses_bool_lengths_as_the_frontends_do():
    with pytest.raises(TypeError, match=r"got torch\.bool"):
        seqdown.lengths_to_mask(torch.tensor([True, False]))
    with pytest.raises(TypeError, match=r"got dtype torch\.bool"):
        seqdown.MaxPool(2)(torch.randn(2, 1, 4), torch.tensor([True, False]))


def test_meta_lengths_are_refused():
    with pytest.raises(ValueError, match="'meta' device"):
        seqdown.MaxPool(2)(torch.randn(2, 3, 8), torch.tensor([8, 4], device="meta"))


@pytest.mark.parametrize("make", [lambda: seqdown.MaxPool(2), lambda: seqdown.Decimate(2),
                                  lambda: seqdown.BlurPool(2), lambda: seqdown.FrameStack(2),
                                  lambda: seqdown.AvgPool(3, padding=1)],
                         ids=["max", "decimate", "blur", "stack", "avg"])
def test_zero_channels_give_empty_outputs_of_the_right_shape(make):
    frontend = make()
    for lengths in (None, torch.tensor([8, 3])):
        y, out = frontend(torch.randn(2, 0, 8), lengths)
        assert y.shape == (2, 0, frontend.output_length(8))
        if lengths is not None:
            assert out.tolist() == [frontend.output_length(8), frontend.output_length(3)]


@pytest.mark.parametrize("lengths", [None, torch.zeros(0, dtype=torch.long)],
                         ids=["no lengths", "lengths"])
def test_pyramid_pool_of_an_empty_batch(lengths):
    y, _ = seqdown.PyramidPool((2, 1))(torch.randn(0, 3, 8), lengths)
    assert y.shape == (0, 9)


def test_an_all_empty_batch_runs_no_kernel_and_still_backpropagates():
    """StridedConv in half precision on a batch shorter than one step: no conv is run
    (torch's kernel crashes on some such geometries), and the loss backpropagates zeros."""
    conv = seqdown.StridedConv(1, 3, 1, stride=3, padding=2, dilation=2).half()
    x = torch.randn(2, 1, 0, dtype=torch.float16, requires_grad=True)
    y, out = conv(x, torch.zeros(2, dtype=torch.long))
    assert y.shape == (2, 3, 0) and y.dtype == torch.float16 and out.tolist() == [0, 0]
    y.float().sum().backward()
    assert x.grad is not None and not x.grad.any()
    assert conv.weight.grad is not None and not conv.weight.grad.any()


def test_pyramid_max_pool_memory_does_not_grow_with_the_bins():
    """The max pyramid works one bin at a time: peak extra memory is about one input."""
    x = torch.randn(4, 80, 2000)
    lengths = torch.tensor([2000, 1500, 10, 0])
    pool = seqdown.PyramidPool((16, 8, 4, 2, 1))
    y, _ = pool(x, lengths)
    for b, n in enumerate(lengths.tolist()):  # against torch's adaptive pooling, item by item
        if n:
            expected = torch.cat([torch.nn.functional.adaptive_max_pool1d(x[b:b + 1, :, :n], k)
                                  .flatten() for k in (16, 8, 4, 2, 1)])
            torch.testing.assert_close(y[b], expected, rtol=0, atol=0)
        else:
            assert not y[b].any()


@pytest.mark.parametrize(("make", "match"), [
    (lambda: seqdown.Decimate(10**6), "beyond the 1048576 that one stage keeps"),
    (lambda: seqdown.Decimate(10**5), "beyond the 1048576 that one stage keeps"),
    (lambda: seqdown.Decimate(2, transition=1e-9), "transition=1e-09 needs a filter"),
    (lambda: seqdown.Decimate(2, attenuation=299), r"attenuation must be > 10.0 and < 200.0"),
    (lambda: seqdown.design_lowpass(1, 2, transition=1e-9), "beyond MAX_DESIGN_TAPS=1048576"),
    (lambda: seqdown.design_lowpass(160, 441, transition=0.002), "MAX_DESIGN_TAPS"),
    (lambda: seqdown.Upsample(10**6, "sinc"), "factor must be at most 768000 with mode='sinc'"),
    (lambda: seqdown.upsample(torch.ones(3), 10**6, "sinc"), "factor must be at most 768000"),
    (lambda: seqdown.Resample(768000, 100, method="fft"), "method='auto' or 'cascade'"),
    (lambda: seqdown.Resample(768000, 1, attenuation=199.9, transition=1e-4),
     "even in two stages"),
], ids=["decimate-1e6", "decimate-1e5", "transition-1e-9", "attenuation-299", "design-1e-9",
        "design-44k1-narrow", "upsample-sinc-1e6", "upsample-fn-1e6", "resample-768k-100-fft",
        "resample-768k-1-strict"])
def test_extreme_parameters_are_refused_before_any_allocation(make, match):
    """Each raises a ValueError naming the parameter and the limit at once (before, they
    raised MemoryError with an empty message, hung, or raised a RuntimeError)."""
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize(("up", "down", "transition"), [(1, 2, 0.5), (3, 2, 0.1),
                                                        (160, 441, 0.5), (1, 48, 0.1)])
def test_the_highest_documented_attenuation_meets_its_spec(up, down, transition):
    """199 dB is inside the documented (10, 200) range, so it must be met, measured by
    scipy's freqz at the band edges and across both bands."""
    from scipy import signal

    taps = seqdown.design_lowpass(up, down, attenuation=199.0, transition=transition)
    stop = 0.5 / max(up, down)
    freqs = np.concatenate([np.linspace(0, stop * (1 - transition), 4000),
                            np.linspace(stop, 0.5, 4000)])
    _, response = signal.freqz(taps, worN=freqs, fs=1.0)
    limit = 10 ** (-199.0 / 20)
    passband = freqs <= stop * (1 - transition)
    assert np.abs(np.abs(response[passband]) - 1).max() <= limit
    assert np.abs(response[~passband]).max() <= limit


def test_extreme_upsampling_works_in_bounded_memory_and_is_not_traced():
    """1 Hz -> 768 kHz runs the tabulated engine; its direct form (tens of millions of taps,
    which took 24 s and 9.8 GB to build) is never built, and tracing says why."""
    module = seqdown.Resample(1, 768000)
    assert module.method == "table" and module.plan.nbytes < 64 * 2**20
    assert module.traced_weight.numel() == 0
    y, _ = module(torch.ones(1, 1, 3))
    assert y.shape == (1, 1, 3 * 768000) and torch.isfinite(y).all()
    with pytest.raises(ValueError, match=r"not traceable: its direct form needs \d+ taps"):
        torch.export.export(module, (torch.ones(1, 1, 3),))


@pytest.mark.parametrize("module", [seqdown.Upsample(2), seqdown.Upsample(3, "sinc"),
                                    seqdown.TransposedConv(2, 2, 2, kernel_size=4, padding=1)],
                         ids=["nearest", "sinc", "transposed"])
def test_target_length_is_bounded_by_the_output_it_pads(module):
    x, lengths = torch.randn(2, 2, 10), torch.tensor([10, 4])
    limit = 2 * module.output_length(10) + module.factor
    y, out = module(x, lengths, target_length=limit)  # the largest allowed: zero-padded
    assert y.shape[-1] == limit and not y[..., module.output_length(10):].any()
    assert out.tolist() == [module.output_length(10), module.output_length(4)]
    for target in (limit + 1, 10**12):
        with pytest.raises(ValueError, match=f"target_length must be at most .* = {limit}"):
            module(x, lengths, target_length=target)


@pytest.mark.parametrize("bidirectional", [False, True], ids=["forward", "bidirectional"])
@pytest.mark.parametrize("rnn", ["lstm", "gru"])
def test_an_all_empty_batch_backpropagates_zeros_through_the_encoder(rnn, bidirectional):
    encoder = seqdown.RNNEncoder(4, 3, frontend="conv:2", rnn=rnn, bidirectional=bidirectional)
    x = torch.randn(3, 4, 20, requires_grad=True)
    y, out = encoder(x, torch.zeros(3, dtype=torch.long))
    assert out.tolist() == [0, 0, 0] and not y.any()
    y.sum().backward()
    assert x.grad is not None and not x.grad.any()
    for parameter in encoder.parameters():
        assert parameter.grad is not None and not parameter.grad.any()


@pytest.mark.parametrize("rnn", ["lstm", "gru"])
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=str)
def test_a_nan_in_one_item_stays_in_that_item_in_half_precision(rnn, dtype):
    """Packed bidirectional recurrence in half precision: an item whose valid steps hold
    NaN or inf changes no other item, each of which is finite and equals the item encoded
    alone to the dtype's rounding (the batch's GEMMs sum in another order, so not bit for
    bit)."""
    torch.manual_seed(0)
    encoder = seqdown.RNNEncoder(80, 64, frontend="decimate:2+max:2", rnn=rnn,
                                 bidirectional=True, num_layers=2).to(dtype)
    x = torch.randn(6, 80, 200, dtype=dtype)
    lengths = torch.tensor([200, 180, 97, 200, 33, 150])
    x[1, :, 10] = float("nan")
    x[4, 3, 5] = float("inf")
    with torch.no_grad():
        y, out = encoder(x, lengths)
        for b in (0, 2, 3, 5):
            alone, _ = encoder(x[b:b + 1, :, :lengths[b]], lengths[b:b + 1])
            assert torch.isfinite(y[b]).all()
            torch.testing.assert_close(y[b, :out[b]], alone[0], rtol=0,
                                       atol=4 * torch.finfo(dtype).eps)


@pytest.mark.parametrize("make", [
    lambda: seqdown.Decimate(2, transition="0.5"),
    lambda: seqdown.Decimate(2, attenuation="60"),
    lambda: seqdown.Resample(3, 2, attenuation="100"),
    lambda: seqdown.Upsample(2, "sinc", transition="0.5"),
    lambda: seqdown.decimate(torch.ones(10), 2, attenuation=True),
    lambda: seqdown.resample(torch.ones(10), 3, 2, transition=b"0.5"),
], ids=["decimate-transition", "decimate-attenuation", "resample", "upsample", "decimate-fn",
        "resample-fn"])
def test_filter_specs_must_be_numbers_not_strings_or_bools(make):
    """``float("0.5")`` would accept them: the spec is checked before any conversion."""
    with pytest.raises(TypeError, match=r"(attenuation|transition) must be a real number"):
        make()

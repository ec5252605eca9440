"""The polyphase engine against a naive loop over its defining sum."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seqdown.dsp.polyphase import polyphase_kernel, polyphase_resample


def naive(x: np.ndarray, taps: np.ndarray, up: int, down: int) -> np.ndarray:
    """y[t] = up * sum_i x[i] * taps[i * up - t * down + half], the resample_poly definition."""
    half = taps.size // 2
    n_out = -(-x.size * up // down)
    y = np.zeros(n_out)
    for t in range(n_out):
        for i in range(x.size):
            k = i * up - t * down + half
            if 0 <= k < taps.size:
                y[t] += up * x[i] * taps[k]
    return y


@pytest.mark.parametrize(("up", "down"), [(1, 2), (1, 3), (2, 1), (3, 2), (2, 5), (7, 3)], ids=str)
@pytest.mark.parametrize("block", [1, 2, 4, None], ids=lambda b: f"block{b}")
@pytest.mark.parametrize("taps_size", [1, 5, 23])
def test_matches_naive_sum(up, down, block, taps_size, rng):
    taps = rng.standard_normal(taps_size)
    kernel = polyphase_kernel(taps, up, down, block)
    for time in [1, 2, 9, 31]:
        x = rng.standard_normal(time)
        got = polyphase_resample(torch.from_numpy(x)[None], kernel)[0].numpy()
        np.testing.assert_allclose(got, naive(x, taps, up, down), rtol=1e-10, atol=1e-12)


def test_span_is_the_largest_phase_support():
    taps = np.ones(9)
    assert polyphase_kernel(taps, 1, 2).span == 9
    assert polyphase_kernel(taps, 2, 1).span == 5  # phases see 5 and 4 of the 9 taps


@pytest.mark.parametrize("chunk_floats", [1, 50, 333])
@pytest.mark.parametrize(("up", "down"), [(1, 3), (3, 2), (2, 1)], ids=str)
def test_chunked_path_matches_naive_sum(up, down, chunk_floats, rng, monkeypatch):
    """Long inputs run in chunks; force tiny chunks and compare with the definition."""
    from seqdown.dsp import polyphase

    monkeypatch.setattr(polyphase, "_ONE_SHOT_FLOATS", 0)
    monkeypatch.setattr(polyphase, "_CHUNK_FLOATS", chunk_floats)
    taps = rng.standard_normal(23)
    kernel = polyphase_kernel(taps, up, down)
    for time in [1, 40, 97]:
        x = rng.standard_normal((2, time))
        got = polyphase_resample(torch.from_numpy(x), kernel).numpy()
        for row in range(2):
            np.testing.assert_allclose(got[row], naive(x[row], taps, up, down), rtol=1e-10,
                                       atol=1e-12)


@pytest.mark.parametrize("factor", [2, 3, 4, 5])
@pytest.mark.parametrize("taps_size", [1, 5, 23, 31])
@pytest.mark.parametrize("padtype", ["constant", "line"])
def test_depthwise_decimation_matches_the_polyphase_layout(factor, taps_size, padtype, rng,
                                                           monkeypatch):
    """Many rows take the depthwise path (interior convolution on x itself, padded ends);
    it computes the same sums as the blocked layout, which the naive loop checks above."""
    from seqdown.dsp import polyphase

    taps = rng.standard_normal(taps_size)
    kernel = polyphase_kernel(taps, 1, factor)
    for time in [1, 2, factor, taps_size - 1 or 1, taps_size, taps_size + factor + 1, 200]:
        x = torch.from_numpy(rng.standard_normal((polyphase._DEPTHWISE_ROWS, time)) + 1.0)
        depthwise = polyphase_resample(x, kernel, padtype=padtype)
        with monkeypatch.context() as patch:
            patch.setattr(polyphase, "_DEPTHWISE_ROWS", 1 << 30)
            blocked = polyphase_resample(x, kernel, padtype=padtype)
        torch.testing.assert_close(depthwise, blocked, rtol=1e-10, atol=1e-12)
        if padtype == "constant":
            np.testing.assert_allclose(depthwise[3].numpy(), naive(x[3].numpy(), taps, 1, factor),
                                       rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("rows", [17, 40])
def test_depthwise_chunks_of_rows_match_one_convolution(rows, rng, monkeypatch):
    """The interior convolution runs on chunks of 16 rows (a last partial one of 1 or 8)."""
    from seqdown.dsp import polyphase

    taps = rng.standard_normal(23)
    kernel = polyphase_kernel(taps, 1, 3)
    x = torch.from_numpy(rng.standard_normal((rows, 200)))  # 200 % 3: the depthwise path
    whole = polyphase_resample(x, kernel)
    monkeypatch.setattr(polyphase, "_DEPTHWISE_FLOATS", 1)
    chunked = polyphase_resample(x, kernel)
    torch.testing.assert_close(chunked, whole, rtol=0, atol=0)
    for row in (0, 15, 16, rows - 1):  # each side of the first chunk's end, and the last
        np.testing.assert_allclose(chunked[row].numpy(), naive(x[row].numpy(), taps, 1, 3),
                                   rtol=1e-10, atol=1e-12)


def kernel_taps(kernel: object) -> np.ndarray:
    """The filter of a decimation kernel (phase 0 holds it; tap c * down + b at [0, b, c])."""
    weight = kernel.weight  # type: ignore[attr-defined]
    return weight[0].T.reshape(-1)[: kernel.span]  # type: ignore[attr-defined]


def with_garbage(x: torch.Tensor, lengths: torch.Tensor, finite: bool = False) -> torch.Tensor:
    """``x`` with each row's steps from ``lengths[r]`` on set to NaN, inf or huge values
    (only huge ones with ``finite``)."""
    garbage = x.clone()
    for r, n in enumerate(lengths.tolist()):
        garbage[r, n:] = -1e30 if finite else (float("nan"), float("inf"), -1e30)[r % 3]
    return garbage


@pytest.mark.parametrize("path", ["depthwise", "blocked"])
@pytest.mark.parametrize("factor", [2, 3, 4, 5])
@pytest.mark.parametrize("taps_size", [1, 5, 23, 31])
@pytest.mark.parametrize("finite", [False, True], ids=["nan-inf-huge", "huge"])
def test_lengths_read_the_padding_as_zeros(path, factor, taps_size, finite, rng, monkeypatch):
    """Each row's valid outputs are the naive sum over the row cut to its length, whatever
    its padding holds (the depthwise path filters the padding and redoes the outputs
    that read it, only those that read it through non-zero taps when no NaN shows;
    the blocked path masks a copy)."""
    from seqdown.dsp import polyphase

    if path == "blocked":
        monkeypatch.setattr(polyphase, "_DEPTHWISE_ROWS", 1 << 30)
    taps = rng.standard_normal(taps_size)
    kernel = polyphase_kernel(taps, 1, factor)
    rows = 24
    for time in [1, 2, factor, taps_size - 1 or 1, taps_size, taps_size + factor + 1, 200]:
        x = torch.from_numpy(rng.standard_normal((rows, time)))
        lengths = torch.from_numpy(rng.integers(0, time + 1, rows))
        lengths[:4] = torch.tensor([0, 1, time, max(0, time - 1)])
        got = polyphase_resample(with_garbage(x, lengths, finite), kernel, lengths=lengths)
        assert got.shape == (rows, -(-time // factor))
        for r, n in enumerate(lengths.tolist()):
            steps = -(-n // factor)
            expected = naive(x[r, :n].numpy(), taps, 1, factor)
            np.testing.assert_allclose(got[r, :steps].numpy(), expected, rtol=1e-10, atol=1e-12,
                                       err_msg=f"time {time}, row {r}, length {n}")


@pytest.mark.parametrize("path", ["depthwise", "blocked"])
@pytest.mark.parametrize("time", [200, 203])
def test_one_length_per_group_of_rows(path, time, rng, monkeypatch):
    """``(items,)`` lengths hold for ``rows // items`` consecutive rows each: the same
    output as the lengths repeated per row."""
    from seqdown.dsp import polyphase

    if path == "blocked":
        monkeypatch.setattr(polyphase, "_DEPTHWISE_ROWS", 1 << 30)
    kernel = polyphase_kernel(rng.standard_normal(31), 1, 4)
    lengths = torch.tensor([time, 0, 1, 37, 150, time - 1])
    per_row = lengths.repeat_interleave(5)
    x = with_garbage(torch.from_numpy(rng.standard_normal((30, time))), per_row)
    valid = torch.arange(-(-time // 4)) < torch.div(per_row + 3, 4, rounding_mode="floor")[:, None]
    grouped = polyphase_resample(x, kernel, lengths=lengths)
    reference = polyphase_resample(x, kernel, lengths=per_row)
    assert torch.equal(torch.where(valid, grouped, 0.0), torch.where(valid, reference, 0.0))


def test_lengths_keep_full_rows_exactly(rng):
    """A row that fills the time axis gets the very numbers it gets without lengths when
    its neighbours' padding is finite (zero taps times finite values add exact zeros);
    NaN or inf there makes the flat layout redo the outputs that cross into it, which
    changes them by rounding only."""
    kernel = polyphase_kernel(rng.standard_normal(31), 1, 2)
    x = torch.from_numpy(rng.standard_normal((20, 300)))
    lengths = torch.full((20,), 300)
    lengths[::2] = 150
    reference = polyphase_resample(x, kernel)[1::2]
    huge = torch.where(torch.arange(300) < lengths[:, None], x, -1e30)
    assert torch.equal(polyphase_resample(huge, kernel, lengths=lengths)[1::2], reference)
    got = polyphase_resample(with_garbage(x, lengths), kernel, lengths=lengths)[1::2]
    torch.testing.assert_close(got, reference, rtol=1e-12, atol=1e-12)
    assert not torch.equal(got, reference)  # the crossing outputs were redone


def test_lengths_gradient(rng):
    """Differentiable through the redone ends; the padding gets no gradient."""
    kernel = polyphase_kernel(rng.standard_normal(9), 1, 3)
    lengths = torch.tensor([0, 1, 5, 11, 17, 20] * 3)
    valid = torch.arange(7) < torch.div(lengths + 2, 3, rounding_mode="floor")[:, None]
    x = torch.from_numpy(rng.standard_normal((18, 20))).requires_grad_()

    def run(x: torch.Tensor) -> torch.Tensor:
        return torch.where(valid, polyphase_resample(x, kernel, lengths=lengths), 0.0)

    assert torch.autograd.gradcheck(run, (x,))
    run(x).sum().backward()
    assert x.grad is not None
    assert (x.grad[torch.arange(20) >= lengths[:, None]] == 0).all()


@pytest.mark.parametrize(("lengths", "padtype", "match"), [
    (torch.tensor([3, 3, 3]), "constant", r"lengths must have shape \(16,\).*got \(3,\)"),
    (torch.full((16, 1), 3), "constant", r"lengths must have shape \(16,\).*got \(16, 1\)"),
    (torch.full((16,), 3), "edge", "lengths needs padtype='constant'.*got padtype='edge'"),
    (torch.tensor([3, -1] * 8), "constant", r"lengths must be >= 0, got -1"),
    (torch.full((4,), 11), "constant", r"must be <= the time axis of x \(10\), got 11"),
    (torch.full((16,), 3.0), "constant", r"lengths must be an integer tensor.*float32"),
])
def test_bad_lengths(lengths, padtype, match):
    kernel = polyphase_kernel(np.ones(5) / 5, 1, 2)
    with pytest.raises((ValueError, TypeError), match=match):
        polyphase_resample(torch.zeros(16, 10), kernel, padtype=padtype, lengths=lengths)


@pytest.fixture
def flat_calls(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Records, for each depthwise decimation, whether the flat layout ran."""
    from seqdown.dsp import polyphase

    calls: list[bool] = []
    original = polyphase._flat_decimate

    def spy(*args: object) -> object:
        result = original(*args)  # type: ignore[arg-type]
        calls.append(result is not None)
        return result

    monkeypatch.setattr(polyphase, "_flat_decimate", spy)
    return calls


@pytest.mark.parametrize("factor", [2, 3, 4, 5])
@pytest.mark.parametrize("taps_size", [5, 31, 61])
@pytest.mark.parametrize("padtype", ["constant", "line"])
@pytest.mark.parametrize("rows", [24, 21])
def test_flat_layout_matches_the_blocked_layout(factor, taps_size, padtype, rows, rng,
                                                 monkeypatch, flat_calls):
    """Rows whose length is a multiple of the factor run end to end as one signal; the
    outputs near each row's ends are redone from the row itself. With 21 rows the batch
    does not fill the last conv step: the padding stands in for its last samples."""
    from seqdown.dsp import polyphase

    kernel = polyphase_kernel(rng.standard_normal(taps_size), 1, factor)
    x = torch.from_numpy(rng.standard_normal((rows, 120 * factor)) + 1.0)
    flat = polyphase_resample(x, kernel, padtype=padtype)
    single = polyphase_resample(x.float(), kernel, padtype=padtype)
    assert flat_calls == [True, True]
    with monkeypatch.context() as patch:
        patch.setattr(polyphase, "_DEPTHWISE_ROWS", 1 << 30)
        blocked = polyphase_resample(x, kernel, padtype=padtype)
    torch.testing.assert_close(flat, blocked, rtol=1e-10, atol=1e-12)
    # float32 (oneDNN's channels-last kernel) against the float64 sums: rounding only.
    torch.testing.assert_close(single.double(), blocked, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("time", [400, 404, 1000])
def test_flat_layout_keeps_rows_apart(time, rng, flat_calls):
    """A row full of NaN and inf next to the others changes none of their outputs beyond
    rounding (the zero taps of a step that straddles two rows carry ``0 * inf = nan``
    over: those outputs are redone in the rows that show it), and the rows that do not
    touch it get the very same numbers. The times put the row ends at different places
    of the steps."""
    kernel = polyphase_kernel(rng.standard_normal(61), 1, 4)
    x = torch.from_numpy(rng.standard_normal((20, time))).float()
    reference = polyphase_resample(x, kernel)
    x[7] = float("nan")
    x[12, ::2] = float("inf")
    got = polyphase_resample(x, kernel)
    assert flat_calls == [True, True]
    neighbours = [6, 8, 11, 13]
    others = [r for r in range(20) if r not in (7, 12, *neighbours)]
    assert torch.equal(got[others], reference[others])
    torch.testing.assert_close(got[neighbours], reference[neighbours], rtol=1e-5, atol=1e-5)

"""Streaming features against torchaudio's one-shot transforms, and the frame-count rule."""

from __future__ import annotations

import pytest
import torch
import torchaudio

from seqdown.dataset.audio import TooShort
from seqdown.dataset.features import FeatureExtractor, FeatureSpec, compute_features, stft_frames

SPECS = {
    "16k-25ms-10ms": (16000, 25.0, 10.0),  # n_fft 400, hop 160
    "22k05-25ms-10ms": (22050, 25.0, 10.0),  # n_fft 551 (odd), hop 221 (half rounded up)
    "8k-32ms-7ms": (8000, 32.0, 7.0),  # n_fft 256, hop 56
}


def torchaudio_mel(spec: FeatureSpec) -> torchaudio.transforms.MelSpectrogram:
    return torchaudio.transforms.MelSpectrogram(spec.sample_rate, n_fft=spec.n_fft,
                                                hop_length=spec.hop_length, n_mels=spec.n_mels)


def streamed(spec: FeatureSpec, x: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """Features of ``x`` pushed in random block sizes (1 to 700 samples, and empty blocks)."""
    extractor = FeatureExtractor(spec)
    generator = torch.Generator().manual_seed(seed)
    start = 0
    while start < x.shape[1]:
        size = int(torch.randint(0, 700, (1,), generator=generator))
        extractor.push(x[:, start:start + size])
        start += size
    return extractor.finish()


@pytest.mark.parametrize("key", SPECS, ids=list(SPECS))
@pytest.mark.parametrize("extra", [0, 1, 2, 159, 160, 161, 3333])
def test_stft_frames_is_torchaudio_length(key, extra):
    sample_rate, win_ms, hop_ms = SPECS[key]
    spec = FeatureSpec("logmel", sample_rate, win_ms=win_ms, hop_ms=hop_ms)
    n = spec.min_samples + extra
    frames = torchaudio.transforms.Spectrogram(spec.n_fft, hop_length=spec.hop_length)(
        torch.zeros(n)).shape[-1]
    assert stft_frames(n, spec.n_fft, spec.hop_length) == spec.frames(n) == frames
    if spec.n_fft % 2 == 0:
        assert frames == 1 + n // spec.hop_length


def test_stft_frames_below_the_reflect_minimum():
    assert stft_frames(200, 400, 160) == 0 and stft_frames(201, 400, 160) == 2
    with pytest.raises(RuntimeError):  # torch refuses what the rule calls 0 frames
        torch.stft(torch.zeros(1, 200), 400, 160, window=torch.hann_window(400),
                   return_complex=True)


@pytest.mark.parametrize("key", SPECS, ids=list(SPECS))
@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("length_seconds", [0.05, 1.3])
def test_streamed_logmel_equals_torchaudio(key, channels, length_seconds):
    sample_rate, win_ms, hop_ms = SPECS[key]
    spec = FeatureSpec("logmel", sample_rate, n_mels=40, win_ms=win_ms, hop_ms=hop_ms)
    x = torch.randn(channels, int(length_seconds * sample_rate), generator=torch.Generator()
                    .manual_seed(1)) * 0.1
    reference = torch.log(torchaudio_mel(spec)(x) + 1e-6).reshape(channels * 40, -1)
    y = streamed(spec, x)
    assert y.dtype == torch.float32 and y.shape == (channels * 40, spec.frames(x.shape[1]))
    # The same frames through the same transforms: float32 rounding at most.
    torch.testing.assert_close(y, reference, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("key", SPECS, ids=list(SPECS))
def test_streamed_mfcc_equals_torchaudio(key):
    sample_rate, win_ms, hop_ms = SPECS[key]
    spec = FeatureSpec("mfcc", sample_rate, n_mels=40, n_mfcc=13, win_ms=win_ms, hop_ms=hop_ms)
    x = torch.randn(1, sample_rate, generator=torch.Generator().manual_seed(2)) * 0.1
    mfcc = torchaudio.transforms.MFCC(sample_rate, n_mfcc=13, log_mels=True, melkwargs={
        "n_fft": spec.n_fft, "hop_length": spec.hop_length, "n_mels": 40})
    # The DCT is a matmul over other batch shapes: float32 sums in another order.
    torch.testing.assert_close(streamed(spec, x), mfcc(x)[0], rtol=1e-4, atol=1e-4)


def test_wave_is_the_waveform_itself():
    x = torch.randn(2, 1234)
    spec = FeatureSpec("wave", 16000)
    assert torch.equal(streamed(spec, x), x)
    assert spec.frames(1234) == 1234 and spec.channels(2) == 2 and spec.frame_rate == 16000


def test_too_short_for_one_frame():
    spec = FeatureSpec("logmel", 16000)
    assert compute_features(torch.zeros(1, 201), spec).shape == (80, 2)
    with pytest.raises(TooShort, match=r"200 samples at 16000 Hz.*needs at least 201"):
        compute_features(torch.zeros(1, 200), spec)


def test_silence_is_the_log_floor():
    y = compute_features(torch.zeros(1, 1600), FeatureSpec("logmel", 16000))
    torch.testing.assert_close(y, torch.full_like(y, torch.log(torch.tensor(1e-6)).item()))


@pytest.mark.parametrize(("win_ms", "hop_ms", "n_fft", "hop"),
                         [(25, 10, 551, 221), (20, 12.5, 441, 276), (25.0, 0.05, 551, 1)])
def test_milliseconds_round_to_nearest_sample(win_ms, hop_ms, n_fft, hop):
    spec = FeatureSpec("logmel", 22050, win_ms=win_ms, hop_ms=hop_ms)
    assert (spec.n_fft, spec.hop_length) == (n_fft, hop)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"kind": "spectrogram"}, "features must be one of 'wave', 'logmel', 'mfcc'"),
    ({"n_mels": 0}, "n_mels must be a positive integer, got 0"),
    ({"win_ms": -1.0}, "win_ms must be > 0.0, got -1.0"),
    ({"hop_ms": 0.01}, "hop_ms must be at least one sample at 16000 Hz, got 0.01 ms"),
    ({"win_ms": 0.05}, "win_ms must give at least 2 samples at 16000 Hz"),
    ({"kind": "mfcc", "n_mels": 10, "n_mfcc": 13}, r"n_mfcc must be <= n_mels \(10\), got 13"),
])
def test_bad_args(kwargs, message):
    arguments = {"kind": "logmel", "sample_rate": 16000, **kwargs}
    with pytest.raises(ValueError, match=message):
        FeatureSpec(**arguments)


def test_extractor_misuse():
    extractor = FeatureExtractor(FeatureSpec("logmel", 16000))
    with pytest.raises(ValueError, match=r"block must have shape \(channels, time\)"):
        extractor.push(torch.zeros(400))
    extractor.push(torch.zeros(1, 400))
    extractor.finish()
    with pytest.raises(RuntimeError, match="after finish"):
        extractor.push(torch.zeros(1, 400))

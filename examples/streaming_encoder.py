"""Stream spoken digits in 40 ms chunks through log-mel, decimate:2+max:2 and a GRU, exactly.

Each utterance of audio_fixtures/digits is resampled to 16 kHz and fed as it would
arrive from a microphone, 640 samples (40 ms) at a time, through three streaming
stages:

1. 80 log-mels, 25 ms windows every 10 ms (``center=False``, so that each frame
   needs only samples that have arrived), streamed by seqdown's generic
   :class:`~seqdown.frontends.streaming.Streamer` from its window geometry;
2. the front-end ``decimate:2+max:2`` (factor 4: one encoder step per 40 ms);
3. a unidirectional ``RNNEncoder`` GRU, whose state is carried across chunks.

Printed per utterance: chunks, encoder steps, the per-chunk latency (median and
worst, in ms of compute) and the largest difference between the streamed encoder
output and the offline ``encoder(features)`` of the whole utterance; then the
algorithmic latency of each front-end: its ``lookahead`` (input frames it waits
for) and the causal variant's ``delay``.

    python examples/streaming_encoder.py [--chunk-ms 40] [--causal] [--fast]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import soundfile
import torch
import torchaudio
from torch import Tensor

import seqdown
from seqdown.frontends.streaming import Streamer, StreamGeometry
from seqdown.lengths import conv_length

ROOT = Path(__file__).resolve().parents[1]
DIGITS = ROOT / "audio_fixtures" / "digits"
RATE, N_FFT, HOP, N_MELS = 16000, 400, 160, 80


def logmel_streamer(mel: torchaudio.transforms.MelSpectrogram) -> Streamer:
    """Log-mels of ``(batch, 1, samples)`` as a stream: frame ``t`` reads samples
    ``[t * HOP, t * HOP + N_FFT)``, the geometry of a strided window."""

    def op(wave: Tensor) -> Tensor:
        return (mel(wave.squeeze(1)) + 1e-6).log()

    return Streamer(op, StreamGeometry(up=1, down=HOP, left=0, span=N_FFT),
                    lambda n: conv_length(n, N_FFT, HOP), lambda channels: N_MELS)


def load(path: Path) -> Tensor:
    samples, rate = soundfile.read(path, dtype="float32", always_2d=True)
    wave = torch.from_numpy(samples.T[:1].copy())
    return seqdown.resample(wave, rate, RATE)[None]  # (1, 1, samples) at 16 kHz


def stream_one(wave: Tensor, mel: torchaudio.transforms.MelSpectrogram,
               encoder: seqdown.RNNEncoder, chunk: int) -> tuple[int, Tensor, list[float]]:
    features, encoded = logmel_streamer(mel), encoder.streamer()
    pieces, latencies = [], []
    for part in wave.split(chunk, dim=-1):
        start = time.perf_counter()
        pieces.append(encoded.push(features.push(part)))
        latencies.append(1000 * (time.perf_counter() - start))
    pieces.append(encoded.push(features.flush()))
    pieces.append(encoded.flush())
    return len(latencies), torch.cat(pieces, dim=1), latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunk-ms", type=int, default=40, help="chunk length (default 40)")
    parser.add_argument("--causal", action="store_true",
                        help="use Decimate(2, causal=True): lookahead 0, at the cost of a delay")
    parser.add_argument("--fast", action="store_true", help="three utterances (for the tests)")
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(1)
    chain = seqdown.Chain(seqdown.Decimate(2, causal=args.causal), seqdown.MaxPool(2))
    encoder = seqdown.RNNEncoder(N_MELS, 64, frontend=chain, rnn="gru").eval()
    mel = torchaudio.transforms.MelSpectrogram(RATE, n_fft=N_FFT, hop_length=HOP,
                                               n_mels=N_MELS, center=False)
    chunk = RATE * args.chunk_ms // 1000
    paths = sorted(DIGITS.glob("*.flac"))[: 3 if args.fast else None]
    print(f"{len(paths)} utterances at {RATE} Hz in {args.chunk_ms} ms chunks "
          f"({chunk} samples), log-mel -> {'causal ' if args.causal else ''}decimate:2+max:2 "
          "-> GRU(64)")
    print(f"{'utterance':<18}{'chunks':>7}{'steps':>7}{'median ms':>11}{'worst ms':>10}"
          f"{'max difference':>16}")
    worst = 0.0
    with torch.no_grad():
        for path in paths:
            wave = load(path)
            chunks, streamed, latencies = stream_one(wave, mel, encoder, chunk)
            offline = encoder((mel(wave.squeeze(1)) + 1e-6).log())[0]
            assert streamed.shape == offline.shape, (streamed.shape, offline.shape)
            difference = float((streamed - offline).abs().max())
            worst = max(worst, difference)
            print(f"{path.stem:<18}{chunks:>7}{streamed.shape[1]:>7}"
                  f"{statistics.median(latencies):>11.3f}{max(latencies):>10.3f}"
                  f"{difference:>16.2e}")
    print(f"max difference {worst:.2e} (streamed vs offline, all utterances)")
    frame_ms = 1000 * HOP // RATE
    print(f"front-end lookahead {chain.lookahead} frames ({chain.lookahead * frame_ms} ms), "
          f"delay {chain.delay} frames; log-mel window {1000 * N_FFT // RATE} ms")


if __name__ == "__main__":
    main()

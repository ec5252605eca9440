"""Streaming vs offline: what chunked == offline costs, for 10, 40 and 160 ms chunks.

For each pipeline, the same total input (``--seconds`` of signal, batch 1) runs once
offline (one call on the whole input) and once streamed (``push`` per chunk, then
``flush``). Printed per chunk size: the number of chunks, the median and the largest
time per chunk, the total streamed time, the offline time and their ratio (streamed /
offline). The ratio is the price of the bounded state: a windowed op re-runs on the
window left over from the previous chunk, so it falls as chunks grow past the receptive
field. ``Resample``'s FFT and table engines run the offline path's own blocks on its
grid (exact streaming): most pushes of a short chunk only buffer, and the push that
completes a block runs it, hence a small median and a larger maximum per chunk.
Times are medians of ``--repeat`` runs after a warm-up, one torch thread unless
``--threads`` says otherwise; only ratios measured in one run compare.

Pipelines:

* ``Resample(48000, 16000)`` on a 48 kHz waveform (10 ms = 480 samples), on its
  default FFT engine and on the tabulated one (``method="table"``, the low-lookahead
  choice);
* ``decimate:2+max:2`` on 80 log-mel channels at 100 frames/s (10 ms = 1 frame);
* a unidirectional GRU ``RNNEncoder(80, 256, "decimate:2+max:2")`` on the same frames.

    python benchmarks/bench_streaming.py [--seconds 10] [--repeat 5] [--threads 1]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable

import torch
from torch import Tensor

import seqdown

CHUNKS_MS = (10, 40, 160)


def median_time(run: Callable[[], object], repeat: int) -> float:
    run()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def streamed(module: torch.nn.Module, x: Tensor, chunk: int) -> Callable[[], list[float]]:
    def run() -> list[float]:
        streamer, per_chunk = module.streamer(), []
        for part in x.split(chunk, dim=-1):
            start = time.perf_counter()
            streamer.push(part)
            per_chunk.append(time.perf_counter() - start)
        streamer.flush()
        return per_chunk

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="total input (default 10)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs (default 5)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    pipelines: list[tuple[str, torch.nn.Module, int, int]] = [  # name, module, rate, channels
        ("Resample 48k-16k fft", seqdown.Resample(48000, 16000), 48000, 1),
        ("Resample 48k-16k table", seqdown.Resample(48000, 16000, method="table"), 48000, 1),
        ("decimate:2+max:2", seqdown.build_frontend("decimate:2+max:2"), 100, 80),
        ("RNNEncoder GRU-256", seqdown.RNNEncoder(80, 256, frontend="decimate:2+max:2",
                                                 rnn="gru").eval(), 100, 80),
    ]
    print(f"torch {torch.__version__}, {args.threads} thread(s), {platform.machine()}; "
          f"{args.seconds:g} s of input, batch 1, median of {args.repeat}")
    print(f"{'pipeline':<24}{'chunk':>7}{'chunks':>8}{'median us':>11}{'max us':>10}"
          f"{'streamed ms':>13}{'offline ms':>12}{'ratio':>8}")
    with torch.no_grad():
        for name, module, rate, channels in pipelines:
            x = torch.randn(1, channels, int(args.seconds * rate))
            offline = median_time(lambda m=module, x=x: m(x), args.repeat)
            for chunk_ms in CHUNKS_MS:
                chunk = max(1, rate * chunk_ms // 1000)
                run = streamed(module, x, chunk)
                total = median_time(run, args.repeat)
                per_chunk = run()
                chunks = -(-x.shape[-1] // chunk)
                print(f"{name:<24}{chunk_ms:>5}ms{chunks:>8}"
                      f"{1e6 * statistics.median(per_chunk):>11.1f}{1e6 * max(per_chunk):>10.1f}"
                      f"{1e3 * total:>13.2f}{1e3 * offline:>12.2f}{total / offline:>8.2f}")


if __name__ == "__main__":
    main()

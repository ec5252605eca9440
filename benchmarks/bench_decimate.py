"""Anti-aliased downsampling, 48 kHz -> 16 kHz by default: seqdown vs scipy, torchaudio, soxr.

Times each resampler on 8 channels x 30 s of noise (median of several runs,
after a warm-up), and measures what it does to tones:

* worst alias: the largest output level (dB re. the input tone) of tones from the
  output Nyquist frequency up to the input Nyquist, each fitted by least squares
  at the frequency it folds to;
* passband deviation: the largest gain error (dB) of tones up to 0.5 and up to
  0.9 of the output Nyquist frequency.

seqdown and ``scipy.signal.resample_poly`` run the same taps in the "same filter"
rows, so their speeds compare at equal quality. Run::

    python benchmarks/bench_decimate.py [--orig 48000] [--new 16000] [--seconds 30]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torchaudio.functional as AF
from bench_resample import tone_levels  # the same tone measurement for both tables
from scipy import signal

import seqdown
from seqdown.dsp.filters import design_lowpass

Resampler = Callable[[np.ndarray], np.ndarray]  # float32 (channels, time) -> (channels, time')


@dataclass
class Row:
    name: str
    taps: str
    run: Resampler


def seqdown_module(module: seqdown.FrontEnd, device: str = "cpu") -> Resampler:
    module = module.to(device)

    def run(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            y = module(torch.from_numpy(x).to(device).unsqueeze(0))[0]
        if device == "cuda":
            torch.cuda.synchronize()
        return y[0].cpu().numpy()

    return run


def scipy_same_filter(orig: int, new: int, attenuation: float, transition: float) -> Resampler:
    up, down = new // math.gcd(orig, new), orig // math.gcd(orig, new)
    taps = design_lowpass(up, down, attenuation=attenuation, transition=transition)
    return lambda x: signal.resample_poly(x, up, down, axis=-1, window=taps)


def torchaudio_resample(orig: int, new: int, **kwargs: float | str) -> Resampler:
    return lambda x: AF.resample(torch.from_numpy(x), orig, new, **kwargs).numpy()


def soxr_resample(orig: int, new: int, quality: str) -> Resampler | None:
    try:
        import soxr
    except ImportError:
        return None
    return lambda x: soxr.resample(x.T, orig, new, quality=quality).T


def rows(orig: int, new: int) -> list[Row]:
    up, down = new // math.gcd(orig, new), orig // math.gcd(orig, new)
    specs = {"60 dB, 0.5": (60.0, 0.5), "100 dB, 0.1": (100.0, 0.1)}
    table = []
    for label, (attenuation, transition) in specs.items():
        taps = str(design_lowpass(up, down, attenuation=attenuation, transition=transition).size)
        if up == 1:
            module = seqdown.Decimate(down, attenuation, transition)
            name = f"seqdown Decimate({down}) {label}"
        else:
            module = seqdown.Resample(orig, new, attenuation, transition)
            name = f"seqdown Resample {label}"
        table.append(Row(name, taps, seqdown_module(module)))
        table.append(Row("scipy resample_poly, same filter", taps,
                         scipy_same_filter(orig, new, attenuation, transition)))
        if torch.cuda.is_available():
            table.append(Row(f"{name}, {torch.cuda.get_device_name()}", taps,
                             seqdown_module(module, "cuda")))
    table += [
        Row("scipy resample_poly, default", str(20 * max(up, down) + 1),
            lambda x: signal.resample_poly(x, up, down, axis=-1)),
        Row("torchaudio resample, default", "hann w=6", torchaudio_resample(orig, new)),
        Row("torchaudio resample, kaiser_best", "kaiser w=64", torchaudio_resample(
            orig, new, lowpass_filter_width=64, rolloff=0.9475937167399596,
            resampling_method="sinc_interp_kaiser", beta=14.769656459379492)),
    ]
    for quality in ("HQ", "VHQ"):
        run = soxr_resample(orig, new, quality)
        if run is not None:
            table.append(Row(f"soxr {quality}", "soxr", run))
    return table


def seconds_per_run(run: Resampler, x: np.ndarray, repeat: int) -> float:
    run(x)  # warm-up: filter design, caches, lazy initialisation
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        run(x)
        timings.append(time.perf_counter() - start)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orig", type=int, default=48000, help="input rate (default 48000)")
    parser.add_argument("--new", type=int, default=16000, help="output rate (default 16000)")
    parser.add_argument("--seconds", type=float, default=30.0, help="audio length (default 30)")
    parser.add_argument("--channels", type=int, default=8, help="channels (default 8)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per row (default 5)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: torch's own choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.new >= args.orig:
        parser.error("--new must be below --orig: this benchmark measures downsampling")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.channels, int(args.seconds * args.orig))).astype(np.float32)
    top = args.orig / args.new  # the input Nyquist, in output Nyquists
    aliases = np.array([1.001, 1.05, 1.1, 1.25, 1.5, 2.0, 0.98 * top])
    print(f"{args.channels} ch x {args.seconds:g} s, {args.orig} -> {args.new} Hz, float32, "
          f"torch threads {torch.get_num_threads()}, median of {args.repeat}\n")
    header = (f"| {'resampler':<42} | {'taps':>11} | {'time (ms)':>9} | {'x realtime':>10} | "
              f"{'worst alias (dB)':>16} | {'dev to 0.5 (dB)':>15} | {'dev to 0.9 (dB)':>15} |")
    print(header)
    print("|" + "|".join("-" * len(cell) for cell in header.split("|")[1:-1]) + "|")
    for row in rows(args.orig, args.new):
        elapsed = seconds_per_run(row.run, x, args.repeat)
        alias = tone_levels(row.run, args.orig, args.new, aliases).max()
        half = np.abs(tone_levels(row.run, args.orig, args.new, np.linspace(0.02, 0.5, 8))).max()
        most = np.abs(tone_levels(row.run, args.orig, args.new, np.linspace(0.5, 0.9, 8))).max()
        print(f"| {row.name:<42} | {row.taps:>11} | {elapsed * 1e3:>9.1f} | "
              f"{args.seconds / elapsed:>10.0f} | {alias:>16.1f} | {half:>15.4f} | "
              f"{max(half, most):>15.4f} |")


if __name__ == "__main__":
    main()

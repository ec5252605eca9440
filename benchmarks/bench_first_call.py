"""The first call at any ratio: design included, one thread, a fresh process each.

Issue 12 asks that for any pair of integer rates up to 768 kHz the kernel and the
working buffers stay under 64 MB and the first 1 s call (design included) take
under 1 s on one thread. For each pair this script starts a new Python process,
imports torch and seqdown, loads the engines' code with a tiny call at another
ratio (3 -> 2), then times one call on 1 s of mono float32 noise and reads how far
the process's peak RSS (``VmHWM``) rose during it. soxr HQ's first call runs the
same way in its own process, for comparison. The pairs are the benchmark's six,
the odd ones of the tests, the extremes (768000 -> 1 Hz and its neighbours), and
``--random`` pairs drawn uniformly from 1 .. 768000 Hz. Nothing here asserts a time.
Run::

    python benchmarks/bench_first_call.py [--random 40] [--seed 0] [--pair ORIG NEW]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time

from bench_resample import machine, peak_rss

PAIRS = [(48000, 16000), (44100, 16000), (22050, 16000), (16000, 8000), (8000, 16000),
         (16001, 16000), (44100, 44099), (48000, 44101), (22254, 16000), (11127, 8000),
         (767999, 768000), (1, 768000), (767999, 1000), (768000, 1001), (768000, 1),
         (767999, 1), (768000, 100), (767999, 100), (96000, 16), (96001, 7), (768000, 599),
         (3, 1), (1, 3)]


def probe(orig: int, new: int, library: str) -> dict[str, object]:
    """One first call in this process: seconds, peak RSS growth (MiB), engine."""
    import numpy as np
    import torch

    torch.set_num_threads(1)
    x = np.random.default_rng(0).standard_normal((1, orig), dtype=np.float32)
    if library == "soxr":
        import soxr

        soxr.resample(np.zeros(300, dtype=np.float32), 3, 2, quality="HQ")
        before, start = peak_rss(), time.perf_counter()
        soxr.resample(x[0], orig, new, quality="HQ")
        return {"seconds": time.perf_counter() - start,
                "mib": (peak_rss() - before) / 2**20, "method": "HQ"}
    import seqdown
    from seqdown.dsp.engine import resampling_plan
    from seqdown.dsp.filters import RESAMPLE_ATTENUATION, RESAMPLE_TRANSITION
    from seqdown.dsp.rates import rate_ratio

    seqdown.resample(torch.randn(1, 300), 3, 2)  # the engines' code, not this ratio's plan
    signal = torch.from_numpy(x)
    before, start = peak_rss(), time.perf_counter()
    y = seqdown.resample(signal, orig, new)
    seconds = time.perf_counter() - start
    assert y.shape == (1, new)
    plan = resampling_plan(*rate_ratio(orig, new), RESAMPLE_ATTENUATION, RESAMPLE_TRANSITION)
    method = plan.method
    if plan.stages is not None:
        method += " (" + " + ".join(stage.method for stage in plan.stages) + ")"
    return {"seconds": seconds, "mib": (peak_rss() - before) / 2**20, "method": method,
            "plan_kib": plan.nbytes / 1024}


#: Seconds a probe may take (soxr HQ spends minutes on 1 -> 768000 Hz).
TIMEOUT = 60


def run(orig: int, new: int, library: str) -> dict[str, object] | str:
    """A probe's figures, or why there are none."""
    command = [sys.executable, __file__, "--probe", str(orig), str(new), library]
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=True,
                                timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return f"> {TIMEOUT} s"
    except (subprocess.SubprocessError, OSError):
        return "failed"
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--random", type=int, default=40, help="random pairs (default 40)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random pairs")
    parser.add_argument("--no-soxr", action="store_true", help="skip soxr's column")
    parser.add_argument("--pair", type=int, nargs=2, action="append", metavar=("ORIG", "NEW"),
                        help="a pair to run instead of the chosen ones (repeatable)")
    parser.add_argument("--probe", nargs=3, help=argparse.SUPPRESS)  # internal: one call
    args = parser.parse_args()
    if args.probe:
        print(json.dumps(probe(int(args.probe[0]), int(args.probe[1]), args.probe[2])))
        return
    draw = random.Random(args.seed)
    pairs = [tuple(pair) for pair in args.pair] if args.pair else PAIRS
    pairs += [(draw.randint(1, 768000), draw.randint(1, 768000)) for _ in range(args.random)]
    print(f"Machine: {machine()}")
    print("One thread; 1 s of mono float32; a fresh process per call (design included).\n")
    print("| orig -> new (Hz) | engine | plan KiB | seqdown s | seqdown peak MiB "
          "| soxr HQ s | soxr HQ peak MiB |")
    print("|---|---|--:|--:|--:|--:|--:|")
    worst_time, worst_mib = (0.0, ""), (0.0, "")
    for orig, new in pairs:
        ours = run(orig, new, "seqdown")
        theirs = "not run" if args.no_soxr else run(orig, new, "soxr")
        name = f"{orig} -> {new}"
        if isinstance(ours, str):
            print(f"| {name} | {ours} | | | | | |")
            continue
        seconds, mib = float(ours["seconds"]), float(ours["mib"])
        worst_time = max(worst_time, (seconds, name))
        worst_mib = max(worst_mib, (mib, name))
        soxr_cells = (f"| {theirs} | |" if isinstance(theirs, str) else
                      f"| {float(theirs['seconds']):.3f} | {float(theirs['mib']):.1f} |")
        print(f"| {name} | {ours['method']} | {float(ours['plan_kib']):.0f} "
              f"| {seconds:.3f} | {mib:.1f} {soxr_cells}")
    print(f"\nSlowest first call: {worst_time[0]:.3f} s ({worst_time[1]}); largest peak RSS "
          f"growth: {worst_mib[0]:.1f} MiB ({worst_mib[1]}), over {len(pairs)} pairs.")


if __name__ == "__main__":
    main()

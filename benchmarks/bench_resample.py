"""Waveform resampling: seqdown against soxr, torchaudio, scipy and julius, side by side.

For each ratio (48 -> 16, 44.1 -> 16, 22.05 -> 16, 16 -> 8, 8 -> 16 and 16.001 -> 16
kHz by default) and each torch thread count, every resampler runs on the same
8 channels x 30 s of float32 noise, interleaved (one run of each in turn, then
again: a busy machine slows them alike), after a warm-up run that is not timed
(filter design, caches). Each row shows:

* worst alias (dB): the largest output level of 1 s tones from the output Nyquist
  frequency up to the input Nyquist, each fitted by least squares at the
  frequency it folds to (downsampling only; float32 tones, so about -140 dB is
  the floor);
* passband deviation (dB): the largest gain error of tones up to 0.9 of the
  lower Nyquist frequency;
* time: the median of the timed runs, and its ratio to soxr HQ's in the same run;
* peak memory: how far the peak RSS of a fresh process rose during one call on
  the benchmark input, after a 0.1 s warm-up call (one thread).

soxr runs single-threaded whatever the torch thread count (its default), scipy
too. Rows that cannot run a ratio in reasonable memory say so (torchaudio's and
julius's kernels grow with ``new_freq / gcd``: 16000 x 16001 values for 16001 ->
16000 Hz). A last table times the ``Decimate`` default on feature batches against
``avg_pool1d`` and against the code before issue 12 (loaded from git, timed in the
same loop). Nothing here asserts a speed: it measures. Run::

    python benchmarks/bench_resample.py [--seconds 30] [--repeat 5] [--threads 1 2]
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np
import scipy
import torch
import torch.nn.functional as F
import torchaudio
import torchaudio.functional as AF
from scipy import signal
from torch import Tensor

import seqdown

Resampler = Callable[[np.ndarray], np.ndarray]  # float32 (channels, time) -> (channels, time')
RATIOS = [(48000, 16000), (44100, 16000), (22050, 16000), (16000, 8000), (8000, 16000),
          (16001, 16000)]
#: torchaudio's kaiser_best settings (librosa's), with width 64 as the issue asks.
KAISER = {"lowpass_filter_width": 64, "rolloff": 0.9475937167399596,
          "resampling_method": "sinc_interp_kaiser", "beta": 14.769656459379492}
#: Kernels of torchaudio and julius hold about new_freq / gcd x orig_freq / gcd values.
MAX_KERNEL_TERMS = 1 << 22


@dataclass
class Row:
    name: str
    run: Resampler | None  # None: skipped, `why` says why
    why: str = ""
    dtype: type = np.float32  # the input it is timed on


def ratio_terms(orig: int, new: int) -> tuple[int, int]:
    common = math.gcd(orig, new)
    return new // common, orig // common


def seqdown_row(orig: int, new: int, quality: str) -> Resampler:
    def run(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return seqdown.resample(torch.from_numpy(x), orig, new, quality=quality).numpy()

    return run


def soxr_row(orig: int, new: int, quality: str) -> Resampler:
    import soxr

    return lambda x: soxr.resample(np.ascontiguousarray(x.T), orig, new, quality=quality).T


def rows(orig: int, new: int) -> list[Row]:
    up, down = ratio_terms(orig, new)
    small = up * down <= MAX_KERNEL_TERMS
    too_big = f"skipped: kernel of {up} x {down} phases"
    taps = seqdown.Resample(orig, new).taps if up * down <= 1 << 26 else None

    def torchaudio_row(**kwargs: float | str) -> Resampler:
        return lambda x: AF.resample(torch.from_numpy(x), orig, new, **kwargs).numpy()

    def julius_row() -> Resampler:
        import julius

        return lambda x: julius.resample_frac(torch.from_numpy(x), orig, new).numpy()

    table = [Row("seqdown default (hq)", seqdown_row(orig, new, "hq")),
             Row("seqdown default (hq), float64 input", seqdown_row(orig, new, "hq"),
                 dtype=np.float64),
             Row("seqdown vhq", seqdown_row(orig, new, "vhq")),
             Row("soxr HQ", soxr_row(orig, new, "HQ")),
             Row("soxr VHQ", soxr_row(orig, new, "VHQ"))]
    table += [Row("torchaudio default", torchaudio_row() if small else None, too_big),
              Row("torchaudio kaiser w=64", torchaudio_row(**KAISER) if small else None,
                  too_big),
              Row("scipy resample_poly default",
                  (lambda x: signal.resample_poly(x, up, down, axis=-1)) if small else None,
                  too_big)]
    same = None if taps is None else (
        lambda x: signal.resample_poly(x, up, down, axis=-1, window=taps))
    table.append(Row("scipy resample_poly, seqdown taps", same, "skipped: taps too long"))
    table.append(Row("julius resample_frac", julius_row() if small else None, too_big))
    return table


def tone_levels(run: Resampler, orig: int, new: int, positions: np.ndarray) -> np.ndarray:
    """Output level (dB re. input) of 1 s tones at ``positions`` times the lower Nyquist."""
    t = np.arange(orig) / orig
    frequencies = positions * min(orig, new) / 2
    tones = np.cos(2 * np.pi * frequencies[:, None] * t + 0.3).astype(np.float32)
    out = np.asarray(run(tones), dtype=np.float64)
    edge = out.shape[1] // 10
    steps = np.arange(edge, out.shape[1] - edge) / new
    out = out[:, edge : out.shape[1] - edge]
    levels = []
    for frequency, y in zip(frequencies, out, strict=True):
        folded = abs((frequency + new / 2) % new - new / 2)  # where it lands at the new rate
        basis = np.stack([np.cos(2 * np.pi * folded * steps), np.sin(2 * np.pi * folded * steps),
                          np.ones_like(steps)], axis=1)
        (a, b, _), *_ = np.linalg.lstsq(basis, y, rcond=None)
        levels.append(20 * np.log10(np.hypot(a, b) + 1e-300))
    return np.array(levels)


def quality(run: Resampler, orig: int, new: int) -> tuple[float, float]:
    """(worst alias dB or NaN when upsampling, worst passband deviation dB up to 0.9)."""
    alias = math.nan
    if new < orig:
        top = orig / new
        positions = np.array([1.0, 1.001, 1.05, 1.1, 1.25, 1.5, 2.0, 0.98 * top,
                              1 + 0.5 * (top - 1), 1 + 0.95 * (top - 1)])
        positions = positions[(positions >= 1.0) & (positions < top)]
        alias = float(tone_levels(run, orig, new, positions).max())
    deviation = float(np.abs(tone_levels(run, orig, new, np.linspace(0.02, 0.9, 12))).max())
    return alias, deviation


def peak_growth(orig: int, new: int, name: str, args: argparse.Namespace) -> float | None:
    """MiB the peak RSS of a fresh process rises during one call (after a 0.1 s warm-up)."""
    command = [sys.executable, __file__, "--probe", str(orig), str(new), name,
               "--seconds", str(args.seconds), "--channels", str(args.channels)]
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=True,
                                timeout=600)
    except (subprocess.SubprocessError, OSError):
        return None
    return float(result.stdout.strip().splitlines()[-1])


def probe(orig: int, new: int, name: str, args: argparse.Namespace) -> None:
    """Prints the peak RSS growth (MiB) of row ``name`` on the benchmark input."""
    torch.set_num_threads(1)
    row = next(row for row in rows(orig, new) if row.name == name)
    assert row.run is not None
    rng = np.random.default_rng(0)
    row.run(rng.standard_normal((args.channels, orig // 10), dtype=row.dtype))  # design
    # Drawn in its dtype: no float64 temporary raises the peak before the call.
    x = rng.standard_normal((args.channels, int(args.seconds * orig)), dtype=row.dtype)
    before = peak_rss()
    row.run(x)
    print((peak_rss() - before) / 2**20)


def peak_rss() -> int:
    """Peak RSS in bytes of this process's own memory since exec.

    ``ru_maxrss`` would also count the parent's memory at fork time (it survives
    exec on Linux), so the kernel's per-address-space high-water mark is read.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    import soxr

    versions = {"torch": torch.__version__, "torchaudio": torchaudio.__version__,
                "scipy": scipy.__version__, "numpy": np.__version__, "soxr": soxr.__version__}
    from importlib.metadata import PackageNotFoundError, version

    try:
        versions["julius"] = version("julius")
    except PackageNotFoundError:
        versions["julius"] = "not installed"
    listed = ", ".join(f"{name} {version}" for name, version in versions.items())
    return (f"{cpu}, {os.cpu_count()} logical CPUs, torch CPU capability "
            f"{torch.backends.cpu.get_cpu_capability()}; {listed}")


def bench_ratio(orig: int, new: int, args: argparse.Namespace) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.channels, int(args.seconds * orig)), dtype=np.float32)
    inputs = {np.float32: x, np.float64: x.astype(np.float64)}
    table = [row for row in rows(orig, new) if args.only is None or args.only in row.name]
    runnable = [row for row in table if row.run is not None]
    measured = {row.name: quality(row.run, orig, new) for row in runnable}
    memory = {row.name: peak_growth(orig, new, row.name, args) for row in runnable}
    print(f"\n### {orig} -> {new} Hz ({args.channels} ch x {args.seconds:g} s, float32)\n")
    header = ("| resampler | worst alias (dB) | dev to 0.9 (dB) | "
              + " | ".join(f"{n} thr (ms) | x soxr HQ" for n in args.threads)
              + " | peak mem (MiB) |")
    print(header)
    print("|---|--:|--:|" + "--:|--:|" * len(args.threads) + "--:|")
    times: dict[str, dict[int, float]] = {row.name: {} for row in runnable}
    for count in args.threads:
        torch.set_num_threads(count)
        for row in runnable:
            row.run(inputs[row.dtype])  # warm-up at this thread count
        runs: dict[str, list[float]] = {row.name: [] for row in runnable}
        for _ in range(args.repeat):
            for row in runnable:
                assert row.run is not None
                start = time.perf_counter()
                row.run(inputs[row.dtype])
                runs[row.name].append(time.perf_counter() - start)
        for row in runnable:
            times[row.name][count] = statistics.median(runs[row.name])
    for row in table:
        if row.run is None:
            print(f"| {row.name} | {row.why} |" + " |" * (2 * len(args.threads) + 2))
            continue
        alias, deviation = measured[row.name]
        cells = []
        for count in args.threads:
            elapsed = times[row.name][count]
            reference = times.get("soxr HQ", {}).get(count, math.nan)
            cells.append(f"{elapsed * 1e3:.1f} | {elapsed / reference:.2f}")
        mem = memory[row.name]
        alias_cell = "—" if math.isnan(alias) else f"{alias:.1f}"
        mem_cell = "n/a" if mem is None else f"{mem:.0f}"
        print(f"| {row.name} | {alias_cell} | {deviation:.2e} | " + " | ".join(cells)
              + f" | {mem_cell} |")


#: The commit before issue 12 (the any-ratio engine) landed: the "before" of the table.
BEFORE_COMMIT = "82d31a5"


def engine_before() -> ModuleType | None:
    """``seqdown.dsp.polyphase`` as it was at :data:`BEFORE_COMMIT`, read with ``git show``.

    It needs only names that still exist (``check_positive_int``, ``design_lowpass``,
    ``ceil_div``, ``resample_length``), so it runs next to today's code in this process.
    None when git or the commit is not at hand (e.g. an installed copy).
    """
    root = Path(__file__).resolve().parent.parent
    try:
        source = subprocess.run(["git", "-C", str(root), "show",
                                 f"{BEFORE_COMMIT}:src/seqdown/dsp/polyphase.py"],
                                capture_output=True, text=True, check=True).stdout
    except (subprocess.SubprocessError, OSError):
        return None
    spec = importlib.util.spec_from_loader("seqdown_polyphase_before", loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    exec(compile(source, f"{BEFORE_COMMIT}:polyphase.py", "exec"), module.__dict__)
    return module


def bench_decimate(args: argparse.Namespace) -> None:
    """The Decimate default on feature batches against avg_pool1d and the code before issue 12.

    "before issue 12" is ``apply_kernel`` of ``seqdown.dsp.polyphase`` at commit
    :data:`BEFORE_COMMIT` (the blocked polyphase ``conv1d`` that ran every decimation
    then, the same 60 dB taps), loaded from git and timed in the same loop. The rows
    "with lengths" pass a ``lengths`` tensor (items of 500 to 1000 frames): the padding
    is zeroed before the filter and the output masked after it.

    The older code copies the input twice (padding, then the polyphase layout): how
    much that costs depends on the allocator's state. In a fresh process
    (``--features-only``) each 10 MiB copy lands on new pages; after the waveform
    tables (the full run) the heap holds enough freed memory to reuse. Compare the
    "before / this" column of the same run only, and say which mode it came from.
    """
    before = engine_before()
    x = torch.randn(32, 80, 1000)
    lengths = torch.randint(500, 1001, (32,), generator=torch.Generator().manual_seed(0))
    print("\n### Decimate default on feature batches (32 x 80 x 1000, float32)\n")
    if before is None:
        print(f"(commit {BEFORE_COMMIT} not at hand: no 'before issue 12' row)\n")
    header = ("| op | " + " | ".join(f"{n} thr (ms) | x avg_pool1d | before / this"
                                     for n in args.threads) + " |")
    print(header)
    print("|---|" + "--:|--:|--:|" * len(args.threads))
    for factor in (2, 4):
        module = seqdown.Decimate(factor)
        this = f"seqdown Decimate({factor})"
        ops: dict[str, Callable[[], Tensor]] = {
            this: lambda m=module: m(x)[0],
            f"{this}, with lengths": lambda m=module: m(x, lengths)[0],
        }
        if before is not None:
            kernel = before.resampling_kernel(1, factor, module.attenuation, module.transition)
            weight = torch.tensor(kernel.weight, dtype=x.dtype)
            ops[f"{this} before issue 12 ({BEFORE_COMMIT})"] = (
                lambda k=kernel, w=weight: before.apply_kernel(x, k, w))
        pool = f"avg_pool1d({factor})"
        ops[pool] = lambda f=factor: F.avg_pool1d(x, f, f, ceil_mode=True)
        times: dict[str, list[float]] = {name: [] for name in ops}
        for count in args.threads:
            torch.set_num_threads(count)
            runs: dict[str, list[float]] = {name: [] for name in ops}
            with torch.no_grad():
                for op in ops.values():
                    op()
                for _ in range(5 * args.repeat):
                    for name, op in ops.items():
                        start = time.perf_counter()
                        op()
                        runs[name].append(time.perf_counter() - start)
            for name in ops:
                times[name].append(statistics.median(runs[name]))
        old = times.get(f"{this} before issue 12 ({BEFORE_COMMIT})")
        for name, values in times.items():
            cells = []
            for i, value in enumerate(values):
                speedup = "" if old is None or name == pool else f"{old[i] / value:.2f}"
                cells.append(f"{value * 1e3:.2f} | {value / times[pool][i]:.2f} | {speedup}")
            print(f"| {name} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="audio length (default 30)")
    parser.add_argument("--channels", type=int, default=8, help="channels (default 8)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per row (default 5)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2],
                        help="torch thread counts (default 1 2)")
    parser.add_argument("--ratio", type=int, nargs=2, action="append", metavar=("ORIG", "NEW"),
                        help="a ratio to run (repeatable; default: the six of the issue)")
    parser.add_argument("--only", default=None, help="run only rows whose name contains this")
    parser.add_argument("--features-only", action="store_true",
                        help="run only the Decimate-on-features table")
    parser.add_argument("--probe", nargs=3, metavar=("ORIG", "NEW", "ROW"),
                        help=argparse.SUPPRESS)  # internal: one row's peak memory
    args = parser.parse_args()
    if args.probe:
        probe(int(args.probe[0]), int(args.probe[1]), args.probe[2], args)
        return
    print(f"Machine: {machine()}")
    print(f"Timed runs per row: {args.repeat}, interleaved; soxr and scipy single-threaded.")
    for orig, new in [] if args.features_only else args.ratio or RATIOS:
        bench_ratio(orig, new, args)
    if not args.ratio:
        bench_decimate(args)


if __name__ == "__main__":
    main()

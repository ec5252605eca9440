"""Dataset preprocessing speed: ``seqdown preprocess`` against the equivalent librosa pipeline.

Both pipelines turn the same audio files into 80 log-mels (16 kHz, 25 ms Hann
window, 10 ms hop, HTK mel scale, ``ln(power + 1e-6)``) shortened by 2 with the
same 31-tap low-pass (``Decimate(2)``'s filter through ``scipy.signal.resample_poly``
on the librosa side), and save one ``.npy`` per file:

* seqdown: :func:`seqdown.dataset.pipeline.preprocess` (what ``seqdown preprocess
  --frontend decimate:2`` runs): streamed decoding, seqdown's 120 dB ``Resample``,
  torchaudio features, atomic writes, manifest and journal;
* librosa: ``librosa.load(path, sr=16000)`` (soxr "HQ" resampling, mono),
  ``librosa.feature.melspectrogram``, ``np.log``, ``resample_poly``, ``np.save``.

The real-time factor (RTF) is wall-clock time divided by the duration of the
audio: lower is faster. With one worker, the time each pipeline's resampler
alone takes on the same files is shown as a share of that pipeline's time.
Each pipeline first processes one file per sample rate untimed (imports, JIT,
filter design), then the whole set is timed. With ``--workers N`` > 1 both run
in N spawned processes, whose start-up (importing torch or librosa, designing
filters again) is timed. Nothing here asserts a
speed: it measures.

With ``--scheduler local`` it compares seqdown's backends instead, on the same
files: the local process pool and a Dask ``LocalCluster`` (``processes=True``,
one thread per worker), each with 1 and 2 workers (``--workers``). Throughput
is hours of audio per wall-clock hour. The local pool's wall time includes
starting its worker processes (it starts them on each run); each Dask cluster
is started and warmed up (one file per sample rate) before it is timed, and the
time that took is shown apart (a cluster serves many runs). Dask's per-task
overhead is measured apart too: the wall time per task of 200 tasks that do
nothing, through the same executor, on one worker.

Usage: ``python benchmarks/bench_pipeline.py [--input DIR] [--files 24] [--seconds 30]
[--scheduler local]``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import soundfile
from scipy import signal

from seqdown.dataset.audio import find_audio
from seqdown.dataset.manifest import Record, read_jsonl
from seqdown.dataset.pipeline import preprocess
from seqdown.dataset.settings import RESAMPLING, Settings
from seqdown.dataset.utterance import BLOCK_SAMPLES
from seqdown.dsp import StreamingResampler
from seqdown.dsp.filters import design_lowpass

#: Sample rates and channel counts of the generated set, cycled over the files.
FORMATS = [(44100, 2), (48000, 1), (22050, 1), (8000, 1), (16000, 1), (32000, 2)]
TAPS = design_lowpass(1, 2, attenuation=60.0, transition=0.5)  # Decimate(2)'s filter


def generate(folder: Path, files: int, seconds: float) -> None:
    """Writes ``files`` 16-bit WAVs of chirps and noise at the rates of :data:`FORMATS`."""
    rng = np.random.default_rng(0)
    for index in range(files):
        sample_rate, channels = FORMATS[index % len(FORMATS)]
        t = np.arange(int(seconds * sample_rate)) / sample_rate
        tone = 0.3 * np.sin(2 * np.pi * (100 + 40 * t) * t)
        data = tone[:, None] + 0.05 * rng.standard_normal((t.size, channels))
        soundfile.write(folder / f"utt{index:03d}_{sample_rate}.wav", data, sample_rate,
                        subtype="PCM_16")


def librosa_file(job: tuple[str, str]) -> float:
    """The librosa pipeline on one file; returns its duration in seconds."""
    import librosa

    path, output = job
    waveform, _ = librosa.load(path, sr=16000)  # mono, soxr_hq
    power = librosa.feature.melspectrogram(y=waveform, sr=16000, n_fft=400, hop_length=160,
                                           n_mels=80, htk=True, norm=None, center=True,
                                           pad_mode="reflect")
    features = signal.resample_poly(np.log(power + 1e-6), 1, 2, axis=-1, window=TAPS)
    np.save(output, features.astype(np.float32))
    return soundfile.info(path).duration


def run_librosa(folder: Path, output: Path, workers: int) -> float:
    """Runs the librosa pipeline over the folder; returns the wall-clock seconds."""
    output.mkdir(parents=True, exist_ok=True)
    jobs = [(str(folder / name), str(output / (name.replace("/", "__") + ".npy")))
            for name in find_audio(folder)]
    start = time.perf_counter()
    if workers == 1:
        for job in jobs:
            librosa_file(job)
    else:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            list(pool.map(librosa_file, jobs))
    return time.perf_counter() - start


def run_seqdown(folder: Path, output: Path, workers: int) -> float:
    """Runs seqdown's pipeline over the folder; returns the wall-clock seconds."""
    start = time.perf_counter()
    summary = preprocess(Settings.make(folder, frontend="decimate:2"), output, workers=workers)
    if summary.failed:
        raise RuntimeError(f"{summary.failed} files failed; see {output}/failures.jsonl")
    return time.perf_counter() - start


def _nothing(job: int) -> int:
    """A task that does nothing, to measure what a task costs on its own."""
    return job


def compare_backends(folder: Path, warm: Path, scratch: Path, audio_seconds: float,
                     worker_counts: list[int]) -> None:
    """Prints the throughput of the local pool and of a Dask LocalCluster, and Dask's overhead."""
    import distributed

    from seqdown.dataset.cluster import DaskExecutor

    settings = Settings.make(folder, frontend="decimate:2")
    rows = []
    overhead_ms = None
    for workers in worker_counts:
        local = run_seqdown(folder, scratch / f"local-{workers}", workers)
        start = time.perf_counter()
        with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                      host="127.0.0.1", dashboard_address=None) as cluster, \
                distributed.Client(cluster, set_as_default=False) as client:
            preprocess(Settings.make(warm, frontend="decimate:2"), scratch / f"warm-{workers}",
                       scheduler=client)
            started = time.perf_counter() - start
            start = time.perf_counter()
            summary = preprocess(settings, scratch / f"dask-{workers}", scheduler=client)
            dask = time.perf_counter() - start
            if summary.failed:
                raise RuntimeError(f"{summary.failed} files failed on Dask")
            if workers == 1:
                tasks = 200
                start = time.perf_counter()
                for _ in DaskExecutor(client).map(_nothing, range(tasks), None):
                    pass
                overhead_ms = (time.perf_counter() - start) / tasks * 1000
        rows += [("local pool", workers, local, ""),
                 ("Dask LocalCluster", workers, dask, f"{started:.2f}")]
    print(f"| {'backend':<17} | {'workers':>7} | {'wall (s)':>8} | {'audio h / wall h':>16} | "
          f"{'vs local pool':>13} | {'cluster start + warm-up (s)':>27} |")
    print(f"|{'-' * 19}|{'-' * 8}:|{'-' * 9}:|{'-' * 17}:|{'-' * 14}:|{'-' * 28}:|")
    walls = {(name, workers): wall for name, workers, wall, _ in rows}
    for name, workers, wall, started_text in rows:
        ratio = walls[("local pool", workers)] / wall
        print(f"| {name:<17} | {workers:>7} | {wall:>8.2f} | {audio_seconds / wall:>16.0f} | "
              f"{ratio:>12.2f}x | {started_text:>27} |")
    if overhead_ms is not None:
        print(f"\nDask per-task overhead (no-op tasks, 1 worker): {overhead_ms:.2f} ms per task")
def resampling_seconds(folder: Path) -> dict[str, float]:
    """Seconds each pipeline spends resampling the folder to 16 kHz (decoding not timed).

    seqdown: the pipeline's ``StreamingResampler`` over blocks of ``BLOCK_SAMPLES`` (mono);
    librosa: ``librosa.resample(..., res_type="soxr_hq")``, what ``librosa.load`` runs.
    Both on the mono mix, as the pipelines do, on one thread (as each worker runs).
    """
    import librosa
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    spent = {"librosa": 0.0, "seqdown": 0.0}
    for name in find_audio(folder):
        data, rate = soundfile.read(folder / name, dtype="float32", always_2d=True)
        mono = np.ascontiguousarray(data.mean(axis=1))
        start = time.perf_counter()
        librosa.resample(mono, orig_sr=rate, target_sr=16000, res_type="soxr_hq")
        spent["librosa"] += time.perf_counter() - start
        block = torch.from_numpy(mono)[None]
        start = time.perf_counter()
        stream = StreamingResampler(rate, 16000, **RESAMPLING)
        for part in block.split(BLOCK_SAMPLES, dim=1):
            stream.process(part)
        stream.flush()
        spent["seqdown"] += time.perf_counter() - start
    torch.set_num_threads(threads)
    return spent


def agreement(folder: Path, seqdown_out: Path, librosa_out: Path) -> float:
    """Median |difference| of the two pipelines' log-mels over the frames both have."""
    differences = []
    for record in read_jsonl(seqdown_out / "manifest.jsonl", Record):
        ours = np.load(seqdown_out / record.feature_filepath)
        theirs = np.load(librosa_out / (record.source.replace("/", "__") + ".npy"))
        frames = min(ours.shape[1], theirs.shape[1])
        differences.append(np.abs(ours[:, :frames] - theirs[:, :frames]).ravel())
    return float(np.median(np.concatenate(differences)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", type=Path, default=None,
                        help="folder of audio to use (default: generate --files files)")
    parser.add_argument("--files", type=int, default=24, help="files to generate (%(default)s)")
    parser.add_argument("--seconds", type=float, default=30.0,
                        help="seconds per generated file (%(default)s)")
    parser.add_argument("--workers", type=int, nargs="+", default=None,
                        help="worker counts to time (default: 1 and the CPUs available)")
    parser.add_argument("--scheduler", choices=["local"], default=None,
                        help="compare the local pool with a Dask LocalCluster instead of "
                             "librosa (needs seqdown[dask])")
    args = parser.parse_args(argv)
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    worker_counts = args.workers or sorted({1, cpus or 1})
    scratch = Path(tempfile.mkdtemp(prefix="seqdown-bench-"))
    try:
        folder = args.input
        if folder is None:
            folder = scratch / "audio"
            folder.mkdir()
            generate(folder, args.files, args.seconds)
        names = find_audio(folder)
        audio_seconds = sum(soundfile.info(folder / name).duration for name in names)
        warm = scratch / "warm"
        warm.mkdir()
        rates = {soundfile.info(folder / name).samplerate: name for name in names}
        for rate, name in rates.items():  # one file per rate: each resampling filter is made
            shutil.copy(folder / name, warm / f"{rate}{Path(name).suffix}")
        run_seqdown(warm, scratch / "warm-seqdown", 1)
        print(f"{len(names)} files, {audio_seconds:.0f} s of audio; one CPU thread per worker\n")
        if args.scheduler == "local":
            compare_backends(folder, warm, scratch, audio_seconds, args.workers or [1, 2])
            return 0
        run_librosa(warm, scratch / "warm-librosa", 1)
        print(f"| {'pipeline':<8} | {'workers':>7} | {'wall (s)':>8} | {'RTF':>7} | "
              f"{'x real time':>11} | {'seqdown speed-up':>16} |")
        print(f"|{'-' * 10}|{'-' * 9}:|{'-' * 9}:|{'-' * 8}:|{'-' * 12}:|{'-' * 17}:|")
        walls: dict[str, float] = {}
        for workers in worker_counts:
            times = {
                "librosa": run_librosa(folder, scratch / f"librosa-{workers}", workers),
                "seqdown": run_seqdown(folder, scratch / f"seqdown-{workers}", workers),
            }
            if workers == 1:
                walls = times
            for name, seconds in times.items():
                ratio = times["librosa"] / times["seqdown"]
                speedup = f"{ratio:.2f}x" if name == "seqdown" else ""
                print(f"| {name:<8} | {workers:>7} | {seconds:>8.2f} | "
                      f"{seconds / audio_seconds:>7.4f} | {audio_seconds / seconds:>11.0f} | "
                      f"{speedup:>16} |")
        first = worker_counts[0]
        if first == 1:
            spent = resampling_seconds(folder)
            print("\n| pipeline | resampling alone (s) | share of its 1-worker wall time |")
            print("|---|--:|--:|")
            for name, seconds in spent.items():
                print(f"| {name} | {seconds:.2f} | {seconds / walls[name]:.0%} |")
        median = agreement(folder, scratch / f"seqdown-{first}", scratch / f"librosa-{first}")
        print(f"\nmedian |seqdown - librosa| of the log-mels: {median:.2e} (different resamplers: "
              f"seqdown's {RESAMPLING['attenuation']:g} dB Kaiser FIR vs soxr HQ)")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

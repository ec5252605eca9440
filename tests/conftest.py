"""Shared fixtures and helpers of the whole suite.

The front-end helpers are fixtures. The pipeline helpers (fixture audio,
generated audio, CLI runs) are functions that tests import from
``tests.conftest``, plus session fixtures for the expensive runs: the
end-to-end tests run the real command (``python -m seqdown``) on a copy of
``audio_fixtures/`` in a temporary folder, never writing into the repository.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

import seqdown
from seqdown.dataset.manifest import Record, read_jsonl

CUDA = pytest.param(
    "cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
)
DEVICES = ["cpu", CUDA]


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def folded(frequency: float) -> float:
    """A frequency in cycles per sample folded into [0, 0.5], where it appears after sampling."""
    frequency = frequency % 1.0
    return min(frequency, 1.0 - frequency)


@pytest.fixture
def tone_gain_db() -> Callable[..., float]:
    """``f(op, frequency, ratio=None, n=8192)``: level in dB of ``op``'s output re. a unit tone.

    ``op`` maps a float64 array to its output; ``frequency`` is in cycles per
    input sample. 10% of the output at each end (the edge transients) is dropped.
    With ``ratio`` (output steps per input step) the op is taken as linear, and
    the amplitude of the output at the tone's own frequency, folded into the
    output band, is fitted by least squares: exact, with no window leakage. Strong
    components at ``others`` (cycles per output sample) are fitted jointly so that
    they do not leak into the figure. Without
    it, the level is that of everything but DC (sqrt(2) times the RMS), which is
    all alias when the tone lies above the output Nyquist frequency.
    """

    def gain(op: Callable[[np.ndarray], np.ndarray], frequency: float,
             ratio: float | None = None, n: int = 8192, others: tuple[float, ...] = ()) -> float:
        x = np.cos(2 * np.pi * frequency * np.arange(n) + 0.3)
        y = np.asarray(op(x), dtype=np.float64)
        edge = y.size // 10
        y, t = y[edge : y.size - edge], np.arange(edge, y.size - edge)
        if ratio is None:
            return float(20 * np.log10(np.sqrt(2) * np.std(y) + 1e-300))
        columns = [np.ones(t.size)]
        for f in (folded(frequency / ratio), *others):
            columns += [np.cos(2 * np.pi * f * t), np.sin(2 * np.pi * f * t)]
        (_, a, b, *_), *_ = np.linalg.lstsq(np.stack(columns, axis=1), y, rcond=None)
        return float(20 * np.log10(np.hypot(a, b) + 1e-300))

    return gain


@pytest.fixture
def random_lengths() -> Callable[[int, int, int], torch.Tensor]:
    """``f(batch, time, seed)``: lengths with 0, 1 and ``time`` among random values."""

    def make(batch: int, time: int, seed: int = 0) -> torch.Tensor:
        generator = torch.Generator().manual_seed(seed)
        lengths = torch.randint(0, time + 1, (batch,), generator=generator)
        fixed = torch.tensor([0, 1, time])[:batch]
        lengths[: fixed.numel()] = fixed
        return lengths

    return make


@pytest.fixture
def check_batch_invariance() -> Callable[..., None]:
    """``f(frontend, x, lengths, atol, rtol)`` asserts the padded-batch contract.

    The padding of ``x`` is overwritten with NaN, +inf and huge values first:
    whatever the padding holds must not reach any output.
    """

    def check(frontend: seqdown.FrontEnd, x: torch.Tensor, lengths: torch.Tensor,
              atol: float = 1e-5, rtol: float = 1e-5) -> None:
        garbage = x.clone()
        for b, n in enumerate(lengths.tolist()):
            tail = garbage[b, :, n:]
            tail.copy_(torch.randn_like(tail) * 1e6)
            if tail.shape[-1] >= 2:
                tail[:, 0] = float("nan")
                tail[:, -1] = float("inf")
        y, out_lengths = frontend(garbage, lengths)
        assert out_lengths.dtype == torch.int64
        assert out_lengths.device == lengths.device
        assert out_lengths.tolist() == [frontend.output_length(int(n)) for n in lengths]
        assert torch.equal(out_lengths, frontend.output_length(lengths))
        assert y.shape[-1] == frontend.output_length(x.shape[-1])
        assert torch.isfinite(y).all()
        for b, n in enumerate(lengths.tolist()):
            m = int(out_lengths[b])
            assert (y[b, :, m:] == 0).all(), f"item {b}: output padding is not zero"
            if m:
                alone, _ = frontend(x[b : b + 1, :, :n])
                torch.testing.assert_close(y[b : b + 1, :, :m], alone, atol=atol, rtol=rtol)

    return check


#: One factory per kind of front-end (and chains), for the tests every front-end must pass.
FRONTENDS: dict[str, Callable[[int], seqdown.FrontEnd]] = {
    "max-3-2-pad1-ceil": lambda c: seqdown.MaxPool(3, 2, padding=1, ceil_mode=True),
    "max-2-dil2": lambda c: seqdown.MaxPool(2, 1, dilation=2),
    "avg-4-3-pad2-ceil-nopad": lambda c: seqdown.AvgPool(4, 3, 2, ceil_mode=True,
                                                          count_include_pad=False),
    "avg-3-2-pad1-ceil": lambda c: seqdown.AvgPool(3, 2, 1, ceil_mode=True),
    "conv-3-2-pad1": lambda c: seqdown.StridedConv(c, 5, 3, 2, padding=1),
    "conv-2-2-dil2": lambda c: seqdown.StridedConv(c, c, 2, 2, dilation=2, bias=False),
    "decimate-3": lambda c: seqdown.Decimate(3),
    "resample-3-2": lambda c: seqdown.Resample(3, 2, attenuation=60, transition=0.3),
    "resample-1-2": lambda c: seqdown.Resample(8000, 16000, attenuation=60, transition=0.3),
    "blur-2": lambda c: seqdown.BlurPool(2),
    "blur-3-order3": lambda c: seqdown.BlurPool(3, order=3),
    "stack-3": lambda c: seqdown.FrameStack(3),
    "stack-2-pad": lambda c: seqdown.FrameStack(2, pad_remainder=True),
    "chain-decimate-max": lambda c: seqdown.Chain(seqdown.Decimate(2), seqdown.MaxPool(2)),
    "chain-conv-stack-avg": lambda c: seqdown.build_frontend("conv:2+stack:2+avg:3", c),
    "identity": lambda c: seqdown.Chain(),
}


@pytest.fixture(params=list(FRONTENDS), ids=list(FRONTENDS))
def any_frontend(request: pytest.FixtureRequest) -> Callable[[int], seqdown.FrontEnd]:
    """A factory ``f(channels)`` for each kind of front-end, seeded for the learnable ones."""
    factory = FRONTENDS[request.param]

    def make(channels: int) -> seqdown.FrontEnd:
        torch.manual_seed(0)
        return factory(channels)

    return make


@pytest.fixture(params=DEVICES)
def device(request: pytest.FixtureRequest) -> torch.device:
    """The CPU, and CUDA when a GPU is present (skipped otherwise)."""
    return torch.device(request.param)


# --- the dataset pipeline ------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "audio_fixtures"
#: The options of the shared fixture run (exercises resampling from 8 to 48 kHz and a front-end).
FIXTURE_OPTIONS = ("--sample-rate", "16000", "--features", "logmel", "--frontend", "decimate:2")
#: Files of ``audio_fixtures/`` that fail, with the error class each must get.
BROKEN = {
    "broken/empty.wav": "EmptyFile",
    "broken/inf.wav": "NonFiniteSamples",
    "broken/nan.wav": "NonFiniteSamples",
    "broken/not_audio.flac": "UnreadableAudio",
    "broken/truncated_data.wav": "TruncatedAudio",
    "broken/truncated_header.wav": "UnreadableAudio",
    "broken/zero_samples.wav": "ZeroSamples",
}


@dataclass(frozen=True)
class Run:
    """A finished CLI run: its folders and what it printed."""

    input_dir: Path
    output_dir: Path
    returncode: int
    stdout: str
    stderr: str


def run_cli(*args: str | Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Runs ``python -m seqdown ARGS``; returns the completed process (never raises on status)."""
    return subprocess.run([sys.executable, "-m", "seqdown", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def preprocess_run(input_dir: Path, output_dir: Path, *options: str) -> Run:
    done = run_cli("preprocess", input_dir, output_dir, *options)
    return Run(input_dir, output_dir, done.returncode, done.stdout, done.stderr)


def tree(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` (relative POSIX path -> bytes), the lock file excepted."""
    return {path.relative_to(folder).as_posix(): path.read_bytes()
            for path in sorted(folder.rglob("*")) if path.is_file() and path.name != ".lock"}


def outputs(folder: Path) -> dict[str, bytes]:
    """The outputs a user reads: manifest, failures, dataset.json and arrays (not the journal)."""
    return {name: data for name, data in tree(folder).items() if name != "journal.jsonl"}


def load(folder: Path) -> dict[str, tuple[Record, torch.Tensor]]:
    """A dataset folder's records and arrays, by source."""
    records = read_jsonl(folder / "manifest.jsonl", Record)
    return {r.source: (r, torch.from_numpy(np.load(folder / r.feature_filepath)))
            for r in records}


def write_audio(path: Path, seconds: float, sample_rate: int, channels: int = 1,
                subtype: str = "PCM_16", seed: int = 0) -> np.ndarray:
    """Writes a chirp plus noise; returns the float64 signal ``(time, channels)`` written."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * sample_rate)) / sample_rate
    tone = 0.3 * np.sin(2 * np.pi * (200 + 2000 * t / max(seconds, 1e-9)) * t)
    data = tone[:, None] + 0.05 * rng.standard_normal((t.size, channels))
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, data, sample_rate, subtype=subtype)
    return data


@pytest.fixture(scope="session")
def fixture_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A read-only-by-convention copy of ``audio_fixtures/`` (hidden file and notes included)."""
    target = tmp_path_factory.mktemp("fixtures") / "audio"
    shutil.copytree(FIXTURES, target)
    return target


@pytest.fixture(scope="session")
def fixture_run(fixture_copy: Path, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """``seqdown preprocess`` of the whole fixture copy with one worker."""
    output = tmp_path_factory.mktemp("fixture-run") / "dataset"
    return preprocess_run(fixture_copy, output, *FIXTURE_OPTIONS, "--workers", "1")


@pytest.fixture
def cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """``cli(*args)`` runs ``python -m seqdown`` with those arguments."""
    return run_cli

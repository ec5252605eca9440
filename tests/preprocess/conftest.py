"""Shared fixtures of the preprocessing tests: fixture audio, generated audio, CLI runs.

The end-to-end tests run the real command (``python -m seqdown``) on a copy of
``audio_fixtures/`` in a temporary folder, never writing into the repository.
The expensive runs are session fixtures that several tests read.
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

from seqdown.manifest import Record, read_jsonl

ROOT = Path(__file__).resolve().parents[2]
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

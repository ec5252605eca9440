"""Shared helpers of the transcribed-input and export tests: manifests, runs of the transcribed set.

The runs use the library (``preprocess``) on copies of the fixtures in temporary
folders; the expensive ones are session fixtures that several tests read.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from seqdown.dataset.manifest import Record, read_jsonl
from seqdown.dataset.pipeline import preprocess
from seqdown.dataset.settings import Settings
from tests.conftest import FIXTURES

#: The options of the transcribed runs: the digits are at 8 to 22.05 kHz, so they are resampled.
TRANSCRIBED_OPTIONS: dict[str, Any] = {"frontend": "decimate:2"}


def write_manifest(path: Path, lines: Sequence[dict[str, Any] | str]) -> Path:
    """Writes JSON lines (a str is written as it is, for broken lines); returns ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join((line if isinstance(line, str) else json.dumps(line)) + "\n"
                   for line in lines)
    path.write_text(text, encoding="utf-8")
    return path


def records_by(folder: Path, key: str) -> dict[Any, Record]:
    """The records of a dataset folder by one of their attributes."""
    return {getattr(r, key): r for r in read_jsonl(folder / "manifest.jsonl", Record)}


@pytest.fixture(scope="session")
def transcribed_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the transcribed set: ``digits/`` (with trans.txt), ``manifests/``, ``long/``."""
    target = tmp_path_factory.mktemp("transcribed") / "audio"
    for name in ("digits", "manifests", "long"):
        shutil.copytree(FIXTURES / name, target / name)
    return target


@pytest.fixture(scope="session")
def digits_dataset(transcribed_copy: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``preprocess --manifest manifests/digits.jsonl`` of the copy (60 utterances, texts)."""
    output = tmp_path_factory.mktemp("digits") / "dataset"
    settings = Settings.make(manifest=transcribed_copy / "manifests" / "digits.jsonl",
                             **TRANSCRIBED_OPTIONS)
    summary = preprocess(settings, output, workers=2)
    assert (summary.done, summary.failed) == (60, 0)
    return output


@pytest.fixture(scope="session")
def counting_dataset(transcribed_copy: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``preprocess --manifest long/counting.jsonl`` of the copy (10 segments of one file)."""
    output = tmp_path_factory.mktemp("counting") / "dataset"
    settings = Settings.make(manifest=transcribed_copy / "long" / "counting.jsonl",
                             **TRANSCRIBED_OPTIONS)
    summary = preprocess(settings, output, workers=1)
    assert (summary.done, summary.failed) == (10, 0)
    return output

"""``--verify``: resume compares contents (SHA-256 of arrays and sources), not only sizes and times.

Without it, resume trusts the size and modification time of each source and the
size of each array; these tests pin both behaviours down, each with the change
that only ``--verify`` notices.
"""

from __future__ import annotations

import json
import logging
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from seqdown.dataset import Settings, preprocess
from seqdown.dataset.atomic import sha256_file
from seqdown.dataset.journal import JOURNAL_FILE
from seqdown.dataset.options import DEFAULT_VERIFY, VERIFY_OPTION
from tests.conftest import tree, write_audio

FILES = 3


@pytest.fixture
def made(tmp_path: Path) -> tuple[Path, Path]:
    """A finished dataset of three files: ``(INPUT_DIR, OUTPUT_DIR)``."""
    for index in range(FILES):
        write_audio(tmp_path / "in" / f"u{index}.wav", 0.3, 16000, seed=index)
    summary = preprocess(Settings.make(tmp_path / "in"), tmp_path / "out", workers=1)
    assert summary.done == FILES
    return tmp_path / "in", tmp_path / "out"


def _array(output: Path, source: str) -> Path:
    records = [json.loads(line) for line in (output / "manifest.jsonl").read_text().splitlines()]
    (record,) = [r for r in records if r["source"] == source]
    return output / record["feature_filepath"]


def _infinity_in_place(path: Path) -> None:
    """Overwrites the last float32 of an ``.npy`` with ``inf``: same size, same mtime."""
    status = path.stat()
    data = bytearray(path.read_bytes())
    data[-4:] = struct.pack("<f", float("inf"))
    path.write_bytes(bytes(data))
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns))


def _rewrite_in_place(path: Path) -> None:
    """Zeroes some samples of a source: same size, same modification time."""
    status = path.stat()
    data = bytearray(path.read_bytes())
    data[-400:] = bytes(400)
    path.write_bytes(bytes(data))
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns))


def test_the_option_is_named_once():
    assert (VERIFY_OPTION, DEFAULT_VERIFY) == ("--verify", False)


def test_a_tampered_array_is_kept_without_verify_and_remade_with_it(made, caplog):
    inputs, output = made
    before = tree(output)
    array = _array(output, "u1.wav")
    _infinity_in_place(array)
    trusting = preprocess(Settings.make(inputs), output, workers=1)
    assert (trusting.done, trusting.skipped) == (0, FILES)  # sizes match: kept
    assert not np.isfinite(np.load(array)).all()

    with caplog.at_level(logging.WARNING, logger="seqdown"):
        verified = preprocess(Settings.make(inputs), output, workers=1, verify=True)
    assert (verified.done, verified.skipped, verified.failed) == (1, FILES - 1, 0)
    assert [r.getMessage() for r in caplog.records] == [
        f"--verify: processing u1.wav again: {array.relative_to(output).as_posix()} no longer "
        "has the SHA-256 its record gives"]
    assert tree(output) == before


def test_a_source_rewritten_with_the_same_size_and_mtime_needs_verify(made, caplog):
    inputs, output = made
    _rewrite_in_place(inputs / "u2.wav")
    trusting = preprocess(Settings.make(inputs), output, workers=1)
    assert (trusting.done, trusting.skipped) == (0, FILES)
    with caplog.at_level(logging.WARNING, logger="seqdown"):
        verified = preprocess(Settings.make(inputs), output, workers=1, verify=True)
    assert (verified.done, verified.skipped) == (1, FILES - 1)
    assert [r.getMessage() for r in caplog.records] == [
        "--verify: processing u2.wav again: its source's bytes changed (same size and "
        "modification time)"]
    # The new array is the one a fresh run makes of the rewritten source.
    fresh = preprocess(Settings.make(inputs), output.parent / "fresh", workers=1)
    assert fresh.done == FILES
    assert tree(output) == tree(output.parent / "fresh")


def test_the_journal_records_each_source_hash(made):
    inputs, output = made
    lines = (output / JOURNAL_FILE).read_text(encoding="utf-8").splitlines()
    hashes = {json.loads(line)["key"]: json.loads(line)["source_sha256"] for line in lines}
    assert hashes == {f"u{i}.wav": sha256_file(inputs / f"u{i}.wav") for i in range(FILES)}


def test_an_entry_without_a_source_hash_is_redone_under_verify(made):
    inputs, output = made
    journal = output / JOURNAL_FILE
    lines = [json.loads(line) for line in journal.read_text(encoding="utf-8").splitlines()]
    del lines[0]["source_sha256"]  # as an older seqdown wrote it
    journal.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    assert preprocess(Settings.make(inputs), output, workers=1).skipped == FILES
    verified = preprocess(Settings.make(inputs), output, workers=1, verify=True)
    assert (verified.done, verified.skipped) == (1, FILES - 1)


def test_verify_of_an_intact_dataset_skips_everything(made):
    inputs, output = made
    before = tree(output)
    summary = preprocess(Settings.make(inputs), output, workers=1, verify=True)
    assert (summary.done, summary.skipped, summary.failed) == (0, FILES, 0)
    assert tree(output) == before


def test_help_says_what_resume_compares(cli):
    shown = cli("preprocess", "--help")
    assert shown.returncode == 0
    text = " ".join(shown.stdout.split())
    assert "--verify" in text
    assert ("the source's size and modification time, what the input says about it (text, "
            "segment, manifest keys), and the array's size") in text
    assert "4 output storage failed (free space, run again to resume)" in text

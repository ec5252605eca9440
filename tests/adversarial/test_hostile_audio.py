"""Hostile audio files through ``preprocess``: each costs its own file, never the run.

Headers are mutated with a fixed seed-free recipe (the sample-rate field of a WAV
header, bytes 24-27), and the folder holds files that are not files (a FIFO) and
names that are not UTF-8. Every run must finish, record each bad file once with a
non-empty message, and process the good files.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile

import seqdown.dataset.utterance as utterance
from seqdown.dataset import Settings, preprocess
from seqdown.dataset.audio import MAX_SAMPLE_RATE, MIN_SAMPLE_RATE, AudioStream
from seqdown.dataset.progress import escaped_name
from tests.conftest import write_audio


def _failures(folder: Path) -> dict[str, dict[str, object]]:
    lines = (folder / "failures.jsonl").read_text(encoding="utf-8").splitlines()
    return {record["source"]: record for record in map(json.loads, lines)}


def _with_rate(path: Path, rate: int) -> None:
    """Rewrites the sample-rate field of a PCM WAV header in place."""
    data = bytearray(path.read_bytes())
    data[24:28] = struct.pack("<I", rate)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("rate", [1, MIN_SAMPLE_RATE - 1, MAX_SAMPLE_RATE + 1, 2**31 - 1])
def test_a_header_sample_rate_out_of_range_costs_only_that_file(tmp_path, rate):
    write_audio(tmp_path / "in" / "good.wav", 0.3, 16000)
    write_audio(tmp_path / "in" / "bad.wav", 1.0, 16000, seed=1)
    _with_rate(tmp_path / "in" / "bad.wav", rate)
    summary = preprocess(Settings.make(tmp_path / "in"), tmp_path / "out", workers=1)
    assert (summary.done, summary.failed) == (1, 1)
    failure = _failures(tmp_path / "out")["bad.wav"]
    assert failure["error"] == "UnsupportedSampleRate"
    assert f"the header says {rate} Hz" in str(failure["message"])


def test_a_fifo_is_reported_as_what_it_is_without_being_opened(tmp_path):
    write_audio(tmp_path / "in" / "good.wav", 0.3, 16000)
    os.mkfifo(tmp_path / "in" / "pipe.wav")  # opening it to read would block the run
    summary = preprocess(Settings.make(tmp_path / "in"), tmp_path / "out", workers=1)
    assert (summary.done, summary.failed) == (1, 1)
    failure = _failures(tmp_path / "out")["pipe.wav"]
    assert failure["error"] == "NotARegularFile" and "a FIFO" in str(failure["message"])


def test_a_name_that_is_not_utf8_is_a_failure_and_the_run_goes_on(tmp_path):
    write_audio(tmp_path / "in" / "good.wav", 0.3, 16000)
    folder = os.fsencode(tmp_path / "in")
    bad = os.path.join(folder, b"bad\xff\xfe.wav")
    soundfile.write(bad, np.zeros(4000), 16000)
    summary = preprocess(Settings.make(tmp_path / "in"), tmp_path / "out", workers=1)
    assert (summary.done, summary.failed) == (1, 1)
    failure = _failures(tmp_path / "out")["bad\\xff\\xfe.wav"]
    assert failure["error"] == "UnrepresentableName"
    manifest = (tmp_path / "out" / "manifest.jsonl").read_text(encoding="utf-8")
    assert [json.loads(line)["source"] for line in manifest.splitlines()] == ["good.wav"]


def test_escaped_names_fit_on_one_line():
    assert escaped_name("a\nb\tc.wav") == "a\\nb\\tc.wav"
    assert escaped_name(os.fsdecode(b"x\xff.wav")) == "x\\xff.wav"
    assert escaped_name("digits/one_us.flac") == "digits/one_us.flac"


def test_blocks_hold_a_fixed_number_of_samples_whatever_the_channels(tmp_path, monkeypatch):
    seen: list[int] = []
    blocks = AudioStream.blocks

    def spy(self, block_frames, *args, **kwargs):
        for block in blocks(self, block_frames, *args, **kwargs):
            seen.append(block.size)
            yield block

    monkeypatch.setattr(AudioStream, "blocks", spy)
    monkeypatch.setattr(utterance, "BLOCK_SAMPLES", 4096)
    write_audio(tmp_path / "in" / "wide.wav", 0.2, 16000, channels=64)
    summary = preprocess(Settings.make(tmp_path / "in"), tmp_path / "out", workers=1)
    assert summary.done == 1
    assert max(seen) <= 4096 and len(seen) > 40  # 3200 frames x 64 channels in 4096-sample blocks


def test_no_failure_has_an_empty_message(tmp_path, monkeypatch):
    def exhausted(job):
        raise MemoryError()

    monkeypatch.setattr(utterance, "_decode", exhausted)
    write_audio(tmp_path / "in" / "a.wav", 0.3, 16000)
    preprocess(Settings.make(tmp_path / "in"), tmp_path / "out", workers=1)
    failure = _failures(tmp_path / "out")["a.wav"]
    assert failure["error"] == "MemoryError"
    assert failure["message"] == "ran out of memory while processing the file"

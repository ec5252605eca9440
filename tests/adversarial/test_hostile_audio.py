"""Hostile audio files through ``preprocess``: each costs its own file, never the run.

Headers are mutated with a fixed recipe (the sample-rate field of a WAV header,
bytes 24-27) and at random with a fixed seed (:func:`hostile_folder`), and the
folder holds files that are not files (a FIFO, a device, a folder, a dangling
link), huge channel counts, and names that are not UTF-8 or hold a newline. Every
run must finish, record each bad file once with a non-empty message, print each
name on one line, and process the good files; :func:`test_hostile_folder_under_a_memory_limit`
runs the whole generator through the command with an address-space limit on
every process.
"""

from __future__ import annotations

import io
import json
import logging
import os
import resource
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

import seqdown.dataset.utterance as utterance
from seqdown.cli import main
from seqdown.dataset import Settings, preprocess
from seqdown.dataset.audio import MAX_SAMPLE_RATE, MIN_SAMPLE_RATE, AudioStream
from seqdown.dataset.pipeline import Summary
from seqdown.dataset.progress import Progress, ProgressHandler, escaped_name
from tests.conftest import ROOT, write_audio


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


def test_a_folder_named_as_audio_is_reported_as_a_folder(tmp_path):
    from seqdown.dataset.audio import NotARegularFile, open_audio

    (tmp_path / "take.wav").mkdir()
    with pytest.raises(NotARegularFile, match=r"it is a folder, not a regular file"), \
            open_audio(tmp_path / "take.wav"):
        pass


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


# --- names on one line ------------------------------------------------------------------------

#: A name that, printed raw, would put a fake summary line on its own line.
FORGING = "evil\nseqdown preprocess: 9 files: 9 done, 0 skipped, 0 failed.wav"


def _all_prefixed(text: str) -> bool:
    return all(line.startswith("seqdown preprocess: ") for line in text.splitlines())


def test_a_name_with_a_newline_forges_no_line(tmp_path, capsys):
    write_audio(tmp_path / "in" / "good.wav", 0.3, 16000)
    (tmp_path / "in" / FORGING).write_bytes(b"RIFF junk")  # fails: its name is printed
    write_audio(tmp_path / "in" / "quiet\nx.wav", 0.3, 16000)  # succeeds without a text
    os.symlink(tmp_path / "nowhere", tmp_path / "in" / "gone\ny.wav")  # fails when listed
    (tmp_path / "good.txt").write_text("good a text\n", encoding="utf-8")
    status = main(["preprocess", str(tmp_path / "in"), str(tmp_path / "out\nz"), "--workers", "1",
                   "--transcripts", str(tmp_path / "good.txt")])
    printed = capsys.readouterr()
    assert status == 1
    assert _all_prefixed(printed.err) and _all_prefixed(printed.out), printed
    assert "failed evil\\nseqdown preprocess: 9 files" in printed.err
    assert "failed gone\\ny.wav: FileNotFoundError" in printed.err
    assert "no text for quiet\\nx.wav" in printed.err
    assert "(see " + str(tmp_path) + "/out\\nz/failures.jsonl)" in printed.out


def test_every_failure_counted_is_printed_once(tmp_path, capsys):
    # Failures found while listing (before any file is processed) and while processing.
    write_audio(tmp_path / "in" / "good.wav", 0.3, 16000)
    write_audio(tmp_path / "in" / "untold.wav", 0.3, 16000)  # no text: --require-text
    os.symlink(tmp_path / "nowhere", tmp_path / "in" / "dangling.wav")
    with open(os.path.join(os.fsencode(tmp_path / "in"), b"bad\xff.wav"), "wb") as file:
        file.write((tmp_path / "in" / "good.wav").read_bytes())
    (tmp_path / "in" / "junk.wav").write_bytes(b"junk")
    (tmp_path / "texts.txt").write_text("good hello\ndangling x\njunk y\n", encoding="utf-8")
    status = main(["preprocess", str(tmp_path / "in"), str(tmp_path / "out"), "--workers", "1",
                   "--transcripts", str(tmp_path / "texts.txt"), "--require-text"])
    printed = capsys.readouterr()
    assert status == 1
    failed = sorted(line.split(": ")[1] for line in printed.err.splitlines()
                    if line.startswith("seqdown preprocess: failed "))
    assert failed == ["failed bad\\xff.wav", "failed dangling.wav", "failed junk.wav",
                      "failed untold.wav"]
    assert "5 files: 1 done, 0 skipped, 4 failed" in printed.out
    assert sorted(_failures(tmp_path / "out")) == ["bad\\xff.wav", "dangling.wav", "junk.wav",
                                                   "untold.wav"]


def test_log_records_through_the_progress_handler_are_one_line_each():
    stream = io.StringIO()
    handler = ProgressHandler(Progress(stream, "p"))
    record = logging.LogRecord("seqdown", logging.INFO, __file__, 1, "failed %s", ("a\nb",), None)
    handler.emit(record)
    assert stream.getvalue() == "failed a\\nb\n"


def test_the_summary_escapes_the_output_folder():
    summary = Summary("out\nforged", 1, 0, 1, 0.0, 1.0, 1.0)
    assert "\n" not in summary.line() and "out\\nforged/failures.jsonl" in summary.line()


# --- the generator, under a memory limit ------------------------------------------------------

#: Address space each process of the run may map beyond what importing torch and seqdown
#: maps here (measured at run time: torch alone maps some GiB on some builds).
HEADROOM = 1 << 30


def hostile_folder(folder: Path, seed: int = 9) -> dict[str, str]:
    """Writes the hostile files; returns ``{source: error}`` for those that must fail
    (with the error class when it is known, ``""`` for "any failure")."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    must_fail: dict[str, str] = {}
    write_audio(folder / "good.wav", 0.5, 16000)
    write_audio(folder / "good_stereo.flac", 0.5, 44100, channels=2, seed=1)
    template = (folder / "good.wav").read_bytes()
    for index in range(16):  # random bytes of the header changed: decodes or fails, cleanly
        data = bytearray(template)
        for position in rng.choice(44, size=int(rng.integers(1, 5)), replace=False):
            data[position] = int(rng.integers(0, 256))
        (folder / f"mutated{index:02d}.wav").write_bytes(bytes(data))
    for rate in (1, 999, 16001, 44101, 192001, 2**31 - 1):  # 16001 Hz once took 9 GB
        data = bytearray(template)
        data[24:28] = struct.pack("<I", rate)
        (folder / f"rate{rate}.wav").write_bytes(bytes(data))
        if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
            must_fail[f"rate{rate}.wav"] = "UnsupportedSampleRate"
    for channels in (1024, 65535):  # the header's channel count, the data unchanged
        data = bytearray(template)
        data[22:24] = struct.pack("<H", channels)
        (folder / f"channels{channels}.wav").write_bytes(bytes(data))
    write_audio(folder / "wide.wav", 0.05, 16000, channels=1024)  # really 1024 channels
    os.mkfifo(folder / "pipe.wav")
    must_fail["pipe.wav"] = "NotARegularFile"
    os.symlink("/dev/zero", folder / "zero.wav")
    must_fail["zero.wav"] = "NotARegularFile"
    os.symlink(folder / "nowhere", folder / "dangling.wav")
    must_fail["dangling.wav"] = "FileNotFoundError"
    (folder / "empty.wav").write_bytes(b"")
    must_fail["empty.wav"] = "EmptyFile"
    (folder / "truncated.wav").write_bytes(template[:60])
    must_fail["truncated.wav"] = ""
    (folder / "a\nb.wav").write_bytes(template)
    (folder / f"{'x' * 240}.wav").write_bytes(template)
    (folder / "-dash.wav").write_bytes(template)
    with open(os.path.join(os.fsencode(folder), b"bad\xff\xfe.wav"), "wb") as file:
        file.write(template)
    must_fail["bad\\xff\\xfe.wav"] = "UnrepresentableName"
    return must_fail


def _mapped_after_import() -> int:
    """Peak address space (bytes) of a process that imported what a worker imports."""
    probe = subprocess.run(
        [sys.executable, "-c", "import seqdown.dataset.pipeline, seqdown.dataset.utterance\n"
         "print([l for l in open('/proc/self/status') if l.startswith('VmPeak')][0].split()[1])"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=True)
    return int(probe.stdout) * 1024


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
@pytest.mark.slow
def test_hostile_folder_under_a_memory_limit(tmp_path):
    must_fail = hostile_folder(tmp_path / "in")
    limit = _mapped_after_import() + HEADROOM

    def limited() -> None:  # inherited by the forkserver and every worker it forks
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    done = subprocess.run(
        [sys.executable, "-m", "seqdown", "preprocess", str(tmp_path / "in"),
         str(tmp_path / "out"), "--workers", "2", "--file-timeout", "60"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, preexec_fn=limited)
    assert done.returncode in (0, 1), done.stderr
    assert "Traceback" not in done.stderr
    assert _all_prefixed(done.stderr) and _all_prefixed(done.stdout)
    failures = _failures(tmp_path / "out")
    assert all(record["message"] for record in failures.values())
    for source, error in must_fail.items():
        assert source in failures, source
        assert not error or failures[source]["error"] == error, failures[source]
    records = [json.loads(line) for line in
               (tmp_path / "out" / "manifest.jsonl").read_text(encoding="utf-8").splitlines()]
    for record in records:
        assert np.isfinite(np.load(tmp_path / "out" / record["feature_filepath"])).all()
    listed = {record["source"] for record in records} | set(failures)
    assert {"good.wav", "good_stereo.flac", "wide.wav", "a\nb.wav"} <= listed - set(failures)
    assert len(listed) == len(records) + len(failures) == 36  # every file, once

"""The pipeline as a library, on small generated sets: every option against a one-shot reference."""

from __future__ import annotations

import io
import json
import os
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
import torchaudio

import seqdown
from seqdown.cli import main
from seqdown.dataset.manifest import Failure, Record, read_jsonl, utterance_id
from seqdown.dataset.merging import merge
from seqdown.dataset.pipeline import dataset_lock, preprocess, shard_of
from seqdown.dataset.progress import Progress
from seqdown.dataset.settings import Settings, SettingsMismatch, UsageError
from seqdown.dataset.utterance import process_file
from tests.conftest import load, tree, write_audio


@pytest.fixture
def small(tmp_path) -> Path:
    """A stereo 44.1 kHz file and a mono 8 kHz one, in different shards of 2."""
    folder = tmp_path / "audio"
    write_audio(folder / "stereo.wav", 0.7, 44100, channels=2, subtype="PCM_24", seed=1)
    write_audio(folder / "sub" / "mono.wav", 0.4, 8000, seed=2)
    return folder


def reference_waveform(path: Path, channels: str) -> torch.Tensor:
    data, sample_rate = soundfile.read(path, dtype="float32", always_2d=True)
    x = torch.from_numpy(data.T.copy())
    if channels == "mono":
        x = x.mean(dim=0, keepdim=True)
    return seqdown.resample(x, sample_rate, 16000)


def reference_features(waveform: torch.Tensor, kind: str) -> torch.Tensor:
    kwargs = {"n_fft": 400, "hop_length": 160, "n_mels": 40}
    if kind == "wave":
        return waveform
    if kind == "mfcc":
        y = torchaudio.transforms.MFCC(16000, n_mfcc=13, log_mels=True, melkwargs=kwargs)(waveform)
    else:
        y = torch.log(torchaudio.transforms.MelSpectrogram(16000, **kwargs)(waveform) + 1e-6)
    return y.reshape(-1, y.shape[-1])


VARIANTS = [("wave", "keep", "none"), ("wave", "mono", "decimate:3"),
            ("logmel", "keep", "decimate:2+max:2"), ("mfcc", "mono", "stack:2"),
            ("logmel", "mono", "blur:2")]


@pytest.mark.parametrize(("kind", "channels", "frontend"), VARIANTS,
                         ids=["-".join(v) for v in VARIANTS])
def test_options_against_a_one_shot_reference(small, tmp_path, kind, channels, frontend):
    settings = Settings.make(small, features=kind, channels=channels, frontend=frontend,
                             n_mels=40)
    summary = preprocess(settings, tmp_path / "out")
    assert (summary.done, summary.skipped, summary.failed) == (2, 0, 0)
    chain = seqdown.build_frontend(frontend)
    for source, (record, array) in load(tmp_path / "out").items():
        waveform = reference_waveform(small / source, channels)
        assert record.num_samples == waveform.shape[-1]
        features = reference_features(waveform, kind)
        assert record.feature_frames == features.shape[-1]
        reference = chain(features[None])[0][0]
        assert record.num_frames == chain.output_length(record.feature_frames) == array.shape[1]
        assert record.channels == (1 if channels == "mono" else record.orig_channels)
        # Streaming sums in another order than one-shot: float32 rounding, magnified by the log.
        torch.testing.assert_close(array, reference, rtol=1e-4, atol=2e-3)


def test_short_and_overflowing_files_fail_cleanly(tmp_path):
    folder = tmp_path / "audio"
    write_audio(folder / "ok.wav", 0.2, 16000)
    write_audio(folder / "stft.wav", 100 / 16000, 16000)  # < n_fft // 2 + 1 samples
    write_audio(folder / "frontend.wav", 0.05, 16000)  # 6 frames; max:8 needs 8
    soundfile.write(folder / "huge.wav", np.full(4000, 1e30, dtype=np.float32), 16000,
                    subtype="FLOAT")
    summary = preprocess(Settings.make(folder, frontend="max:8"), tmp_path / "out")
    assert (summary.done, summary.failed) == (1, 3)
    failures = read_jsonl(tmp_path / "out" / "failures.jsonl", Failure)
    assert [(f.source, f.error) for f in failures] == [
        ("frontend.wav", "TooShort"), ("huge.wav", "NonFiniteSamples"), ("stft.wav", "TooShort")]
    assert "needs at least 8" in failures[0].message
    assert "needs at least 201" in failures[2].message


def test_changed_added_and_removed_sources(small, tmp_path):
    settings = Settings.make(small)
    preprocess(settings, tmp_path / "out")
    before = load(tmp_path / "out")
    write_audio(small / "sub" / "mono.wav", 0.9, 8000, seed=3)  # changed
    write_audio(small / "new.wav", 0.3, 16000)  # added
    os.unlink(small / "stereo.wav")  # removed
    summary = preprocess(settings, tmp_path / "out")
    assert (summary.done, summary.skipped, summary.failed) == (2, 0, 0)
    after = load(tmp_path / "out")
    assert sorted(after) == ["new.wav", "sub/mono.wav"]
    assert after["sub/mono.wav"][1].shape[1] > before["sub/mono.wav"][1].shape[1]
    assert sorted(p.name for p in (tmp_path / "out" / "features").iterdir()) == sorted(
        f"{utterance_id(s)}.npy" for s in after)
    assert preprocess(settings, tmp_path / "out").skipped == 2


def test_output_inside_input_is_not_read(small):
    summary = preprocess(Settings.make(small), small / "out")
    again = preprocess(Settings.make(small), small / "out")
    assert summary.done == 2 and again.skipped == 2 and again.done == 0


def test_shards_are_a_stable_partition():
    sources = [f"d{i}/f{j}.wav" for i in range(5) for j in range(40)]
    shards = [shard_of(s, 3) for s in sources]
    assert all(0 <= s < 3 for s in shards) and len(set(shards)) == 3
    assert shards == [shard_of(s, 3) for s in sources]
    assert shard_of("digits/one_us.flac", 7) == int(
        __import__("hashlib").sha256(b"digits/one_us.flac").hexdigest()[:16], 16) % 7


def test_usage_errors_exit_2_and_change_nothing(small, tmp_path, capsys):
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "thesis.tex").write_text("mine")
    a_file = tmp_path / "file"
    a_file.write_text("x")
    cases = {
        ("--frontend", "conv:2"): "must be a fixed (non-learnable) front-end",
        ("--num-shards", "2", "--shard-index", "2"): "--shard-index must be < --num-shards (2)",
        ("--channels", "keep", "--features", "mfcc", "--n-mels", "8"):
            r"n_mfcc must be <= n_mels \(8\), got 13",
    }
    for options, message in cases.items():
        assert main(["preprocess", str(small), str(tmp_path / "new"), *options]) == 2
        assert message.replace("\\", "") in capsys.readouterr().err
    assert not (tmp_path / "new").exists()
    assert main(["preprocess", str(tmp_path / "missing"), str(tmp_path / "new")]) == 2
    assert "INPUT_DIR must be a folder" in capsys.readouterr().err
    assert main(["preprocess", str(small), str(occupied)]) == 2
    assert "is not empty and holds no dataset.json" in capsys.readouterr().err
    assert main(["preprocess", str(small), str(occupied), "--overwrite"]) == 2
    assert [p.name for p in occupied.iterdir()] == ["thesis.tex"]
    assert main(["preprocess", str(small), str(a_file)]) == 2
    assert "OUTPUT_DIR must be a folder" in capsys.readouterr().err
    with pytest.raises(SystemExit) as caught:
        main(["preprocess", str(small), str(tmp_path / "new"), "--workers", "0"])
    assert caught.value.code == 2
    assert "argument --workers: must be a positive integer, got 0" in capsys.readouterr().err


def test_a_dataset_being_written_is_refused(small, tmp_path):
    (tmp_path / "out").mkdir()
    with dataset_lock(tmp_path / "out"), pytest.raises(UsageError, match="another seqdown"):
        preprocess(Settings.make(small), tmp_path / "out")


def test_exclude_may_change_on_resume(small, tmp_path):
    preprocess(Settings.make(small), tmp_path / "out")
    summary = preprocess(Settings.make(small, exclude=["sub/*"]), tmp_path / "out")
    assert (summary.done, summary.skipped) == (0, 1)
    assert list(load(tmp_path / "out")) == ["stereo.wav"]


@pytest.fixture
def shards(small, tmp_path) -> list[Path]:
    folders = []
    for index in range(2):
        folders.append(tmp_path / f"shard{index}")
        preprocess(Settings.make(small, num_shards=2, shard_index=index), folders[-1])
        assert len(read_jsonl(folders[-1] / "manifest.jsonl", Record)) == 1
    return folders


def test_merge_equals_unsharded(small, shards, tmp_path):
    preprocess(Settings.make(small), tmp_path / "whole")
    summary = merge(shards, tmp_path / "merged")
    assert (summary.utterances, summary.failed) == (2, 0)
    assert tree(tmp_path / "merged") == tree(tmp_path / "whole")
    assert preprocess(Settings.make(small), tmp_path / "merged").skipped == 2


def test_merge_refusals(small, shards, tmp_path):
    with pytest.raises(UsageError, match=r"missing \[1\], repeated \[\]"):
        merge(shards[:1], tmp_path / "m1")
    with pytest.raises(UsageError, match=r"missing \[1\], repeated \[0\]"):
        merge([shards[0], shards[0]], tmp_path / "m2")
    other = tmp_path / "other"
    preprocess(Settings.make(small, num_shards=2, shard_index=1, sample_rate=22050), other)
    with pytest.raises(SettingsMismatch, match=r"--sample-rate 16000 .*: 22050"):
        merge([shards[0], other], tmp_path / "m3")
    description = json.loads((shards[1] / "dataset.json").read_text())
    (shards[1] / "dataset.json").write_text(json.dumps({**description, "complete": False}))
    with pytest.raises(UsageError, match="is incomplete"):
        merge(shards, tmp_path / "m4")
    (shards[1] / "dataset.json").write_text(json.dumps(description))
    array = next((shards[1] / "features").glob("*.npy"))
    array.write_bytes(array.read_bytes()[:-4] + b"\0\0\0\0")
    with pytest.raises(UsageError, match="does not match the sha256"):
        merge(shards, tmp_path / "m5")
    with pytest.raises(UsageError, match="is not empty"):
        merge(shards, small)


def test_progress_bar_only_on_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    failure = Failure("a.wav", "EmptyFile", "the file is empty (0 bytes)")
    for stream, bar in [(Terminal(), True), (io.StringIO(), False)]:
        progress = Progress(stream, "seqdown preprocess")
        progress.start(2)
        progress.write("seqdown preprocess: failed a.wav: EmptyFile: the file is empty (0 bytes)")
        progress.advance(failure)
        progress.advance(seconds=1800.0, in_flight=0)
        progress.finish()
        text = stream.getvalue()
        assert "seqdown preprocess: failed a.wav: EmptyFile: the file is empty (0 bytes)\n" in text
        assert ("\r[" in text and "2/2 files, 1 failed, 0 in flight, 0.50 h of audio" in text
                and "ETA" in text) == bar
        assert ("\r" in text) == bar


def test_plain_progress_lines_every_interval():
    stream = io.StringIO()
    progress = Progress(stream, "seqdown preprocess", interval=0.05)
    progress.start(4)
    progress.advance(seconds=360.0, in_flight=2)
    time.sleep(0.5)  # nothing finishes meanwhile: the lines still come
    progress.advance(seconds=720.0, in_flight=1)
    progress.finish()
    written = stream.getvalue()
    time.sleep(0.2)
    assert stream.getvalue() == written  # no line after finish
    lines = written.splitlines()
    assert "\r" not in written and 3 <= len(lines) <= 12, lines
    assert all(line.startswith("seqdown preprocess: ") and " files/s, ETA " in line
               for line in lines)
    assert lines[0].startswith("seqdown preprocess: 1/4 files, 2 in flight, 0.10 h of audio")
    with pytest.raises(ValueError, match="interval must be a positive number"):
        Progress(stream, interval=0)


def test_temporaries_of_a_writer_killed_mid_run_are_removed(small, tmp_path, monkeypatch):
    from seqdown.dataset import pipeline

    def process_and_leave_a_temporary(job):
        outcome = process_file(job)
        # What a worker killed while writing another array leaves behind (atomic.py's name).
        (Path(job.output_dir) / "features" / f".{job.source.replace('/', '_')}.1a2b.tmp"
         ).write_bytes(b"partial")
        return outcome

    monkeypatch.setattr(pipeline, "process_file", process_and_leave_a_temporary)
    preprocess(Settings.make(small), tmp_path / "out")
    assert not list((tmp_path / "out" / "features").glob(".*"))
    monkeypatch.undo()
    preprocess(Settings.make(small), tmp_path / "clean")
    assert tree(tmp_path / "out") == tree(tmp_path / "clean")

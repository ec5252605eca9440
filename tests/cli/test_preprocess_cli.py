"""``seqdown preprocess`` end to end on a copy of ``audio_fixtures/``, checked against references.

References: soundfile (durations, sample counts, channels), scipy's
``resample_poly`` (resampled lengths), torchaudio (feature frames and values),
the front-end's ``output_length`` (frames after it), hashlib (checksums).
"""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest
import soundfile
import torch
import torchaudio
from scipy import signal

import seqdown
from seqdown.dataset.manifest import Failure, Record, read_jsonl, utterance_id
from tests.conftest import BROKEN, FIXTURE_OPTIONS, FIXTURES, outputs, preprocess_run, tree

pytestmark = pytest.mark.slow

GOOD = sorted(p.relative_to(FIXTURES).as_posix() for p in FIXTURES.rglob("*")
              if p.is_file() and not p.name.startswith(".") and p.parent.name != "broken"
              and p.suffix.lower() in {".wav", ".flac", ".ogg", ".opus", ".mp3", ".aiff",
                                       ".au", ".caf"})


@pytest.fixture(scope="module")
def records(fixture_run) -> list[Record]:
    return read_jsonl(fixture_run.output_dir / "manifest.jsonl", Record)


def test_exit_status_and_summary(fixture_run):
    assert fixture_run.returncode == 1, fixture_run.stderr  # the broken files failed
    assert fixture_run.stdout.count("\n") == 1
    assert fixture_run.stdout.startswith(
        f"seqdown preprocess: 87 files: {len(GOOD)} done, 0 skipped, 7 failed")
    assert "h of audio" in fixture_run.stdout and "real-time factor" in fixture_run.stdout
    assert "\r" not in fixture_run.stderr  # no progress bar when stderr is not a terminal
    for source in BROKEN:
        assert f"failed {source}: {BROKEN[source]}: " in fixture_run.stderr


def test_failures_are_recorded_sorted_without_run_details(fixture_run):
    failures = read_jsonl(fixture_run.output_dir / "failures.jsonl", Failure)
    assert [(f.source, f.error) for f in failures] == sorted(BROKEN.items())
    text = (fixture_run.output_dir / "failures.jsonl").read_text(encoding="utf-8")
    assert str(fixture_run.input_dir) not in text
    assert all(list(json.loads(line)) == ["source", "error", "message"]
               for line in text.splitlines())


def test_manifest_covers_the_good_files_sorted_by_id(records, fixture_run):
    assert sorted(r.source for r in records) == GOOD
    assert [r.id for r in records] == sorted(r.id for r in records)
    assert all(r.id == utterance_id(r.source) for r in records)
    arrays = sorted(p.name for p in (fixture_run.output_dir / "features").iterdir())
    assert arrays == sorted(f"{r.id}.npy" for r in records)


def test_manifest_values_against_references(records, fixture_run):
    frontend = seqdown.build_frontend("decimate:2")
    spectrogram = torchaudio.transforms.Spectrogram(n_fft=400, hop_length=160)
    for r in records:
        info = soundfile.info(fixture_run.input_dir / r.source)
        assert r.audio_filepath == str(fixture_run.input_dir / r.source)
        assert (r.orig_sampling_rate, r.orig_channels) == (info.samplerate, info.channels)
        assert r.orig_num_samples == info.frames
        assert r.duration == pytest.approx(info.duration, abs=1e-12)
        assert (r.sampling_rate, r.channels, r.features) == (16000, 1, "logmel")
        resampled = signal.resample_poly(np.zeros(info.frames), 16000, info.samplerate)
        assert r.num_samples == resampled.size
        assert r.feature_frames == spectrogram(torch.zeros(r.num_samples)).shape[-1]
        assert r.num_frames == frontend.output_length(r.feature_frames)
        assert r.frame_rate == 50.0
        path = fixture_run.output_dir / r.feature_filepath
        array = np.load(path)
        assert array.dtype == np.float32 and list(array.shape) == r.shape == [80, r.num_frames]
        assert np.isfinite(array).all()
        assert r.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


REFERENCE_FILES = ["digits/one_f4.flac", "signals/two_tone_stereo_32k.wav",
                   "signals/chirp_linear_44k1_pcm24.wav", "signals/sine_1k_48k_float.wav",
                   "signals/speech_fox_22k.wav", "formats/wav_pcm_u8.wav"]


@pytest.mark.parametrize("source", REFERENCE_FILES, ids=REFERENCE_FILES)
def test_arrays_equal_a_one_shot_reference(fixture_run, source):
    """Whole-file decode, mono mean, seqdown.resample, torchaudio log-mel, Decimate(2)."""
    data, sample_rate = soundfile.read(fixture_run.input_dir / source, dtype="float32",
                                       always_2d=True)
    mono = torch.from_numpy(data.T.copy()).mean(dim=0)
    waveform = seqdown.resample(mono, sample_rate, 16000)
    mel = torchaudio.transforms.MelSpectrogram(16000, n_fft=400, hop_length=160, n_mels=80)
    reference = seqdown.Decimate(2)(torch.log(mel(waveform) + 1e-6)[None])[0][0]
    array = torch.from_numpy(np.load(fixture_run.output_dir / "features" /
                                     f"{utterance_id(source)}.npy"))
    # Streaming resampling sums in another order (float32 rounding); the log magnifies that
    # where the mel power is near the 1e-6 floor. A one-sample slip would cost > 0.1.
    torch.testing.assert_close(array, reference, rtol=1e-4, atol=2e-3)


def test_dataset_json(fixture_run):
    description = json.loads((fixture_run.output_dir / "dataset.json").read_text())
    assert description["complete"] is True
    # No absolute INPUT_DIR: the folder resumes where the corpus is mounted elsewhere.
    assert description["settings"] == {
        "sample_rate": 16000, "features": "logmel",
        "n_mels": 80, "n_mfcc": None, "win_ms": 25.0, "hop_ms": 10.0, "frontend": "decimate:2",
        "channels": "mono", "num_shards": 1, "shard_index": 0, "exclude": [],
        "manifest": None, "transcripts": [], "require_text": False}
    frontend = seqdown.build_frontend("decimate:2")
    assert description["frontend"] == {
        "spec": "decimate:2", "factor": 2, "receptive_field": frontend.receptive_field,
        "min_length": 1, "frame_rate": 50.0}
    assert description["features"]["log"] == "natural log of (mel power + 1e-06)"
    assert (description["features"]["n_fft"], description["features"]["hop_length"]) == (400, 160)
    records = read_jsonl(fixture_run.output_dir / "manifest.jsonl", Record)
    assert description["counts"] == {
        "utterances": len(GOOD), "failures": 7,
        "hours": sum(r.duration for r in records) / 3600, "without_text": len(GOOD)}
    assert description["versions"]["torch"] == torch.__version__


def test_rerun_skips_everything_and_writes_the_same_bytes(fixture_run, tmp_path):
    copy = tmp_path / "dataset"
    shutil.copytree(fixture_run.output_dir, copy)
    again = preprocess_run(fixture_run.input_dir, copy, *FIXTURE_OPTIONS, "--workers", "1")
    assert again.returncode == 1
    assert f"0 done, {len(GOOD)} skipped, 7 failed" in again.stdout
    assert tree(copy) == tree(fixture_run.output_dir)


def test_two_workers_give_the_same_bytes(fixture_run, tmp_path):
    run = preprocess_run(fixture_run.input_dir, tmp_path / "dataset", *FIXTURE_OPTIONS,
                         "--workers", "2")
    assert run.returncode == 1, run.stderr
    assert tree(run.output_dir) == tree(fixture_run.output_dir)


def test_demo_command_excluding_broken_exits_0(fixture_copy, tmp_path):
    run = preprocess_run(fixture_copy, tmp_path / "demo", "--sample-rate", "16000",
                         "--features", "logmel", "--frontend", "decimate:2",
                         "--exclude", "broken/*")
    assert run.returncode == 0, run.stderr
    assert f"{len(GOOD)} files: {len(GOOD)} done, 0 skipped, 0 failed;" in run.stdout
    assert (run.output_dir / "failures.jsonl").read_bytes() == b""


@pytest.mark.parametrize(("option", "value", "old"), [
    ("--sample-rate", "8000", "16000"),
    ("--frontend", "decimate:3", "decimate:2"),
])
def test_mismatched_settings_are_refused_and_change_nothing(fixture_run, tmp_path, option,
                                                            value, old):
    copy = tmp_path / "dataset"
    shutil.copytree(fixture_run.output_dir, copy)
    before = tree(copy)
    options = dict(zip(FIXTURE_OPTIONS[::2], FIXTURE_OPTIONS[1::2], strict=True))
    options[option] = value
    run = preprocess_run(fixture_run.input_dir, copy,
                         *[item for pair in options.items() for item in pair])
    assert run.returncode == 2
    assert f"{option} {old} (this run: {value})" in run.stderr
    assert "--overwrite" in run.stderr and run.stdout == ""
    assert tree(copy) == before


def test_overwrite_starts_over_with_new_settings(fixture_run, tmp_path):
    copy = tmp_path / "dataset"
    shutil.copytree(fixture_run.output_dir, copy)
    (copy / "keep.txt").write_text("not ours")
    run = preprocess_run(fixture_run.input_dir, copy, "--features", "mfcc", "--frontend",
                         "max:2", "--exclude", "broken/*", "--exclude", "digits/*",
                         "--overwrite")
    assert run.returncode == 0, run.stderr
    records = read_jsonl(copy / "manifest.jsonl", Record)
    assert len(records) == len(GOOD) - 60 and all(r.shape[0] == 13 for r in records)
    assert sorted(p.name for p in (copy / "features").iterdir()) == sorted(
        f"{r.id}.npy" for r in records)
    assert (copy / "keep.txt").read_text() == "not ours"


def test_shards_merge_into_the_unsharded_dataset(fixture_run, tmp_path, cli):
    shards = []
    for index in range(2):
        run = preprocess_run(fixture_run.input_dir, tmp_path / f"shard{index}",
                             *FIXTURE_OPTIONS, "--num-shards", "2", "--shard-index",
                             str(index), "--workers", "1")
        assert run.returncode in (0, 1), run.stderr
        shards.append(read_jsonl(run.output_dir / "manifest.jsonl", Record))
    sources = [{r.source for r in shard} for shard in shards]
    assert sources[0] and sources[1] and not sources[0] & sources[1]
    merged = cli("merge", tmp_path / "shard1", tmp_path / "shard0", tmp_path / "merged")
    assert merged.returncode == 1, merged.stderr  # the merged dataset records failures
    assert f"{len(GOOD)} utterances, 7 failed" in merged.stdout
    assert tree(tmp_path / "merged") == tree(fixture_run.output_dir)
    assert outputs(tmp_path / "merged")  # not vacuous

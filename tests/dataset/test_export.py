"""Exports read back with the libraries themselves: lhotse cuts load exactly seqdown's frames
(every cut, every frame), and a Hugging Face dataset holds the features, lengths and texts."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

from seqdown.dataset.export import export_hf, export_lhotse
from seqdown.dataset.export.lhotse import cut_samples
from seqdown.dataset.manifest import Record, read_jsonl
from seqdown.dataset.pipeline import preprocess
from seqdown.dataset.settings import Settings, UsageError
from tests.conftest import FIXTURES, write_audio

lhotse = pytest.importorskip("lhotse")
datasets = pytest.importorskip("datasets")
from lhotse.qa import validate_cut  # noqa: E402 - after the skip
from lhotse.utils import compute_num_frames  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def mixed_dataset(tmp_path_factory):
    """Stereo (mixed to mono) and odd-rate files, wave features with a fractional-free stride."""
    folder = tmp_path_factory.mktemp("mixed") / "audio"
    folder.mkdir()
    shutil.copy(FIXTURES / "signals" / "two_tone_stereo_32k.wav", folder)
    write_audio(folder / "odd.wav", 0.3337, 22050, seed=3)
    output = folder.parent / "dataset"
    preprocess(Settings.make(folder, frontend="decimate:4", hop_ms=12.5), output, workers=1)
    return output


def check_cuts(dataset, exported):
    """Every cut's features equal its array (time-major), and lhotse's checks pass."""
    records = {r.id: r for r in read_jsonl(dataset / "manifest.jsonl", Record)}
    cuts = lhotse.CutSet.from_file(exported / "cuts.jsonl.gz")
    assert sorted(cut.id for cut in cuts) == sorted(records)
    for cut in cuts:
        record = records[cut.id]
        array = np.load(dataset / record.feature_filepath)
        features = cut.load_features()
        assert cut.num_frames == record.num_frames == features.shape[0]
        np.testing.assert_array_equal(features, array.T)
        assert cut.frame_shift == pytest.approx(record.frame_shift, rel=1e-12)
        assert cut.start == (record.offset or 0.0)
        validate_cut(cut)
        [supervision] = cut.supervisions
        assert (supervision.id, supervision.text) == (record.id, record.text)
        assert (supervision.start, supervision.duration) == (0.0, record.duration)
    return cuts


def test_lhotse_cuts_of_the_digits_load_every_frame(digits_dataset, tmp_path):
    summary = export_lhotse(digits_dataset, tmp_path / "lhotse")
    assert summary.utterances == 60
    cuts = check_cuts(digits_dataset, tmp_path / "lhotse")
    records = read_jsonl(digits_dataset / "manifest.jsonl", Record)
    # What the issue saw: with the audio's own duration, lhotse's count misses a frame.
    naive = [compute_num_frames(r.num_samples / r.sampling_rate, r.frame_shift, r.sampling_rate)
             for r in records]
    assert sum(n != r.num_frames for n, r in zip(naive, records, strict=True)) > 10
    assert {cut.supervisions[0].speaker for cut in cuts} == {"us", "m3", "f2", "f4", "gbm1",
                                                             "klatt"}
    # The recordings are the files at their own rates; each cut's is resampled to 16 kHz.
    recordings = {r.id: r for r in
                  lhotse.RecordingSet.from_file(tmp_path / "lhotse" / "recordings.jsonl.gz")}
    assert sorted({r.sampling_rate for r in recordings.values()}) == [8000, 11025, 16000, 22050]
    cut = next(cut for cut in cuts if recordings[cut.recording_id].sampling_rate == 8000)
    assert cut.recording.sampling_rate == cut.sampling_rate == 16000
    assert cut.load_audio().shape == (1, cut.num_samples)
    supervisions = lhotse.SupervisionSet.from_file(tmp_path / "lhotse" / "supervisions.jsonl.gz")
    assert len(supervisions) == 60


def test_lhotse_export_of_audio_gone_is_a_usage_error(counting_dataset, tmp_path, monkeypatch):
    """The recordings point to the audio: a file moved since preprocessing is named."""
    from seqdown.dataset.export import lhotse as module

    def gone(path: str) -> None:
        raise FileNotFoundError(2, "No such file or directory", path)

    monkeypatch.setattr(module, "open_audio", gone)
    with pytest.raises(UsageError, match=r"record '.+': its audio '.+' cannot be read "
                                         r"\(FileNotFoundError"):
        export_lhotse(counting_dataset, tmp_path / "out")


def test_lhotse_segments_share_their_recording(counting_dataset, tmp_path):
    export_lhotse(counting_dataset, tmp_path / "lhotse")
    cuts = check_cuts(counting_dataset, tmp_path / "lhotse")
    recordings = list(lhotse.RecordingSet.from_file(tmp_path / "lhotse" / "recordings.jsonl.gz"))
    assert len(recordings) == 1 and {cut.recording_id for cut in cuts} == {recordings[0].id}
    supervisions = lhotse.SupervisionSet.from_file(tmp_path / "lhotse" / "supervisions.jsonl.gz")
    by_text = {s.text: s for s in supervisions}
    line = json.loads((FIXTURES / "long" / "counting.jsonl").read_text().splitlines()[4])
    assert (by_text[line["text"]].start, by_text[line["text"]].duration) == (
        line["offset"], line["duration"])
    # The audio of a cut is the segment: the samples of the digit file.
    cut = next(cut for cut in cuts if cut.supervisions[0].text == "four")
    digit, _ = soundfile.read(FIXTURES / "digits" / "four_us.flac", dtype="float32")
    audio = cut.truncate(duration=cut.supervisions[0].duration).load_audio()[0]
    np.testing.assert_allclose(audio, digit, atol=1e-6)


def test_lhotse_multichannel_and_other_strides(mixed_dataset, tmp_path):
    export_lhotse(mixed_dataset, tmp_path / "lhotse")
    cuts = check_cuts(mixed_dataset, tmp_path / "lhotse")
    kinds = {cut.recording_id.split(".")[0]: type(cut).__name__ for cut in cuts}
    assert kinds == {"two_tone_stereo_32k": "MultiCut", "odd": "MonoCut"}


@pytest.mark.parametrize("window", [1, 2, 160, 320, 441, 800])
def test_cut_samples_gives_lhotse_exactly_num_frames(window):
    rng = np.random.default_rng(window)
    rate = 16000
    frames = rng.integers(1, 3000, 400)
    # Arrays have about num_samples / window steps, give or take one (centring, front-ends).
    for count, samples in zip(frames, frames * window + rng.integers(-window, window + 1, 400),
                              strict=True):
        chosen = cut_samples(int(count), int(samples), window)
        assert compute_num_frames(chosen / rate, window / rate, rate) == count
        assert abs(chosen - samples) <= window
        if compute_num_frames(samples / rate, window / rate, rate) == count:
            assert chosen == samples  # nothing moves where lhotse already agrees


def test_hf_export_writes_nothing_outside_out_dir(counting_dataset, tmp_path, monkeypatch):
    """datasets' cache goes to a temporary folder inside OUT_DIR, removed at the end."""
    import tempfile

    made: list[str] = []
    real = tempfile.TemporaryDirectory

    def recording(*args: object, **kwargs: object) -> object:
        folder = real(*args, **kwargs)  # type: ignore[call-overload]
        made.append(folder.name)
        return folder

    monkeypatch.setattr(tempfile, "TemporaryDirectory", recording)
    out = tmp_path / "parent" / "out"
    export_hf(counting_dataset, out)
    assert made and all(Path(folder).parent == out for folder in made)
    assert sorted(path.name for path in tmp_path.rglob("*") if path.parent != out) == [
        "out", "parent"]
    assert not any(name.startswith(".seqdown-hf-") for name in os.listdir(out))


def test_hf_dataset_round_trip(counting_dataset, digits_dataset, tmp_path):
    for source in (counting_dataset, digits_dataset):
        out = tmp_path / source.parent.name
        summary = export_hf(source, out)
        rows = datasets.load_from_disk(str(out)).with_format("numpy")
        records = read_jsonl(source / "manifest.jsonl", Record)
        assert summary.utterances == len(rows) == len(records)
        assert rows.column_names == ["id", "text", "audio_filepath", "offset", "duration",
                                     "num_frames", "frame_shift", "features"]
        for row, record in zip(rows, records, strict=True):
            assert (row["id"], row["text"], int(row["num_frames"])) == (
                record.id, record.text, record.num_frames)
            assert float(row["offset"]) == (record.offset or 0.0)
            np.testing.assert_array_equal(row["features"],
                                          np.load(source / record.feature_filepath).T)
        first = datasets.load_from_disk(str(out)).with_format("torch")[0]["features"]
        assert tuple(first.shape) == (records[0].num_frames, records[0].shape[0])


def test_exports_refuse_incomplete_datasets_and_occupied_folders(counting_dataset, tmp_path):
    with pytest.raises(UsageError, match="is not a seqdown dataset"):
        export_lhotse(tmp_path, tmp_path / "out")
    partial = tmp_path / "partial"
    shutil.copytree(counting_dataset, partial)
    description = json.loads((partial / "dataset.json").read_text())
    (partial / "dataset.json").write_text(json.dumps(description | {"complete": False}))
    with pytest.raises(UsageError, match="is incomplete"):
        export_hf(partial, tmp_path / "out")
    (tmp_path / "empty").mkdir()
    preprocess(Settings.make(tmp_path / "empty"), tmp_path / "none", workers=1)
    with pytest.raises(UsageError, match="holds no utterances; there is nothing to export"):
        export_lhotse(tmp_path / "none", tmp_path / "out")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "mine.txt").write_text("x")
    with pytest.raises(UsageError, match=r"holds \['mine.txt'\], which no export wrote"):
        export_lhotse(counting_dataset, tmp_path / "busy", overwrite=True)
    export_lhotse(counting_dataset, tmp_path / "again")
    with pytest.raises(UsageError, match="pass --overwrite"):
        export_lhotse(counting_dataset, tmp_path / "again")
    export_lhotse(counting_dataset, tmp_path / "again", overwrite=True)
    check_cuts(counting_dataset, tmp_path / "again")


def test_hf_refuses_arrays_with_different_channels(tmp_path):
    write_audio(tmp_path / "in" / "mono.wav", 0.3, 16000, channels=1)
    write_audio(tmp_path / "in" / "stereo.wav", 0.3, 16000, channels=2)
    preprocess(Settings.make(tmp_path / "in", channels="keep"), tmp_path / "ds", workers=1)
    with pytest.raises(UsageError, match=r"has arrays with \[80, 160\]"):
        export_hf(tmp_path / "ds", tmp_path / "out")
    export_lhotse(tmp_path / "ds", tmp_path / "lhotse")  # lhotse takes them as they are
    check_cuts(tmp_path / "ds", tmp_path / "lhotse")


def test_a_damaged_array_is_refused(counting_dataset, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(counting_dataset, copy)
    record = read_jsonl(copy / "manifest.jsonl", Record)[0]
    array = np.load(copy / record.feature_filepath)
    np.save(copy / record.feature_filepath, array + 1)
    with pytest.raises(ValueError, match="does not match the sha256"):
        export_hf(copy, tmp_path / "out")
    # A manifest that points outside features/ is refused before anything is read.
    lines = (copy / "manifest.jsonl").read_text().splitlines()
    lines[0] = json.dumps(json.loads(lines[0]) | {"feature_filepath": "../../etc/passwd"})
    (copy / "manifest.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match="leaves the dataset's features/ folder"):
        export_lhotse(copy, tmp_path / "out2")


@pytest.mark.parametrize(("export", "package"), [(export_lhotse, "lhotse"),
                                                 (export_hf, "datasets")])
def test_a_missing_package_is_named_with_how_to_install_it(counting_dataset, tmp_path,
                                                           monkeypatch, export, package):
    monkeypatch.setitem(sys.modules, package, None)  # makes `import package` fail
    with pytest.raises(ImportError, match=f"needs the '{package}' package: pip install "
                                          f"{package} \\(or pip install 'seqdown\\[dev\\]'\\)"):
        export(counting_dataset, tmp_path / "out")
    assert not (tmp_path / "out").exists()

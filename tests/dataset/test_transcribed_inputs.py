"""``preprocess`` of manifests and of folders with transcripts: texts, segments, extra keys,
failures with line numbers, and resume, shards, merge and workers giving the same bytes."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest
import torch

from seqdown.dataset.data import ManifestDataset, collate
from seqdown.dataset.manifest import Failure, Record, read_jsonl, utterance_id
from seqdown.dataset.merging import merge
from seqdown.dataset.pipeline import preprocess
from seqdown.dataset.settings import Settings, UsageError
from tests.conftest import outputs, write_audio
from tests.dataset.conftest import TRANSCRIBED_OPTIONS, records_by, write_manifest

pytestmark = pytest.mark.slow


def test_digits_manifest_records_carry_text_extra_keys_and_the_frame_convention(
        digits_dataset, transcribed_copy):
    records = read_jsonl(digits_dataset / "manifest.jsonl", Record)
    assert len(records) == 60
    for record in records:
        word, speaker = record.source.removeprefix("../digits/").removesuffix(".flac").split("_")
        assert (record.text, record.extra) == (word, {"speaker": speaker})
        assert record.audio_filepath == str(transcribed_copy / "digits" / f"{word}_{speaker}.flac")
        assert record.offset is None and record.id == utterance_id(record.source)
        assert record.frame_shift == pytest.approx(1 / record.frame_rate, rel=1e-15)
        assert record.frame_shift == 0.02
        # The rule stated in the record gives num_frames from the record's own keys.
        assert record.frame_count == ("centred STFT: feature_frames = 1 + num_samples // 160; "
                                      "num_frames = output_length(feature_frames) of "
                                      "--frontend decimate:2")
        assert record.feature_frames == 1 + record.num_samples // 160
        assert record.num_frames == -(-record.feature_frames // 2)
    line = json.loads((digits_dataset / "manifest.jsonl").read_text().splitlines()[0])
    # A NeMo manifest: its keys are there, extra keys under their own names.
    assert {"audio_filepath", "duration", "text", "speaker"} <= set(line)


def test_segments_decode_to_the_digit_files_features(counting_dataset, transcribed_copy,
                                                     tmp_path):
    # The oracle: the same samples as whole files (the digit files the recording is made of).
    folder = tmp_path / "digits"
    folder.mkdir()
    for digit in ("zero", "four", "nine"):
        shutil.copy(transcribed_copy / "digits" / f"{digit}_us.flac", folder)
    preprocess(Settings.make(folder, **TRANSCRIBED_OPTIONS), tmp_path / "whole", workers=1)
    whole = {r.source.split("_")[0]: r for r in records_by(tmp_path / "whole", "id").values()}
    segments = records_by(counting_dataset, "text")
    assert sorted(segments) == sorted(["zero", "one", "two", "three", "four", "five", "six",
                                       "seven", "eight", "nine"])
    lines = [json.loads(line) for line in
             (transcribed_copy / "long" / "counting.jsonl").read_text().splitlines()]
    for line in lines:
        record = segments[line["text"]]
        assert (record.offset, record.duration) == (line["offset"], line["duration"])
        assert record.source == "counting.flac"
        assert record.extra == {"speaker": "us"}
    for digit in ("zero", "four", "nine"):
        segment, reference = segments[digit], whole[digit]
        assert segment.orig_num_samples == reference.orig_num_samples
        np.testing.assert_array_equal(np.load(counting_dataset / segment.feature_filepath),
                                      np.load(tmp_path / "whole" / reference.feature_filepath))


def test_bad_lines_and_segments_outside_the_file_are_failures_with_line_numbers(
        transcribed_copy, tmp_path):
    long = transcribed_copy / "long" / "counting.flac"
    manifest = write_manifest(tmp_path / "m" / "in.jsonl", [
        {"audio_filepath": str(long), "offset": 0.3, "duration": 0.5, "text": "absolute"},
        "{broken",
        {"audio_filepath": str(long), "offset": 6.9, "duration": 0.5},
        {"audio_filepath": str(long), "offset": 7.5},
        {"audio_filepath": "missing.wav"},
        {"audio_filepath": os.path.relpath(long, tmp_path / "m"), "offset": 1.0,
         "duration": 0.3, "id": "relative"},
        {"text": "no audio"},
    ])
    summary = preprocess(Settings.make(manifest=manifest, **TRANSCRIBED_OPTIONS),
                         tmp_path / "out", workers=1)
    assert (summary.done, summary.failed, summary.unit) == (2, 5, "utterances")
    failures = read_jsonl(tmp_path / "out" / "failures.jsonl", Failure)
    assert [(f.line, f.error) for f in failures] == [
        (2, "InvalidLine"), (3, "SegmentOutOfRange"), (4, "SegmentOutOfRange"),
        (5, "FileNotFoundError"), (7, "InvalidLine")]
    assert failures[1].message == ("offset 6.9 s + duration 0.5 s ends 0.480375 s after the "
                                   "end of the file (6.91962 s), more than the 0.025 s "
                                   "tolerance")
    assert "offset 7.5 s is not inside the file" in failures[2].message
    assert failures[3].source == "missing.wav" and str(tmp_path) not in failures[3].message
    assert sorted(r.text for r in records_by(tmp_path / "out", "id").values()
                  if r.text) == ["absolute"]
    assert records_by(tmp_path / "out", "id")["relative"].audio_filepath == str(long)


def test_relative_paths_are_read_from_the_manifest_folder(tmp_path):
    write_audio(tmp_path / "corpus" / "wav" / "a.wav", 0.3, 16000)
    manifest = write_manifest(tmp_path / "corpus" / "lists" / "train.jsonl",
                              [{"audio_filepath": "../wav/a.wav", "text": "a"}])
    preprocess(Settings.make(manifest=manifest), tmp_path / "out", workers=1)
    [record] = records_by(tmp_path / "out", "id").values()
    assert record.audio_filepath == str(tmp_path / "corpus" / "wav" / "a.wav")
    assert record.source == "../wav/a.wav"


def test_a_usage_error_for_a_missing_manifest_or_both_inputs(tmp_path):
    with pytest.raises(UsageError, match="--manifest must be a file"):
        preprocess(Settings.make(manifest=tmp_path / "none.jsonl"), tmp_path / "out")
    with pytest.raises(ValueError, match="either INPUT_DIR or --manifest, not both"):
        Settings.make(tmp_path, manifest=tmp_path / "x.jsonl")
    with pytest.raises(ValueError, match="--transcripts is for INPUT_DIR inputs"):
        Settings.make(manifest=tmp_path / "x.jsonl", transcripts=[tmp_path / "t.txt"])
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------ resume, shards, workers


def test_manifest_input_resumes_and_redoes_only_what_changed(digits_dataset, transcribed_copy,
                                                            tmp_path):
    copy = tmp_path / "dataset"
    shutil.copytree(digits_dataset, copy)
    before = outputs(copy)
    settings = Settings.make(manifest=transcribed_copy / "manifests" / "digits.jsonl",
                             **TRANSCRIBED_OPTIONS)
    summary = preprocess(settings, copy, workers=1)
    assert (summary.done, summary.skipped) == (0, 60)
    assert outputs(copy) == before
    # A manifest of its own, to change: the same lines, next to a copy of the audio.
    manifest = tmp_path / "manifests" / "digits.jsonl"
    manifest.parent.mkdir()
    shutil.copytree(transcribed_copy / "digits", tmp_path / "digits")
    lines = (transcribed_copy / "manifests" / "digits.jsonl").read_text().splitlines()
    manifest.write_text("\n".join(lines) + "\n")
    moved = tmp_path / "moved"
    preprocess(Settings.make(manifest=manifest, **TRANSCRIBED_OPTIONS), moved, workers=1)
    # A changed text or extra key rewrites the record and keeps the array.
    changed = json.loads(lines[5]) | {"text": "changed", "speaker": "new"}
    lines[5] = json.dumps(changed)
    manifest.write_text("\n".join(lines) + "\n")
    summary = preprocess(Settings.make(manifest=manifest, **TRANSCRIBED_OPTIONS), moved,
                         workers=1)
    assert (summary.done, summary.skipped) == (0, 60)
    record = records_by(moved, "source")[changed["audio_filepath"]]
    assert (record.text, record.extra) == ("changed", {"speaker": "new"})
    fresh = tmp_path / "fresh"
    preprocess(Settings.make(manifest=manifest, **TRANSCRIBED_OPTIONS), fresh, workers=1)
    assert outputs(moved) == outputs(fresh)
    # A changed segment is a changed utterance: redone, and only that one.
    lines[5] = json.dumps(changed | {"duration": changed["duration"] - 0.05})
    manifest.write_text("\n".join(lines) + "\n")
    summary = preprocess(Settings.make(manifest=manifest, **TRANSCRIBED_OPTIONS), moved,
                         workers=1)
    assert (summary.done, summary.skipped) == (1, 59)


def test_transcripts_added_later_fill_the_texts_without_recomputing(transcribed_copy, tmp_path):
    folder = tmp_path / "audio"
    folder.mkdir()
    for name in ("one_us", "two_us", "three_us", "four_f4"):
        shutil.copy(transcribed_copy / "digits" / f"{name}.flac", folder)
    transcripts = transcribed_copy / "digits" / "digits.trans.txt"
    preprocess(Settings.make(folder), tmp_path / "later", workers=1)
    summary = preprocess(Settings.make(folder, transcripts=[transcripts], require_text=True),
                         tmp_path / "later", workers=1)
    assert (summary.done, summary.skipped, summary.without_text) == (0, 4, ())
    preprocess(Settings.make(folder, transcripts=[transcripts], require_text=True),
               tmp_path / "fresh", workers=1)
    assert outputs(tmp_path / "later") == outputs(tmp_path / "fresh")


def test_manifest_shards_merge_into_the_unsharded_dataset_and_workers_agree(
        counting_dataset, transcribed_copy, tmp_path):
    manifest = transcribed_copy / "long" / "counting.jsonl"
    shards = []
    for index in range(3):
        shard = tmp_path / f"shard{index}"
        settings = Settings.make(manifest=manifest, num_shards=3, shard_index=index,
                                 **TRANSCRIBED_OPTIONS)
        preprocess(settings, shard, workers=1)
        shards.append(shard)
    counts = [len(read_jsonl(s / "manifest.jsonl", Record)) for s in shards]
    assert sum(counts) == 10 and all(counts)  # each shard has some of the segments
    merge(shards, tmp_path / "merged")
    assert outputs(tmp_path / "merged") == outputs(counting_dataset)
    preprocess(Settings.make(manifest=manifest, **TRANSCRIBED_OPTIONS), tmp_path / "two",
               workers=2)
    assert outputs(tmp_path / "two") == outputs(counting_dataset)


# ---------------------------------------------------------------- folders + transcripts


@pytest.fixture(scope="module")
def digits_folder(transcribed_copy):
    return transcribed_copy / "digits"


def test_transcripts_fill_the_text_of_a_folder_by_file_name(digits_folder, tmp_path):
    settings = Settings.make(digits_folder, transcripts=[digits_folder / "digits.trans.txt"],
                             require_text=True)
    summary = preprocess(settings, tmp_path / "out", workers=2)
    assert (summary.done, summary.failed, summary.without_text) == (60, 0, ())
    for record in records_by(tmp_path / "out", "source").values():
        assert record.text == record.source.split("_")[0].upper()


def test_utterances_without_transcript_are_listed_or_with_require_text_fail(digits_folder,
                                                                            tmp_path):
    folder = tmp_path / "audio"
    folder.mkdir()
    for name in ("one_us", "two_us", "three_us"):
        shutil.copy(digits_folder / f"{name}.flac", folder)
    transcripts = tmp_path / "t.txt"
    transcripts.write_text("one_us\tone\nthree_us three\nunused nothing\n")
    summary = preprocess(Settings.make(folder, transcripts=[transcripts]), tmp_path / "a",
                         workers=1)
    assert (summary.done, summary.without_text) == (3, ("two_us.flac",))
    assert "3 files: 3 done, 0 skipped, 0 failed, 1 without text;" in summary.line()
    assert json.loads((tmp_path / "a" / "dataset.json").read_text())["counts"][
        "without_text"] == 1
    summary = preprocess(Settings.make(folder, transcripts=[transcripts], require_text=True),
                         tmp_path / "b", workers=1)
    assert (summary.done, summary.failed) == (2, 1)
    [failure] = read_jsonl(tmp_path / "b" / "failures.jsonl", Failure)
    assert (failure.source, failure.error, failure.line) == ("two_us.flac", "MissingText", None)
    # Without any text source, nothing is listed.
    assert preprocess(Settings.make(folder), tmp_path / "c", workers=1).without_text == ()


def test_an_ambiguous_transcript_id_is_a_usage_error(tmp_path):
    for speaker in ("a", "b"):
        write_audio(tmp_path / "in" / speaker / "utt.wav", 0.2, 16000)
    transcripts = tmp_path / "t.txt"
    transcripts.write_text("utt hello\n")
    with pytest.raises(UsageError, match="'utt' is the name of 2 files"):
        preprocess(Settings.make(tmp_path / "in", transcripts=[transcripts]), tmp_path / "out")
    transcripts.write_text("a/utt hello\n")
    preprocess(Settings.make(tmp_path / "in", transcripts=[transcripts]), tmp_path / "out")
    assert {r.source: r.text for r in records_by(tmp_path / "out", "id").values()} == {
        "a/utt.wav": "hello", "b/utt.wav": None}


# ------------------------------------------------------------------ reading back


def test_manifest_dataset_returns_text_and_collate_keeps_it(digits_dataset):
    dataset = ManifestDataset(digits_dataset / "manifest.jsonl")
    batch = collate([dataset[index] for index in range(4)])
    assert batch.texts == [record.text for record in dataset.records[:4]]
    assert all(isinstance(text, str) for text in batch.texts)
    assert batch.lengths.tolist() == [r.num_frames for r in batch.records]


def test_old_manifests_without_the_new_keys_are_still_read(digits_dataset, tmp_path):
    new_keys = ("text", "offset", "frame_shift", "frame_count", "speaker")
    lines = [json.loads(line) for line in
             (digits_dataset / "manifest.jsonl").read_text().splitlines()]
    old = tmp_path / "manifest.jsonl"
    old.write_text("".join(json.dumps({k: v for k, v in line.items() if k not in new_keys})
                           + "\n" for line in lines))
    shutil.copytree(digits_dataset / "features", tmp_path / "features")
    dataset = ManifestDataset(old)
    features, record = dataset[0]
    assert (record.text, record.frame_shift, record.extra) == (None, None, {})
    assert features.shape[-1] == record.num_frames
    assert collate([dataset[0], dataset[1]]).texts == [None, None]
    assert torch.equal(features, ManifestDataset(digits_dataset / "manifest.jsonl")[0][0])

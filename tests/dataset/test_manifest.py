"""Manifest records round-trip, ids are stable and safe, writes are all-or-nothing."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import replace

import numpy as np
import pytest

from seqdown.dataset.atomic import atomic_write, remove_temporaries, save_array, write_text
from seqdown.dataset.journal import SYNC_LINES, SYNC_SECONDS, Entry, Journal, is_current
from seqdown.dataset.manifest import Failure, Record, read_jsonl, utterance_id, write_jsonl

RECORD = Record(
    id="a__b.wav-00000000", source="a/b.wav", audio_filepath="/data/a/b.wav", duration=1.5,
    orig_sampling_rate=44100, sampling_rate=16000, orig_channels=2, channels=1,
    orig_num_samples=66150, num_samples=24000, features="logmel", feature_frames=151,
    num_frames=76, frame_rate=50.0, feature_filepath="features/a__b.wav-00000000.npy",
    shape=[80, 76], sha256="0" * 64)


def test_record_round_trips_through_jsonl(tmp_path):
    failure = Failure("c/d é.flac", "NonFiniteSamples", "sample 3 is nan")
    write_jsonl(tmp_path / "m.jsonl", [RECORD, RECORD])
    write_jsonl(tmp_path / "f.jsonl", [failure])
    assert read_jsonl(tmp_path / "m.jsonl", Record) == [RECORD, RECORD]
    assert read_jsonl(tmp_path / "f.jsonl", Failure) == [failure]
    line = (tmp_path / "f.jsonl").read_text(encoding="utf-8")
    assert line == '{"source": "c/d é.flac", "error": "NonFiniteSamples", ' \
                   '"message": "sample 3 is nan"}\n'
    assert list(json.loads(RECORD.to_json())) == [
        "id", "source", "audio_filepath", "duration", "orig_sampling_rate", "sampling_rate",
        "orig_channels", "channels", "orig_num_samples", "num_samples", "features",
        "feature_frames", "num_frames", "frame_rate", "feature_filepath", "shape", "sha256"]


def test_read_jsonl_names_the_bad_line(tmp_path):
    (tmp_path / "m.jsonl").write_text(RECORD.to_json() + "\n{\"id\": 1}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"line 2: Record line lacks the keys \['source'"):
        read_jsonl(tmp_path / "m.jsonl", Record)


@pytest.mark.parametrize("source", ["digits/one_us.flac", "formats/grüße aus köln.wav",
                                    "a b/c:d*e?.WAV", "x/" * 80 + "long.wav"])
def test_utterance_id_is_stable_and_file_system_safe(source):
    identifier = utterance_id(source)
    assert identifier == utterance_id(source)
    assert all(c.isascii() and (c.isalnum() or c in "._-") for c in identifier)
    assert len(identifier) <= 96 + 9
    assert identifier.endswith(hashlib.sha1(source.encode()).hexdigest()[:8])


def test_utterance_ids_differ_where_readable_parts_collide():
    sources = ["a b.wav", "a_b.wav", "A_b.wav", "a/b.wav", "a__b.wav"]
    assert len({utterance_id(s) for s in sources}) == len(sources)


def test_save_array_is_npy_with_its_sha256(tmp_path):
    array = np.arange(12, dtype=np.float32).reshape(3, 4)
    digest, size = save_array(tmp_path / "x.npy", array)
    data = (tmp_path / "x.npy").read_bytes()
    assert digest == hashlib.sha256(data).hexdigest() and size == len(data)
    np.testing.assert_array_equal(np.load(tmp_path / "x.npy"), array)
    assert [p.name for p in tmp_path.iterdir()] == ["x.npy"]


def test_atomic_write_keeps_the_old_file_on_error(tmp_path):
    write_text(tmp_path / "x.txt", "old")
    with pytest.raises(KeyError), atomic_write(tmp_path / "x.txt") as file:
        file.write(b"half of the new")
        raise KeyError("killed")
    assert (tmp_path / "x.txt").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.txt"]


def test_remove_temporaries_only_removes_temporaries(tmp_path):
    for name in [".x.npy.abc123.tmp", "x.npy", ".hidden", "y.tmp"]:
        (tmp_path / name).write_bytes(b"")
    assert remove_temporaries(tmp_path) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [".hidden", "x.npy", "y.tmp"]


def test_journal_ignores_a_torn_line_and_checks_sources(tmp_path):
    source = tmp_path / "b.wav"
    source.write_bytes(b"1234")
    status = source.stat()
    (tmp_path / "features").mkdir()
    (tmp_path / RECORD.feature_filepath).write_bytes(b"x" * 10)
    entry = Entry(RECORD, status.st_size, status.st_mtime_ns, 10, "a/b.wav", "digest")
    journal = Journal(tmp_path)
    journal.append(entry)
    journal.close()
    with open(journal.path, "a", encoding="utf-8") as file:
        file.write(entry.to_json()[:-7])  # a run killed while appending
    assert Journal(tmp_path).load() == {"a/b.wav": entry}
    assert is_current(entry, status, tmp_path, "digest")
    assert not is_current(entry, status, tmp_path, "other")  # the input line changed
    (tmp_path / RECORD.feature_filepath).write_bytes(b"x" * 9)  # a damaged array
    assert not is_current(entry, status, tmp_path, "digest")
    (tmp_path / RECORD.feature_filepath).unlink()
    assert not is_current(entry, status, tmp_path, "digest")
    (tmp_path / RECORD.feature_filepath).write_bytes(b"x" * 10)
    source.write_bytes(b"12345")  # the source changed
    assert not is_current(entry, source.stat(), tmp_path, "digest")


@dataclasses.dataclass(frozen=True)
class NewerRecord(Record):
    """A record as a later seqdown might write it: one more key, with a default."""

    transcript: str = ""


def test_from_json_reads_older_and_newer_lines():
    older = json.loads(RECORD.to_json())
    # A newer seqdown reads an older line: the missing key gets its default.
    assert NewerRecord.from_json(json.dumps(older)) == NewerRecord(**older)
    # An older seqdown reads a newer line: the unknown key is kept, in ``extra``.
    newer = NewerRecord(**older, transcript="one two")
    assert "transcript" in newer.to_json()
    assert Record.from_json(newer.to_json()) == dataclasses.replace(
        RECORD, extra={"transcript": "one two"})
    # A key without a default is still required.
    del older["sha256"]
    with pytest.raises(ValueError, match=r"lacks the keys \['sha256'\]"):
        NewerRecord.from_json(json.dumps(older))
    with pytest.raises(ValueError, match="is not a JSON object"):
        Record.from_json("[1, 2]")


def test_journal_appends_are_synced_in_batches(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr("seqdown.dataset.journal.os.fsync",
                        lambda handle: synced.append(handle) or real_fsync(handle))
    journal = Journal(tmp_path)
    entry = Entry(RECORD, 10, 20, 30)
    for _ in range(SYNC_LINES - 1):
        journal.append(entry)
    assert synced == [] and journal.unsynced == SYNC_LINES - 1
    # Every line reached the OS at once: another process (a resumed run) reads them all.
    assert len(Journal(tmp_path).path.read_text().splitlines()) == SYNC_LINES - 1
    journal.append(entry)
    assert len(synced) == 1 and journal.unsynced == 0
    journal.append(entry)
    journal.close()
    assert len(synced) == 2  # close syncs the last, partial batch
    assert Journal(tmp_path).load() == {"a/b.wav": entry}


def test_journal_syncs_a_batch_that_waited_too_long(tmp_path, monkeypatch):
    clock = [0.0]
    monkeypatch.setattr("seqdown.dataset.journal.time.monotonic", lambda: clock[0])
    journal = Journal(tmp_path)
    journal.append(Entry(RECORD, 1, 2, 3))
    assert journal.unsynced == 1
    clock[0] = SYNC_SECONDS
    journal.append(Entry(RECORD, 1, 2, 3))
    assert journal.unsynced == 0
    journal.close()


def test_entry_moved_to_changes_only_the_absolute_path():
    entry = Entry(RECORD, 10, 20, 30)
    moved = entry.moved_to("/mnt/corpus/a/b.wav")
    assert moved.record.audio_filepath == "/mnt/corpus/a/b.wav"
    assert dataclasses.replace(moved.record, audio_filepath=RECORD.audio_filepath) == RECORD
    assert (moved.source_size, moved.source_mtime_ns, moved.array_size) == (10, 20, 30)
    assert entry.moved_to(RECORD.audio_filepath) is entry


def test_new_record_keys_round_trip_and_are_left_out_when_unknown(tmp_path):
    record = replace(RECORD, offset=2.5, text="héllo", frame_shift=0.02,
                     frame_count="centred STFT: feature_frames = 1 + num_samples // 160",
                     extra={"speaker": "s1", "tags": [1, 2]})
    write_jsonl(tmp_path / "m.jsonl", [record, RECORD])
    assert read_jsonl(tmp_path / "m.jsonl", Record) == [record, RECORD]
    first, second = (json.loads(line) for line in
                     (tmp_path / "m.jsonl").read_text(encoding="utf-8").splitlines())
    assert list(first)[-6:] == ["offset", "text", "frame_shift", "frame_count", "speaker", "tags"]
    assert not {"offset", "text", "frame_shift", "frame_count", "extra"} & set(second)
    failure = Failure("in.jsonl:3", "InvalidLine", "the line is not JSON", 3)
    assert json.loads(failure.to_json())["line"] == 3 and failure.where == "line 3 (in.jsonl:3)"
    assert Failure.from_json(failure.to_json()) == failure


def test_journal_lines_of_older_versions_load_and_are_redone(tmp_path):
    old = json.dumps({"source_size": 4, "source_mtime_ns": 7, "array_size": 10,
                      "record": json.loads(RECORD.to_json())})
    (tmp_path / "journal.jsonl").write_text(old + "\n", encoding="utf-8")
    [entry] = Journal(tmp_path).load().values()
    assert (entry.key, entry.input_digest, entry.audio_digest) == ("a/b.wav", "", "")
    source = tmp_path / "b.wav"
    source.write_bytes(b"1234")
    os.utime(source, ns=(7, 7))
    (tmp_path / "features").mkdir()
    (tmp_path / RECORD.feature_filepath).write_bytes(b"x" * 10)
    assert not is_current(entry, source.stat(), tmp_path, "any digest")
    assert is_current(entry, source.stat(), tmp_path, "")

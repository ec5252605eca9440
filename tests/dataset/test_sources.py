"""Manifest lines and transcripts become utterances; bad lines become failures with numbers;
segments are decoded by seeking, to exactly the samples soundfile reads there."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile

from seqdown.dataset.audio import (
    SEGMENT_TOLERANCE,
    AudioInfo,
    SegmentOutOfRange,
    TruncatedAudio,
    open_audio,
    segment_frames,
)
from seqdown.dataset.manifest import utterance_id
from seqdown.dataset.sources import manifest_utterances
from seqdown.dataset.transcripts import match_transcripts, read_transcripts
from tests.conftest import FIXTURES, write_audio
from tests.dataset.conftest import write_manifest


def test_manifest_lines_relative_absolute_segments_and_extra_keys(tmp_path):
    absolute = tmp_path / "elsewhere" / "b.wav"
    path = write_manifest(tmp_path / "m" / "in.jsonl", [
        {"audio_filepath": "a.wav", "duration": 1.5, "text": "hello", "speaker": "s1",
         "lang": "en", "tags": [1, 2]},
        {"audio_filepath": str(absolute), "offset": 2.25, "duration": 1.0},
        {"audio_filepath": "sub/c.flac", "id": "utt-c", "offset": 0},
    ])
    utterances, failures = manifest_utterances(path)
    assert failures == []
    a, b, c = utterances
    assert (a.key, a.source, a.audio_path) == ("a.wav", "a.wav", str(tmp_path / "m" / "a.wav"))
    assert (a.offset, a.duration, a.text, a.id, a.line) == (None, 1.5, "hello", None, 1)
    assert a.extra == {"speaker": "s1", "lang": "en", "tags": [1, 2]}
    assert (a.record_id, a.array_name) == (utterance_id("a.wav"), utterance_id("a.wav"))
    assert (b.key, b.audio_path, b.offset, b.line) == (f"{absolute}@2.25", str(absolute), 2.25, 2)
    assert (c.key, c.record_id, c.array_name) == ("utt-c", "utt-c", utterance_id("utt-c"))
    assert (c.offset, c.audio_path) == (0.0, str(tmp_path / "m" / "sub" / "c.flac"))


BAD_LINES = [
    ("not json", "not JSON"),
    ('["x.wav"]', "must be a JSON object"),
    ({"text": "no path"}, "needs 'audio_filepath'"),
    ({"audio_filepath": ""}, "needs 'audio_filepath'"),
    ({"audio_filepath": "a.wav", "offset": -1}, "'offset' must be >= 0, got -1"),
    ({"audio_filepath": "a.wav", "duration": 0}, "'duration' must be > 0, got 0"),
    ({"audio_filepath": "a.wav", "duration": "2"}, "'duration' must be a number"),
    ('{"audio_filepath": "a.wav", "offset": NaN}', "'offset' must be a number of seconds"),
    ({"audio_filepath": "a.wav", "offset": True}, "'offset' must be a number"),
    ({"audio_filepath": "a.wav", "text": 3}, "'text' must be a string"),
    ({"audio_filepath": "a.wav", "id": ""}, "'id' must be a non-empty string"),
    ({"audio_filepath": "a.wav", "num_frames": 3}, "['num_frames'] are written by seqdown"),
]


@pytest.mark.parametrize(("line", "message"), BAD_LINES, ids=[m for _, m in BAD_LINES])
def test_a_bad_line_is_a_failure_with_its_number_and_the_others_go_on(tmp_path, line, message):
    path = write_manifest(tmp_path / "in.jsonl",
                          [{"audio_filepath": "ok.wav"}, line, {"audio_filepath": "ok2.wav"}])
    utterances, failures = manifest_utterances(path)
    assert [u.key for u in utterances] == ["ok.wav", "ok2.wav"]
    [failure] = failures
    assert (failure.line, failure.error) == (2, "InvalidLine")
    assert message in failure.message
    has_path = "a.wav" in (line if isinstance(line, str) else json.dumps(line))
    assert failure.source == ("a.wav" if has_path else "in.jsonl:2")


def test_blank_lines_are_skipped_and_non_utf8_is_a_failure(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_bytes(b'{"audio_filepath": "a.wav"}\n\n   \n\xff\xfe\n{"audio_filepath": "b.wav"}')
    utterances, failures = manifest_utterances(path)
    assert [(u.key, u.line) for u in utterances] == [("a.wav", 1), ("b.wav", 5)]
    assert [(f.line, f.error) for f in failures] == [(4, "InvalidLine")]
    assert "not UTF-8" in failures[0].message


def test_repeated_keys_and_ids_are_failures_of_the_later_lines(tmp_path):
    path = write_manifest(tmp_path / "in.jsonl", [
        {"audio_filepath": "long.wav", "offset": 1.0, "duration": 1.0},
        {"audio_filepath": "long.wav", "offset": 1.0, "duration": 2.0},  # same key
        {"audio_filepath": "long.wav", "offset": 3.0, "duration": 1.0},
        {"audio_filepath": "x.wav", "id": "u1"},
        {"audio_filepath": "y.wav", "id": "u1"},  # same id
        {"audio_filepath": "z.wav", "id": utterance_id("x.wav")},
        {"audio_filepath": "x.wav"},  # its record id is taken by the line before
    ])
    utterances, failures = manifest_utterances(path)
    assert [u.line for u in utterances] == [1, 3, 4, 6]
    assert [(f.line, f.source) for f in failures] == [(2, "long.wav"), (5, "y.wav"),
                                                       (7, "x.wav")]
    assert "already given by line 1" in failures[0].message
    assert "already given by line 4" in failures[1].message


def test_digest_changes_with_anything_the_line_says(tmp_path):
    lines = [{"audio_filepath": "a.wav", "text": "one"}, {"audio_filepath": "a.wav", "text": "two"},
             {"audio_filepath": "a.wav", "text": "one", "k": 1}]
    digests = set()
    for index, line in enumerate(lines):
        [utterance], _ = manifest_utterances(write_manifest(tmp_path / f"{index}.jsonl", [line]))
        digests.add(utterance.digest)
    assert len(digests) == 3


def test_fixture_manifests_are_valid_and_point_at_files():
    for name, count in (("manifests/digits.jsonl", 60), ("long/counting.jsonl", 10)):
        utterances, failures = manifest_utterances(FIXTURES / name)
        assert (len(utterances), failures) == (count, [])
        assert all(u.text for u in utterances)
        assert all(soundfile.info(u.audio_path).frames > 0 for u in utterances)


# ------------------------------------------------------------------------------ transcripts

def test_read_transcripts_tab_and_space_forms(tmp_path):
    first = tmp_path / "a.trans.txt"
    first.write_text("84-121123-0000 GO  DO YOU HEAR\n\nspk/utt2\tmixed Case, punct.\n"
                     "empty\t\n", encoding="utf-8")
    second = tmp_path / "b.txt"
    second.write_text("x y\n", encoding="utf-8")
    assert read_transcripts([first, second]) == {
        "84-121123-0000": "GO  DO YOU HEAR", "spk/utt2": "mixed Case, punct.", "empty": "",
        "x": "y"}


@pytest.mark.parametrize(("content", "message"), [
    ("onlyanid\n", "line 1 must be 'id<TAB>text' or 'id text'"),
    ("a one\nb two\na three\n", "line 3 repeats the id 'a' of line 1"),
    ("\tno id\n", "line 1 has no id"),
], ids=["no-text", "repeated-id", "no-id"])
def test_read_transcripts_bad_lines_name_file_and_line(tmp_path, content, message):
    path = tmp_path / "t.txt"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_transcripts([path])
    with pytest.raises(ValueError, match="cannot be read"):
        read_transcripts([tmp_path / "missing.txt"])


def test_match_transcripts_id_rule():
    sources = ["a/1.wav", "b/1.wav", "b/2.flac", "c/3.wav", "3.wav"]
    texts = {"a/1": "path", "b/2": "path 2", "2": "name 2 (path wins)", "c/3": "c"}
    assert match_transcripts(sources, texts) == {"a/1.wav": "path", "b/2.flac": "path 2",
                                                 "c/3.wav": "c"}
    assert match_transcripts(sources, {"2": "by name"}) == {"b/2.flac": "by name"}
    with pytest.raises(ValueError, match="'1' is the name of 2 files"):
        match_transcripts(sources, {"1": "ambiguous"})


# ------------------------------------------------------------------------------- segments

INFO = AudioInfo(16000, 1, 32000, "WAV", "PCM_16")


@pytest.mark.parametrize(("offset", "duration", "expected"), [
    (None, None, (0, None)),
    (0.5, None, (8000, None)),
    (None, 1.0, (0, 16000)),
    (0.00003125, 0.0000625, (1, 1)),      # half a sample rounds up
    (1.5, 0.5, (24000, 8000)),             # ends exactly at the end
    (1.5, 0.5 + SEGMENT_TOLERANCE, (24000, 8000)),  # clipped within the tolerance
], ids=["whole", "offset", "duration", "halves-up", "to-the-end", "tolerance"])
def test_segment_frames(offset, duration, expected):
    assert segment_frames(INFO, offset, duration) == expected


@pytest.mark.parametrize(("offset", "duration", "message"), [
    (2.0, None, "offset 2.0 s is not inside the file"),
    (1.5, 0.5 + SEGMENT_TOLERANCE + 0.001, "ends 0.026 s after the end"),
    (0.0, 0.00001, "holds no sample"),
], ids=["offset-at-end", "past-tolerance", "empty"])
def test_segment_outside_the_file_is_refused(offset, duration, message):
    with pytest.raises(SegmentOutOfRange, match=message):
        segment_frames(INFO, offset, duration)


@pytest.mark.parametrize("path", ["formats/flac_pcm_16.flac", "formats/wav_pcm_24.wav",
                                  "signals/two_tone_stereo_32k.wav"])
def test_blocks_of_a_segment_are_soundfiles_samples_and_nothing_before(path):
    reference, _ = soundfile.read(FIXTURES / path, dtype="float32", always_2d=True)
    start, frames = 1234, 5000
    with open_audio(FIXTURES / path) as audio:
        blocks = list(audio.blocks(999, start, frames))
        assert audio.frames_read == frames  # only the segment was decoded
    assert all(block.shape[1] <= 999 for block in blocks)
    np.testing.assert_array_equal(np.concatenate(blocks, axis=1).T,
                                  reference[start:start + frames])


def test_a_segment_beyond_what_the_file_holds_is_truncated(tmp_path):
    write_audio(tmp_path / "a.wav", 0.1, 16000)
    with open_audio(tmp_path / "a.wav") as audio, pytest.raises(TruncatedAudio):
        list(audio.blocks(512, 1000, 1000))


def test_fixture_counting_segments_are_the_digit_files():
    lines = [json.loads(line) for line in
             (FIXTURES / "long/counting.jsonl").read_text(encoding="utf-8").splitlines()]
    whole, _ = soundfile.read(FIXTURES / "long/counting.flac", dtype="int16")
    with open_audio(FIXTURES / "long/counting.flac") as audio:
        info = audio.info
    for line in lines:
        start, frames = segment_frames(info, line["offset"], line["duration"])
        digit, _ = soundfile.read(FIXTURES / f"digits/{line['text']}_us.flac", dtype="int16")
        np.testing.assert_array_equal(whole[start:start + frames], digit)

"""Manifest lines that once broke a dataset: Unicode line separators in texts and file names,
lone surrogates in input lines, and the input keys ``extra`` and ``id`` across a resume."""

from __future__ import annotations

import json
from typing import Any

import pytest

from seqdown.dataset.data import ManifestDataset
from seqdown.dataset.export.folder import read_dataset
from seqdown.dataset.manifest import Failure, Record, read_jsonl, utterance_id
from seqdown.dataset.pipeline import preprocess
from seqdown.dataset.settings import Settings
from seqdown.dataset.sources import INPUT_KEYS, manifest_utterances
from seqdown.dataset.transcripts import read_transcripts
from tests.conftest import outputs, run_cli, write_audio
from tests.dataset.conftest import records_by, write_manifest

pytestmark = pytest.mark.slow

#: Characters that str.splitlines() splits at and json.dumps(ensure_ascii=False) leaves raw.
SEPARATORS = {"U+2028": "\u2028", "U+2029": "\u2029", "U+0085": "\x85"}


# ------------------------------------------------- line separators in texts and file names


@pytest.mark.parametrize("separator", SEPARATORS.values(), ids=list(SEPARATORS))
def test_line_separators_in_texts_and_file_names_round_trip(tmp_path, separator):
    name, text = f"a{separator}b.wav", f"hello{separator}world"
    write_audio(tmp_path / "in" / name, 0.2, 16000)
    write_audio(tmp_path / "in" / "plain.wav", 0.2, 16000, seed=1)
    # The input readers: a manifest line and a transcripts line keep the character.
    lines = [{"audio_filepath": f"in/{name}", "text": text},
             {"audio_filepath": "in/plain.wav", "text": "plain"}]
    manifest = tmp_path / "in.jsonl"
    manifest.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines),
                        encoding="utf-8")
    utterances, failures = manifest_utterances(manifest)
    assert failures == []
    assert [(u.source, u.text) for u in utterances] == [(line["audio_filepath"], line["text"])
                                                         for line in lines]
    transcripts = tmp_path / "t.txt"
    transcripts.write_text(f"a{separator}b\t{text}\r\nplain plain\n", encoding="utf-8")
    assert read_transcripts([transcripts]) == {f"a{separator}b": text, "plain": "plain"}
    # Both inputs, through a run, and read back by every reader of manifest.jsonl.
    runs = {
        "manifest": (Settings.make(manifest=manifest), {f"in/{name}": text,
                                                        "in/plain.wav": "plain"}),
        "folder": (Settings.make(tmp_path / "in", transcripts=[transcripts]),
                   {name: text, "plain.wav": "plain"}),
    }
    for kind, (settings, expected) in runs.items():
        output = tmp_path / kind
        summary = preprocess(settings, output, workers=1)
        assert (summary.done, summary.failed) == (2, 0)
        assert separator in (output / "manifest.jsonl").read_text(encoding="utf-8")
        assert {r.source: r.text for r in read_jsonl(output / "manifest.jsonl", Record)
                } == expected
        dataset = ManifestDataset(output / "manifest.jsonl")
        assert {r.source: r.text for r in dataset.records} == expected
        assert {r.source: r.text for r in read_dataset(output).records} == expected


# ------------------------------------------------------------- lone surrogates in a line


#: Lines with a string UTF-8 cannot encode, the field the failure must name, and its source.
SURROGATE_LINES: list[tuple[dict[str, Any], str, str]] = [
    ({"audio_filepath": "a\ud800.flac"}, "'audio_filepath'", "a\\ud800.flac"),
    ({"audio_filepath": "ok.wav", "id": "x", "text": "hi\udfff"}, "'text'", "ok.wav"),
    ({"audio_filepath": "ok.wav", "id": "y", "id\udc80": 1}, "the key 'id\\udc80'", "ok.wav"),
    ({"audio_filepath": "ok.wav", "id": "z", "meta": {"who": ["s", "\ud83d"]}},
     "'meta'['who'][1]", "ok.wav"),
    ({"audio_filepath": "ok.wav", "id": "w", "meta": {"k\udbff": 0}},
     "the key 'k\\udbff' of 'meta'", "ok.wav"),
]


def test_a_lone_surrogate_is_an_invalid_line_and_the_other_lines_go_on(tmp_path):
    write_audio(tmp_path / "ok.wav", 0.2, 16000)
    write_audio(tmp_path / "ok2.wav", 0.2, 16000, seed=1)
    # A surrogate pair in JSON is one valid character (U+1F600).
    valid = [{"audio_filepath": "ok.wav", "text": "one"},
             '{"audio_filepath": "ok2.wav", "text": "two \\ud83d\\ude00"}']
    lines = [valid[0], *(line for line, _, _ in SURROGATE_LINES), valid[1]]
    manifest = write_manifest(tmp_path / "in.jsonl", lines)  # json.dumps writes \\ud800 escapes
    done = run_cli("preprocess", "--manifest", manifest, tmp_path / "out")
    assert done.returncode == 1, done.stderr  # "1 when some failed" (README)
    failures = read_jsonl(tmp_path / "out" / "failures.jsonl", Failure)
    assert [(f.line, f.source, f.error) for f in failures] == [
        (number, source, "InvalidLine")
        for number, (_, _, source) in enumerate(SURROGATE_LINES, start=2)]
    for failure, (_, field, _) in zip(failures, SURROGATE_LINES, strict=True):
        assert failure.message.startswith(f"{field} is not valid Unicode"), failure.message
    records = read_jsonl(tmp_path / "out" / "manifest.jsonl", Record)
    assert [(r.source, r.text) for r in records] == [("ok.wav", "one"),
                                                     ("ok2.wav", "two \U0001f600")]
    # A rerun resumes: the same failures, nothing redone.
    again = run_cli("preprocess", "--manifest", manifest, tmp_path / "out")
    assert again.returncode == 1, again.stderr
    assert "0 done, 2 skipped, 5 failed" in again.stdout
    assert read_jsonl(tmp_path / "out" / "failures.jsonl", Failure) == failures


# ------------------------------------------------- the keys extra and id across a resume


#: (first lines, edited lines): resuming after the edit must equal a fresh run of the edit.
EDITS = {
    "extra key kept": ([{"audio_filepath": "one.wav", "extra": {"k": 1}}],
                       [{"audio_filepath": "one.wav", "extra": {"k": 1}}]),
    "extra key changed": ([{"audio_filepath": "one.wav", "extra": {"k": 1}}],
                          [{"audio_filepath": "one.wav", "extra": {"k": 2}, "text": "t"}]),
    "id added": ([{"audio_filepath": "one.wav"}],
                 [{"audio_filepath": "one.wav", "id": "one.wav"}]),
    "id removed": ([{"audio_filepath": "one.wav", "id": "one.wav", "extra": 3}],
                   [{"audio_filepath": "one.wav", "extra": 3}]),
}


@pytest.mark.parametrize(("first", "edited"), EDITS.values(), ids=list(EDITS))
def test_resume_after_an_edit_equals_a_fresh_run(tmp_path, first, edited):
    write_audio(tmp_path / "one.wav", 0.2, 16000)
    write_audio(tmp_path / "two.wav", 0.2, 16000, seed=1)
    other = {"audio_filepath": "two.wav", "text": "two"}
    manifest = tmp_path / "in.jsonl"
    settings = Settings.make(manifest=manifest)
    write_manifest(manifest, [*first, other])
    preprocess(settings, tmp_path / "resumed", workers=1)
    write_manifest(manifest, [*edited, other])
    summary = preprocess(settings, tmp_path / "resumed", workers=1)
    assert (summary.done, summary.skipped) == (0, 2)  # the arrays are kept, records rewritten
    preprocess(settings, tmp_path / "fresh", workers=1)
    assert outputs(tmp_path / "resumed") == outputs(tmp_path / "fresh")
    # The reference: the edited line itself, read back by the dataset.
    [line] = edited
    record = records_by(tmp_path / "resumed", "source")["one.wav"]
    assert record.id == line.get("id", utterance_id("one.wav"))
    assert record.extra == {key: value for key, value in line.items() if key not in INPUT_KEYS}
    dataset = ManifestDataset(tmp_path / "resumed" / "manifest.jsonl")
    assert {r.source: r.extra for r in dataset.records}["one.wav"] == record.extra
    text = (tmp_path / "resumed" / "manifest.jsonl").read_text(encoding="utf-8")
    written = {w["source"]: w for w in map(json.loads, text.split("\n")[:-1])}["one.wav"]
    assert {key: written[key] for key in line if key != "audio_filepath"} == {
        key: value for key, value in line.items() if key != "audio_filepath"}

"""Portable dataset folders: a corpus mounted elsewhere (or moved) resumes and merges as is."""

from __future__ import annotations

import json

from seqdown.dataset.merging import merge
from seqdown.dataset.pipeline import preprocess
from seqdown.dataset.settings import Settings
from tests.conftest import load, tree, write_audio

FILES = ("a.wav", "sub/b.wav", "sub/c.wav")


def make_corpus(root):
    for index, name in enumerate(FILES):
        write_audio(root / name, 0.3, 8000 * (1 + index), seed=index)
    return root


def test_dataset_json_holds_no_input_dir(tmp_path):
    corpus = make_corpus(tmp_path / "corpus")
    preprocess(Settings.make(corpus), tmp_path / "out")
    text = (tmp_path / "out" / "dataset.json").read_text(encoding="utf-8")
    assert "input_dir" not in json.loads(text)["settings"]
    assert str(corpus) not in text


def test_a_moved_corpus_resumes_without_overwrite(tmp_path):
    corpus = make_corpus(tmp_path / "node1" / "corpus")
    preprocess(Settings.make(corpus), tmp_path / "out")
    moved = tmp_path / "node2"
    (tmp_path / "node1").rename(moved)  # a rename keeps sizes and modification times
    summary = preprocess(Settings.make(moved / "corpus"), tmp_path / "out")
    assert (summary.done, summary.skipped, summary.failed) == (0, len(FILES), 0)
    fresh = preprocess(Settings.make(moved / "corpus"), tmp_path / "fresh")
    assert fresh.done == len(FILES)
    # The records name the files where they are now, as a fresh run there does.
    assert tree(tmp_path / "out") == tree(tmp_path / "fresh")
    assert all(record.audio_filepath.startswith(str(moved))
               for record, _ in load(tmp_path / "out").values())


def test_an_older_dataset_json_with_input_dir_still_resumes(tmp_path):
    corpus = make_corpus(tmp_path / "corpus")
    preprocess(Settings.make(corpus), tmp_path / "out")
    path = tmp_path / "out" / "dataset.json"
    description = json.loads(path.read_text(encoding="utf-8"))
    description["settings"]["input_dir"] = "/somewhere/else"
    path.write_text(json.dumps(description), encoding="utf-8")
    summary = preprocess(Settings.make(corpus), tmp_path / "out")
    assert (summary.done, summary.skipped) == (0, len(FILES))


def test_shards_made_on_different_mounts_merge(tmp_path):
    corpus = make_corpus(tmp_path / "node1" / "corpus")
    preprocess(Settings.make(corpus, num_shards=2, shard_index=0), tmp_path / "s0")
    (tmp_path / "node1").rename(tmp_path / "node2")
    other = tmp_path / "node2" / "corpus"
    preprocess(Settings.make(other, num_shards=2, shard_index=1), tmp_path / "s1")
    summary = merge([tmp_path / "s0", tmp_path / "s1"], tmp_path / "merged")
    assert (summary.utterances, summary.failed) == (len(FILES), 0)

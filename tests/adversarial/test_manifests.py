"""Tampered manifests: merge and ManifestDataset never act on a path outside the dataset.

The datasets are made by the real pipeline, then edited as an attacker (or an
accident) would: paths with ``..`` or absolute, links to devices, FIFOs, values
of the wrong type, archives instead of arrays.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from seqdown.dataset import ManifestDataset, Settings, UsageError, collate, merge, preprocess
from seqdown.dataset.atomic import sha256_file
from tests.conftest import write_audio


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    """A two-utterance dataset; returns its folder."""
    for index in range(2):
        write_audio(tmp_path / "audio" / f"u{index}.wav", 0.3 + 0.1 * index, 16000, seed=index)
    preprocess(Settings.make(tmp_path / "audio"), tmp_path / "data", workers=1)
    return tmp_path / "data"


def _edit_manifest(folder: Path, **changes: object) -> None:
    """Rewrites the first record of ``folder/manifest.jsonl`` with ``changes``."""
    path = folder / "manifest.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[0])
    record.update(changes)
    lines[0] = json.dumps(record)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _first_array(folder: Path) -> Path:
    record = json.loads((folder / "manifest.jsonl").read_text().splitlines()[0])
    return folder / record["feature_filepath"]


@pytest.mark.parametrize("escape", ["../outside.npy", "features/../../outside.npy", "ABSOLUTE"])
def test_dataset_refuses_paths_outside_its_folder(dataset, escape):
    outside = dataset.parent / "outside.npy"
    np.save(outside, np.zeros((80, 3), dtype=np.float32))
    path = str(outside) if escape == "ABSOLUTE" else escape
    _edit_manifest(dataset, feature_filepath=path, sha256=sha256_file(outside))
    with pytest.raises(ValueError, match=r"record 1 .*(leaves the dataset folder|relative)"):
        ManifestDataset(dataset / "manifest.jsonl", verify=True)
    # Assembling across folders is possible, but only on purpose.
    if escape != "ABSOLUTE":
        loaded = ManifestDataset(dataset / "manifest.jsonl", allow_outside=True)
        assert loaded.paths[0].resolve() == outside.resolve()


def test_a_link_out_of_the_folder_is_refused(dataset):
    array = _first_array(dataset)
    array.unlink()
    array.symlink_to("/dev/zero")
    with pytest.raises(ValueError, match="leaves the dataset folder"):
        ManifestDataset(dataset / "manifest.jsonl", verify=True)
    # Even when outside paths are allowed, a device is never read (it would never end).
    loaded = ManifestDataset(dataset / "manifest.jsonl", verify=True, allow_outside=True)
    with pytest.raises(ValueError, match="is a device, not a regular file"):
        loaded[0]


def test_a_fifo_is_refused_without_opening_it(dataset):
    array = _first_array(dataset)
    array.unlink()
    os.mkfifo(array)  # opening it for reading would block forever
    loaded = ManifestDataset(dataset / "manifest.jsonl")
    with pytest.raises(ValueError, match="is a FIFO, not a regular file"):
        loaded[0]


def test_an_archive_is_not_an_array(dataset):
    array = _first_array(dataset)
    with open(array, "wb") as file:
        np.savez(file, x=np.zeros(3))
    with pytest.raises(ValueError, match=r"not a \.npy array"):
        ManifestDataset(dataset / "manifest.jsonl")[0]


@pytest.mark.parametrize(("key", "value"), [("shape", "abc"), ("num_frames", "many"),
                                            ("num_frames", True), ("duration", float("inf")),
                                            ("feature_filepath", 7), ("shape", [80, 2.5])])
def test_wrong_types_are_refused_at_construction_naming_the_line(dataset, key, value):
    _edit_manifest(dataset, **{key: value})
    with pytest.raises(ValueError, match=f"line 1: '{key}' must be"):
        ManifestDataset(dataset / "manifest.jsonl")


@pytest.fixture
def shards(tmp_path: Path) -> list[Path]:
    for index in range(4):
        write_audio(tmp_path / "audio" / f"u{index}.wav", 0.3, 16000, seed=index)
    folders = []
    for shard in range(2):
        folder = tmp_path / f"shard{shard}"
        preprocess(Settings.make(tmp_path / "audio", num_shards=2, shard_index=shard), folder,
                   workers=1)
        folders.append(folder)
    return folders


def test_merge_never_writes_outside_the_merged_folder(shards, tmp_path):
    victim = tmp_path / "elsewhere" / "x.npy"
    victim.parent.mkdir()
    source = _first_array(shards[0])
    victim.write_bytes(source.read_bytes())
    before = victim.stat()
    escape = os.path.relpath(victim, tmp_path / "merged")  # ../elsewhere/x.npy from the target
    _edit_manifest(shards[0], feature_filepath=escape)
    with pytest.raises(UsageError, match=r"utterance '.*' of .*leaves the dataset's features/"):
        merge(shards, tmp_path / "merged")
    after = victim.stat()
    assert (after.st_ino, after.st_mtime_ns, after.st_nlink) == (
        before.st_ino, before.st_mtime_ns, before.st_nlink)


def test_collate_promotes_to_the_common_dtype():
    big = torch.full((2, 1), 70000.0)
    batch = collate([(torch.ones(2, 3, dtype=torch.float16), None), (big, None)])
    assert batch.features.dtype == torch.float32
    assert batch.features[1, 0, 0] == 70000.0  # not inf, as a float16 batch would hold


def test_collate_accepts_numpy_items_and_names_what_it_expects():
    batch = collate([(np.ones((2, 3), dtype=np.float32), None), (torch.ones(2, 1), None)])
    assert batch.features.shape == (2, 2, 3) and batch.lengths.tolist() == [3, 1]
    with pytest.raises(TypeError, match=r"items\[1\] must be \(features, record\) with features"):
        collate([(torch.ones(2, 3), None), ([[1.0]], None)])

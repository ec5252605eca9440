"""Reading a dataset back: ManifestDataset, collate, and a DataLoader feeding RNNEncoder."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

import seqdown
from seqdown.dataset.data import Batch, ManifestDataset, collate
from seqdown.dataset.manifest import Record


@pytest.fixture(scope="module")
def dataset(fixture_run) -> ManifestDataset:
    return ManifestDataset(fixture_run.output_dir / "manifest.jsonl", verify=True)


def test_items_are_the_arrays_and_their_records(dataset, fixture_run):
    assert len(dataset) == len(dataset.records) > 0
    for index in range(len(dataset)):
        features, record = dataset[index]
        assert isinstance(record, Record) and features.dtype == torch.float32
        reference = np.load(fixture_run.output_dir / record.feature_filepath)
        assert torch.equal(features, torch.from_numpy(reference))
        assert features.shape == (80, record.num_frames)


def test_collate_pads_to_the_longest_with_lengths_from_the_arrays(dataset):
    items = [dataset[i] for i in (0, 5, 61, 70)]
    batch = collate(items)
    assert isinstance(batch, Batch)
    features, lengths, records = batch
    assert lengths.dtype == torch.int64
    assert lengths.tolist() == [item[0].shape[1] for item in items]
    assert lengths.tolist() == [record.num_frames for record in records]
    assert features.shape == (4, 80, max(lengths.tolist()))
    for row, (array, record) in enumerate(items):
        assert records[row] is record
        assert torch.equal(features[row, :, :lengths[row]], array)
        assert (features[row, :, lengths[row]:] == 0).all()


def test_a_dataloader_batch_feeds_rnn_encoder(dataset):
    loader = DataLoader(dataset, batch_size=8, collate_fn=collate)
    features, lengths, _ = next(iter(loader))
    encoder = seqdown.RNNEncoder(80, 16, frontend="max:2")
    output, out_lengths = encoder(features, lengths)
    assert output.shape == (8, encoder.output_length(features.shape[-1]), 16)
    assert out_lengths.tolist() == [encoder.output_length(n) for n in lengths.tolist()]
    assert torch.isfinite(output).all()
    # Padding never reaches an item: each row equals the item encoded alone.
    alone, _ = encoder(features[3:4, :, :lengths[3]], lengths[3:4])
    torch.testing.assert_close(output[3:4, :out_lengths[3]], alone, atol=1e-5, rtol=1e-5)


def test_damaged_arrays_are_detected(dataset, tmp_path):
    _, record = dataset[0]
    np.save(tmp_path / "x.npy", np.zeros((80, 3), dtype=np.float32))
    (tmp_path / "manifest.jsonl").write_text(record.to_json().replace(
        record.feature_filepath, "x.npy") + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"holds float32 \[80, 3\], but the manifest says"):
        ManifestDataset(tmp_path / "manifest.jsonl")[0]
    with pytest.raises(ValueError, match="has sha256"):
        ManifestDataset(tmp_path / "manifest.jsonl", verify=True)[0]


def test_collate_bad_args():
    with pytest.raises(ValueError, match="at least one"):
        collate([])
    with pytest.raises(ValueError, match=r"same channels, got shapes \[\(80, 3\), \(40, 3\)\]"):
        collate([(torch.zeros(80, 3), None), (torch.zeros(40, 3), None)])

"""Reading a preprocessed dataset back for training.

``DataLoader(ManifestDataset("build/demo/manifest.jsonl"), batch_size=8,
collate_fn=collate)`` gives batches that :class:`seqdown.RNNEncoder` (or any
seqdown front-end) takes directly::

    for features, lengths, records in loader:
        y, out_lengths = encoder(features, lengths)   # (batch, channels, time), int64 (batch,)

:class:`ManifestDataset` items are ``(array, record)``: the float32 array as a
``(feature_channels, num_frames)`` tensor and its :class:`~seqdown.dataset.manifest.Record`,
whose ``text`` is the transcript (None where the input gave none); :func:`collate` keeps the
records, and ``batch.texts`` lists their texts.
:func:`collate` pads with zeros to the longest item; ``lengths`` are the arrays'
own time lengths, which the manifest guarantees equal ``record.num_frames``.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from seqdown.dataset.atomic import sha256_file
from seqdown.dataset.manifest import Record, read_jsonl
from seqdown.dataset.trust import check_regular_file, confined_path

__all__ = ["Batch", "ManifestDataset", "collate"]


class ManifestDataset(Dataset[tuple[Tensor, Record]]):
    """The utterances of a ``manifest.jsonl`` written by ``seqdown preprocess``.

    Args:
        manifest_path: the manifest; ``feature_filepath`` is read relative to its folder.
        verify: check each array's SHA-256 against its record when it is loaded.
        allow_outside: accept ``feature_filepath`` values that leave the manifest's
            folder (``..``, absolute paths, links elsewhere): for datasets assembled
            across folders on purpose. By default such a record is refused.

    Item ``i`` is ``(features, record)``: ``features`` a float32 tensor
    ``(feature_channels, num_frames)``, ``record`` the :class:`Record`.

    Every record's types are checked, and its path confined, when the dataset is
    made; when an item is loaded, its file must be a regular file (a FIFO or a
    device is refused before it is opened) holding a plain ``.npy`` array
    (pickles are refused).

    Raises:
        FileNotFoundError: the manifest does not exist.
        ValueError: a line of the manifest is not a record (the message gives its
            number) or its path leaves the folder; or, when an item is loaded, its
            file is not a regular ``.npy`` file with the shape (and checksum) of its
            record.

    Example:
        >>> dataset = ManifestDataset("build/demo/manifest.jsonl")  # doctest: +SKIP
        >>> features, record = dataset[0]  # doctest: +SKIP
        >>> features.shape[-1] == record.num_frames  # doctest: +SKIP
        True
    """

    def __init__(self, manifest_path: str | os.PathLike[str], verify: bool = False,
                 allow_outside: bool = False) -> None:
        self.manifest_path = Path(manifest_path)
        self.root = self.manifest_path.parent
        self.records = read_jsonl(self.manifest_path, Record)
        self.verify = bool(verify)
        self.allow_outside = bool(allow_outside)
        self.paths = [self._path(index, record) for index, record in enumerate(self.records)]

    def _path(self, index: int, record: Record) -> Path:
        if self.allow_outside:
            return self.root / record.feature_filepath
        what = f"{os.fspath(self.manifest_path)!r} record {index + 1} ({record.id!r})"
        return confined_path(self.root, record.feature_filepath, "", what)

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> tuple[Tensor, Record]:
        record, path = self.records[index], self.paths[index]
        check_regular_file(path, f"utterance {record.id!r}")
        if self.verify:
            digest = sha256_file(path)
            if digest != record.sha256:
                raise ValueError(f"{os.fspath(path)!r} has sha256 {digest}, but the manifest "
                                 f"says {record.sha256}; the dataset was modified or damaged")
        array = np.load(path, allow_pickle=False)
        if not isinstance(array, np.ndarray):  # an .npz archive
            raise ValueError(f"{os.fspath(path)!r} is not a .npy array (an .npz archive?)")
        if list(array.shape) != record.shape or array.dtype != np.float32:
            raise ValueError(f"{os.fspath(path)!r} holds {array.dtype} {list(array.shape)}, but "
                             f"the manifest says float32 {record.shape}")
        return torch.from_numpy(array), record


class Batch(NamedTuple):
    """A padded batch: unpacks as ``features, lengths, records``.

    Attributes:
        features: float32 ``(batch, channels, time)``, zero beyond each length.
        lengths: int64 ``(batch,)``, each item's time length.
        records: the items' records, in batch order.
    """

    features: Tensor
    lengths: Tensor
    records: list[Record]

    @property
    def texts(self) -> list[str | None]:
        """The items' ``text`` (None where a record has none), in batch order.

        Example:
            >>> from types import SimpleNamespace  # a stand-in for a Record
            >>> collate([(torch.ones(2, 3), SimpleNamespace(text="seven"))]).texts
            ['seven']
        """
        return [record.text for record in self.records]


def _as_tensor(features: object, index: int) -> Tensor:
    if isinstance(features, Tensor):
        return features
    if isinstance(features, np.ndarray):
        return torch.from_numpy(features)
    raise TypeError(f"items[{index}] must be (features, record) with features a tensor or a "
                    f"numpy array of shape (channels, time), got {type(features).__name__}")


def collate(items: Sequence[tuple[Tensor | np.ndarray, Record]]) -> Batch:
    """Pads ``(features, record)`` items into a :class:`Batch` (``collate_fn`` of a DataLoader).

    Args:
        items: ``(features (channels, time), record)`` pairs, e.g. from
            :class:`ManifestDataset`; all with the same ``channels``.

    Returns:
        ``Batch(features (batch, channels, max time), lengths int64 (batch,), records)``.

    The batch has the items' common dtype (``torch.promote_types``), so a float16
    item next to a float32 one loses nothing. Items may be tensors or numpy arrays.

    Raises:
        TypeError: an item's features are neither a tensor nor a numpy array.
        ValueError: no items, an array that is not 2-D, or different channel counts.

    Example:
        >>> rec = None  # records are passed through untouched
        >>> batch = collate([(torch.ones(2, 3), rec), (torch.ones(2, 1), rec)])
        >>> batch.features.shape, batch.lengths.tolist()
        (torch.Size([2, 2, 3]), [3, 1])
    """
    if not items:
        raise ValueError("items must hold at least one (features, record) pair, got none")
    arrays = [_as_tensor(features, index) for index, (features, _) in enumerate(items)]
    shapes = [tuple(array.shape) for array in arrays]
    if any(len(shape) != 2 for shape in shapes) or len({shape[0] for shape in shapes}) != 1:
        raise ValueError("items must be (channels, time) arrays with the same channels, got "
                         f"shapes {shapes}")
    lengths = torch.tensor([shape[1] for shape in shapes], dtype=torch.int64)
    # The common dtype of all items (float16 and float32 give float32), never the first's.
    dtype = functools.reduce(torch.promote_types, (array.dtype for array in arrays))
    features = arrays[0].new_zeros(len(items), shapes[0][0], int(lengths.max()), dtype=dtype)
    for row, array in enumerate(arrays):
        features[row, :, :array.shape[1]] = array
    return Batch(features, lengths, [record for _, record in items])

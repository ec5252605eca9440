"""The dataset pipeline: audio files in, feature arrays and a manifest out.

Needs the ``dataset`` extra (``pip install 'seqdown[dataset]'``: soundfile and
torchaudio); importing this package without it raises an ImportError naming it.

=============================  ======================================================
name                           what it is
=============================  ======================================================
:func:`preprocess`             decode, resample, compute features, shorten, write
:class:`Settings`              what a dataset folder is made with (``dataset.json``)
:class:`Summary`               counts of one ``preprocess`` run
:func:`merge`                  combine the shard folders of a sharded run
:class:`MergeSummary`          counts of one ``merge``
:class:`ManifestDataset`       a ``torch.utils.data.Dataset`` over ``manifest.jsonl``
:func:`collate`                pads a list of items into a :class:`Batch`
:class:`Record`, :class:`Failure`  one line of ``manifest.jsonl`` / ``failures.jsonl``
:class:`UsageError`            bad settings or folders (the CLI's exit status 2)
=============================  ======================================================
"""

from seqdown.dataset.data import Batch, ManifestDataset, collate
from seqdown.dataset.manifest import Failure, Record
from seqdown.dataset.merging import MergeSummary, merge
from seqdown.dataset.pipeline import Summary, preprocess
from seqdown.dataset.settings import Settings, UsageError

__all__ = [
    "Batch",
    "Failure",
    "ManifestDataset",
    "MergeSummary",
    "Record",
    "Settings",
    "Summary",
    "UsageError",
    "collate",
    "merge",
    "preprocess",
]

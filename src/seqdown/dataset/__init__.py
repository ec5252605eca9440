"""The dataset pipeline: audio files in, feature arrays and a manifest out.

Needs the ``dataset`` extra (``pip install 'seqdown[dataset]'``: soundfile and
torchaudio). ``import seqdown.dataset`` works without it; using one of its
names then raises an ImportError that names the extra.

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
:class:`Record`                one line of ``manifest.jsonl``
:class:`Failure`               one line of ``failures.jsonl``
:class:`UsageError`            bad settings or folders (the CLI's exit status 2)
:func:`export_lhotse`          a dataset as lhotse recordings, supervisions and cuts
:func:`export_hf`              a dataset as a Hugging Face ``datasets.Dataset``
=============================  ======================================================

Inputs are a folder (with ``--transcripts``) or a NeMo-style JSONL manifest
(:mod:`seqdown.dataset.sources`, :mod:`seqdown.dataset.transcripts`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from seqdown._lazy import attach

#: Every public name and the module that defines it, imported on first use.
_EXPORTS = {
    "Batch": "seqdown.dataset.data",
    "Failure": "seqdown.dataset.manifest",
    "ManifestDataset": "seqdown.dataset.data",
    "MergeSummary": "seqdown.dataset.merging",
    "Record": "seqdown.dataset.manifest",
    "Settings": "seqdown.dataset.settings",
    "Summary": "seqdown.dataset.pipeline",
    "UsageError": "seqdown.dataset.settings",
    "collate": "seqdown.dataset.data",
    "export_hf": "seqdown.dataset.export.hf",
    "export_lhotse": "seqdown.dataset.export.lhotse",
    "merge": "seqdown.dataset.merging",
    "preprocess": "seqdown.dataset.pipeline",
}

__getattr__, __dir__ = attach(__name__, _EXPORTS)
__all__ = list(_EXPORTS)

if TYPE_CHECKING:  # what the names are, for type checkers and IDEs
    from seqdown.dataset.data import Batch, ManifestDataset, collate
    from seqdown.dataset.export import export_hf, export_lhotse
    from seqdown.dataset.manifest import Failure, Record
    from seqdown.dataset.merging import MergeSummary, merge
    from seqdown.dataset.pipeline import Summary, preprocess
    from seqdown.dataset.settings import Settings, UsageError

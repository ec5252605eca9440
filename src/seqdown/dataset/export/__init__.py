"""A preprocessed dataset folder, handed to the speech ecosystem.

==========================  ==============================================================
name                        what it writes
==========================  ==============================================================
:func:`export_lhotse`       lhotse ``recordings``/``supervisions``/``cuts.jsonl.gz``, with
                            the arrays time-major where the cuts' features point
:func:`export_hf`           a Hugging Face ``datasets.Dataset`` (``save_to_disk``) of
                            ``id``, ``text``, ``num_frames`` and the features
:func:`read_dataset`        a complete dataset folder's description, settings, records
==========================  ==============================================================

Each needs its library (``lhotse``, ``datasets``: both in the ``dev`` extra, or
``pip install lhotse datasets``); without it the export raises an ImportError
that names what to install. Nothing here imports either library until it runs.
"""

from seqdown.dataset.export.folder import ExportSummary, read_dataset
from seqdown.dataset.export.hf import export_hf
from seqdown.dataset.export.lhotse import export_lhotse

__all__ = ["ExportSummary", "export_hf", "export_lhotse", "read_dataset"]

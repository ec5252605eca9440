"""``seqdown export hf``: a dataset folder as a Hugging Face ``datasets.Dataset``.

OUT_DIR is written by ``Dataset.save_to_disk`` and read back with
``datasets.load_from_disk(OUT_DIR)``: one row per utterance, in the manifest's
order (sorted by id), with the columns

================  ======================================  ===============================
column            type                                    from the record
================  ======================================  ===============================
``id``            string                                  ``id``
``text``          string (None where unknown)             ``text``
``audio_filepath``  string                                ``audio_filepath``
``offset``        float64 (0.0 for a whole file)          ``offset``
``duration``      float64, seconds                        ``duration``
``num_frames``    int64                                   ``num_frames``
``frame_shift``   float64, seconds                        ``frame_shift``
``features``      ``Array2D((None, feature_channels),     the array, **time-major**
                  float32)``                              ``(num_frames, feature_channels)``
================  ======================================  ===============================

``features`` is time-major because ``datasets.Array2D`` lets only its first
axis vary in length; ``row["features"].T`` is seqdown's ``(feature_channels,
num_frames)`` array, bit for bit. ``dataset.with_format("torch")`` gives tensors.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from typing import Any

import numpy as np

from seqdown.dataset.export.folder import (
    Dataset,
    ExportSummary,
    import_for_export,
    prepare_output,
    read_dataset,
)
from seqdown.dataset.export.lhotse import load_array
from seqdown.dataset.settings import UsageError

__all__ = ["HF_COLUMNS", "export_hf"]

#: The columns of the exported dataset, in order.
HF_COLUMNS = ("id", "text", "audio_filepath", "offset", "duration", "num_frames", "frame_shift",
              "features")


def _rows(dataset: Dataset) -> Iterator[dict[str, Any]]:
    for record in dataset.records:
        yield {"id": record.id, "text": record.text, "audio_filepath": record.audio_filepath,
               "offset": record.offset or 0.0, "duration": record.duration,
               "num_frames": record.num_frames, "frame_shift": record.frame_shift,
               "features": np.ascontiguousarray(load_array(dataset.folder, record).T)}


def export_hf(dataset_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str], *,
              overwrite: bool = False) -> ExportSummary:
    """Writes a dataset folder as a Hugging Face dataset (``save_to_disk``).

    Args:
        dataset_dir: a complete folder of ``seqdown preprocess`` or ``merge``.
        out_dir: a new or empty folder (or, with ``overwrite``, an earlier export).
        overwrite: replace an earlier export in ``out_dir``.

    Returns:
        An :class:`~seqdown.dataset.export.ExportSummary`.

    Raises:
        ImportError: ``datasets`` is not installed (the message says how to install it).
        UsageError: DATASET_DIR is not a complete dataset, its arrays have
            different numbers of channels, or OUT_DIR is not usable.
        ValueError: an array is damaged.

    Example:
        >>> export_hf("build/digits", "build/digits-hf")  # doctest: +SKIP
        >>> import datasets  # doctest: +SKIP
        >>> rows = datasets.load_from_disk("build/digits-hf")  # doctest: +SKIP
        >>> row = rows.with_format("numpy")[0]  # doctest: +SKIP
        >>> row["features"].shape == (row["num_frames"], 80)  # doctest: +SKIP
        True
    """
    hf = import_for_export("datasets", "hf")
    dataset = read_dataset(dataset_dir)
    counts = sorted({record.shape[0] for record in dataset.records})
    if len(counts) > 1:
        raise UsageError(f"a datasets.Array2D column needs one number of feature channels, "
                         f"but DATASET_DIR {os.fspath(dataset_dir)!r} has arrays with {counts} "
                         "(--channels keep on files with different channels); preprocess "
                         "with --channels mono")
    channels = counts[0]
    columns = hf.Features({
        "id": hf.Value("string"), "text": hf.Value("string"),
        "audio_filepath": hf.Value("string"), "offset": hf.Value("float64"),
        "duration": hf.Value("float64"), "num_frames": hf.Value("int64"),
        "frame_shift": hf.Value("float64"),
        "features": hf.Array2D(shape=(None, channels), dtype="float32")})
    output = prepare_output(out_dir, ("data-*.arrow", "dataset_info.json", "state.json"),
                            overwrite)
    bars = hf.is_progress_bar_enabled()
    hf.disable_progress_bars()
    try:
        with tempfile.TemporaryDirectory(prefix=".seqdown-hf-", dir=output) as cache:
            try:
                table = hf.Dataset.from_generator(_rows, features=columns, cache_dir=cache,
                                                  gen_kwargs={"dataset": dataset})
            except hf.exceptions.DatasetGenerationError as error:
                if isinstance(error.__cause__, ValueError):  # a damaged array: say which
                    raise error.__cause__ from None
                raise
            table.save_to_disk(os.fspath(output))
            rows = len(table)
            del table  # its cache files go with the temporary folder
    finally:
        if bars:
            hf.enable_progress_bars()
    return ExportSummary(os.fspath(out_dir), rows,
                         sum(record.num_frames for record in dataset.records))

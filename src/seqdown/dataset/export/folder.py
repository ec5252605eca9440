"""Reading a complete dataset folder for an export, and preparing the folder it goes to."""

from __future__ import annotations

import fnmatch
import importlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from seqdown._lazy import MissingExtra
from seqdown.dataset.manifest import MANIFEST_FILE, Record, read_jsonl
from seqdown.dataset.settings import DATASET_FILE, Settings, UsageError, read_dataset_file

__all__ = ["Dataset", "ExportSummary", "import_for_export", "prepare_output", "read_dataset"]


@dataclass(frozen=True)
class Dataset:
    """A complete dataset folder.

    Attributes:
        folder: the folder (absolute).
        description: its ``dataset.json``.
        settings: the settings it was made with.
        records: its ``manifest.jsonl``, in file order (sorted by id).
    """

    folder: Path
    description: dict[str, Any]
    settings: Settings
    records: list[Record]


@dataclass(frozen=True)
class ExportSummary:
    """What an export wrote.

    Attributes:
        output_dir: where.
        utterances: utterances (cuts, rows) written.
        frames: feature frames written, summed over the utterances.
    """

    output_dir: str
    utterances: int
    frames: int


def read_dataset(folder: str | os.PathLike[str]) -> Dataset:
    """Reads a dataset folder that ``seqdown preprocess`` (or ``merge``) completed.

    Raises:
        UsageError: the folder holds no ``dataset.json``, its run is not
            complete, or it holds no utterance (lhotse and ``datasets`` cannot
            read back an empty export).
        ValueError: ``dataset.json`` or a manifest line is damaged.
    """
    path = Path(folder).absolute()
    found = read_dataset_file(path)
    if found is None:
        raise UsageError(f"DATASET_DIR {os.fspath(folder)!r} is not a seqdown dataset "
                         f"(no {DATASET_FILE})")
    description, settings = found
    if not description.get("complete"):
        raise UsageError(f"DATASET_DIR {os.fspath(folder)!r} is incomplete (its run was "
                         "interrupted); run the same seqdown preprocess command to finish it")
    records = read_jsonl(path / MANIFEST_FILE, Record)
    if not records:
        raise UsageError(f"DATASET_DIR {os.fspath(folder)!r} holds no utterances; there is "
                         "nothing to export")
    return Dataset(path, description, settings, records)


def import_for_export(module: str, command: str) -> ModuleType:
    """Imports ``module`` for ``seqdown export COMMAND``, or says what to install.

    Raises:
        MissingExtra: the module is not installed (an ImportError); the message
            names the package and the ``dev`` extra that has it.
    """
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise MissingExtra(f"seqdown export {command} needs the {module!r} package: "
                          f"pip install {module} (or pip install 'seqdown[dev]'); "
                          f"importing it failed: {error}") from error


def prepare_output(folder: str | os.PathLike[str], outputs: tuple[str, ...],
                   overwrite: bool) -> Path:
    """Makes ``folder`` ready for an export that writes ``outputs`` (names in it).

    A new or empty folder is used as is; with ``overwrite``, a folder whose
    entries all match ``outputs`` (``fnmatch`` patterns) has them removed first.

    Raises:
        UsageError: ``folder`` is a file, or holds other files (or any, without
            ``overwrite``).
    """
    path = Path(folder).absolute()
    if path.exists() and not path.is_dir():
        raise UsageError(f"OUT_DIR must be a folder, got the file {os.fspath(folder)!r}")
    entries = sorted(entry.name for entry in path.iterdir()) if path.exists() else []
    if entries:
        others = [name for name in entries
                  if not any(fnmatch.fnmatchcase(name, pattern) for pattern in outputs)]
        if not overwrite or others:
            raise UsageError(f"OUT_DIR {os.fspath(folder)!r} is not empty"
                             + (f" (it holds {others[:3]}, which no export wrote)" if others
                                else "; pass --overwrite to replace the export in it"))
        for name in entries:
            entry = path / name
            if entry.is_dir():
                shutil.rmtree(entry)
            else:
                entry.unlink()
    path.mkdir(parents=True, exist_ok=True)
    return path

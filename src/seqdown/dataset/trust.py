"""Checks on what a dataset's files say, before anything acts on it.

A manifest is text that anyone can edit (or damage). Before a path from it is
opened, linked or replaced, it must name a regular file inside the folder it
belongs to; before a record is used, each value must have its field's type.
``merge`` and :class:`~seqdown.dataset.data.ManifestDataset` go through these.
"""

from __future__ import annotations

import math
import os
import stat
import types
import typing
from dataclasses import fields
from pathlib import Path
from typing import Any

__all__ = ["check_field_types", "check_regular_file", "confined_path"]


def _matches(value: Any, annotation: Any) -> bool:
    """Whether a JSON value fits a field annotation (int, float, str, list[int], X | None)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, option) for option in typing.get_args(annotation))
    if annotation is type(None):
        return value is None
    if origin is list:
        (item,) = typing.get_args(annotation)
        return isinstance(value, list) and all(_matches(v, item) for v in value)
    if origin is dict:
        return isinstance(value, dict)
    if annotation is Any:
        return True
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return (isinstance(value, (int, float)) and not isinstance(value, bool)
                and math.isfinite(value))
    return isinstance(value, annotation)


def check_field_types(record: Any) -> None:
    """Checks every field of a dataclass instance against its annotation.

    Raises:
        ValueError: a field holds a value of another type; the message names the
            field, the type expected and the value (``"shape": "abc"``).
    """
    hints = typing.get_type_hints(type(record))
    for field in fields(record):
        value = getattr(record, field.name)
        if not _matches(value, hints[field.name]):
            expected = getattr(hints[field.name], "__name__", str(hints[field.name]))
            raise ValueError(f"{field.name!r} must be {expected}, got {value!r}"[:300])


def confined_path(root: str | os.PathLike[str], relative: str, folder: str, what: str) -> Path:
    """``root / relative``, checked to lie inside ``root / folder`` once resolved.

    Args:
        root: the dataset folder.
        relative: the path as a manifest gives it (``features/x.npy``).
        folder: the subfolder it must stay in (``features``; ``""`` for ``root`` itself).
        what: names the record in the error (``"utterance 'a-1f2e3d4c'"``).

    Raises:
        ValueError: the path is absolute, or leaves ``root / folder`` (``..``, or a
            symbolic link that points elsewhere).
    """
    base = Path(root).resolve() / folder
    if Path(relative).is_absolute():
        raise ValueError(f"{what}: path {relative!r} must be relative to the dataset folder")
    path = (Path(root).resolve() / relative).resolve()
    if not path.is_relative_to(base):
        inside = f"the dataset's {folder}/ folder" if folder else "the dataset folder"
        raise ValueError(f"{what}: path {relative!r} leaves {inside}")
    return path


def check_regular_file(path: str | os.PathLike[str], what: str) -> None:
    """Refuses anything but a regular file (FIFO, device, folder), without opening it.

    Raises:
        FileNotFoundError: nothing is there.
        ValueError: it is not a regular file.
    """
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        kind = ("a FIFO" if stat.S_ISFIFO(mode) else "a device" if stat.S_ISCHR(mode)
                or stat.S_ISBLK(mode) else "a folder" if stat.S_ISDIR(mode) else "a socket"
                if stat.S_ISSOCK(mode) else "not a regular file")
        raise ValueError(f"{what}: {os.fspath(path)!r} is {kind}, not a regular file")

"""Atomic writes: all or nothing, the mode ``open()`` would give, and the one file hash."""

from __future__ import annotations

import hashlib
import os
import stat

import numpy as np
import pytest

from seqdown.dataset.atomic import atomic_write, save_array, sha256_file, write_text


@pytest.fixture
def umask():
    """Sets the process umask for one test and restores it."""
    previous = os.umask(0o022)
    os.umask(previous)
    yield lambda mask: os.umask(mask)
    os.umask(previous)


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o077, 0o027], ids=oct)
def test_files_get_the_mode_open_would_give(tmp_path, umask, mask):
    umask(mask)
    write_text(tmp_path / "a.json", "{}")
    save_array(tmp_path / "b.npy", np.zeros(3, dtype=np.float32))
    with open(tmp_path / "reference", "w") as file:
        file.write("x")
    expected = stat.S_IMODE(os.stat(tmp_path / "reference").st_mode)
    assert expected == 0o666 & ~mask
    for name in ("a.json", "b.npy"):
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == expected, name


def test_a_failed_write_leaves_the_old_file(tmp_path):
    target = tmp_path / "x.txt"
    write_text(target, "old")
    with pytest.raises(RuntimeError), atomic_write(target) as file:
        file.write(b"new, half")
        raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.txt"]


def test_sha256_file_matches_hashlib_and_save_array(tmp_path):
    digest, size = save_array(tmp_path / "a.npy", np.arange(100_000, dtype=np.float32))
    data = (tmp_path / "a.npy").read_bytes()
    assert size == len(data)
    assert digest == hashlib.sha256(data).hexdigest() == sha256_file(tmp_path / "a.npy")

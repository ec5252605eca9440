"""Fault injection for the Dask workers of the tests (``dask worker --preload dask_faults.py``).

Replaces :func:`seqdown.dataset.utterance.open_audio` in the worker process
(the job looks it up by name at each call) by one that first acts on the
file's name, as a broken decoder or a dead mount would:

* ``crash*``: the process dies at once (``os._exit``), as in a segfault;
* ``hang*``: never returns (sleeps), as a read on a dead network mount;
* any other file waits ``SEQDOWN_TEST_DELAY`` seconds (default 0), so that a
  run lasts long enough to be interrupted part-way.

It also replaces :func:`seqdown.dataset.utterance.save_array` by one that fails
with ``ENOSPC``, as a full disk does, while a file named ``DISK_FULL`` exists
beside OUTPUT_DIR (a test frees the space by removing it).

The arrays of the files that get through are unchanged. With
``SEQDOWN_TEST_USER`` set (a uid), the worker process switches to that user
at start, so that it cannot write folders that root made (a worker on a node
without access to OUTPUT_DIR).

Importing the module changes nothing: Dask calls :func:`dask_setup` in each
worker it preloads; tests of the local backend monkeypatch
:func:`faulty_open_audio` in themselves.
"""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

import seqdown.dataset.utterance as utterance
from seqdown.dataset.atomic import storage_errors

_open_audio = utterance.open_audio
_save_array = utterance.save_array
#: While this file exists beside OUTPUT_DIR, writing an array fails as on a full disk.
DISK_FULL = "DISK_FULL"


def faulty_open_audio(path: str) -> Any:
    """``open_audio(path)``, after the fault that the file's name asks for."""
    name = Path(path).name
    if name.startswith("crash"):
        os._exit(70)
    if name.startswith("hang"):
        while True:
            time.sleep(3600)
    time.sleep(float(os.environ.get("SEQDOWN_TEST_DELAY", "0")))
    return _open_audio(path)


def faulty_save_array(path: str | os.PathLike[str], array: np.ndarray) -> tuple[str, int]:
    """``save_array``, or the ``OSError`` of a full disk while ``DISK_FULL`` exists."""
    if (Path(path).parents[2] / DISK_FULL).exists():  # OUTPUT_DIR/features/x.npy
        with storage_errors(path):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    return _save_array(path, array)


def dask_setup(worker: Any) -> None:
    """Installs the faults in a Dask worker process (and switches user if asked)."""
    utterance.open_audio = faulty_open_audio
    utterance.save_array = faulty_save_array
    if os.environ.get("SEQDOWN_TEST_USER"):
        os.setuid(int(os.environ["SEQDOWN_TEST_USER"]))

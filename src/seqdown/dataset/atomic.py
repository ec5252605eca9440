"""Atomic file writes: a file is either absent, the old version, or complete.

Each write goes to a hidden temporary file in the same folder (``.NAME.XXXX.tmp``),
is flushed and ``fsync``-ed, then renamed over the target with ``os.replace``,
which is atomic on POSIX and Windows; the folder is then ``fsync``-ed so that
the rename itself survives a power cut. A process killed at any moment (even
with SIGKILL) leaves at most a stray temporary file, never a partial file under
the final name; :func:`remove_temporaries` cleans those up.

A write that the storage refuses (a full disk ``ENOSPC``, a quota ``EDQUOT``, a
read-only file system ``EROFS``, an I/O error ``EIO``: any ``OSError`` while
creating, writing, syncing or renaming) raises :class:`StorageError`, so that
callers tell the output's storage from the input's content without reading
messages: a decoder's error is a bad file, a :class:`StorageError` stops the run.

The file gets the mode that ``open()`` would give it, ``0o666 & ~umask``, not
``mkstemp``'s private ``0o600``: a dataset on a shared cluster folder is
readable by the team as the umask allows.

:func:`sha256_file` is the one file hash of the dataset tools (manifests record
it, ``merge`` and ``ManifestDataset(verify=True)`` check it).
"""

from __future__ import annotations

import contextlib
import errno as _errno
import hashlib
import io
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np

__all__ = [
    "StorageError",
    "atomic_write",
    "remove_temporaries",
    "save_array",
    "sha256_file",
    "storage_errors",
    "write_text",
]

_SUFFIX = ".tmp"
#: Bytes read at a time when hashing a file.
_HASH_CHUNK = 1 << 20


class StorageError(Exception):
    """Writing ``path`` failed in the storage itself (full, read-only, quota, I/O error).

    Not an ``OSError``: handlers of a source's read errors never catch it. It
    pickles with its fields, so that it crosses from a worker process (or a Dask
    worker) to the parent as itself.

    Args:
        path: the file (or folder) being written.
        errno: the ``OSError``'s ``errno`` (``errno.ENOSPC``...), or None.
        strerror: its words (``"No space left on device"``).
    """

    def __init__(self, path: str, errno: int | None, strerror: str) -> None:
        super().__init__(path, errno, strerror)
        self.path = path
        self.errno = errno
        self.strerror = strerror

    def __str__(self) -> str:
        name = _errno.errorcode.get(self.errno) if self.errno is not None else None
        code = f" ({name})" if name else ""
        return f"cannot write {self.path!r}: {self.strerror}{code}"

    @classmethod
    def of(cls, error: OSError, path: str | os.PathLike[str]) -> StorageError:
        """The storage error for ``error``, raised while writing ``path``."""
        where = error.filename if isinstance(error.filename, str) else os.fspath(path)
        return cls(where, error.errno, error.strerror or str(error) or type(error).__name__)


@contextlib.contextmanager
def storage_errors(path: str | os.PathLike[str]) -> Iterator[None]:
    """Turns an ``OSError`` raised in the block (which writes ``path``) into a
    :class:`StorageError`."""
    try:
        yield
    except OSError as error:
        raise StorageError.of(error, path) from error


def _file_mode() -> int:
    """``0o666 & ~umask``: the mode ``open()`` gives a new file.

    The umask can only be read by setting it; it is restored at once (processes
    of the pipeline create no files from other threads meanwhile).
    """
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def _fsync_folder(folder: Path) -> None:
    """Makes a rename in ``folder`` durable (where the OS lets folders be opened)."""
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows
        return
    try:
        os.fsync(handle)
    except OSError:  # pragma: no cover - some file systems refuse
        pass
    finally:
        os.close(handle)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """Opens a binary file that replaces ``path`` only when the block ends without error.

    On an exception the temporary file is removed and ``path`` is untouched.
    An ``OSError`` (from creating, writing, syncing or renaming; the block
    should only write to the file) is raised as :class:`StorageError`.

    Example:
        >>> with atomic_write(tmp / "x.txt") as f:  # doctest: +SKIP
        ...     f.write(b"all or nothing")
    """
    target = Path(path)
    with storage_errors(target):
        handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=_SUFFIX,
                                             dir=target.parent)
    try:
        with storage_errors(target):
            os.fchmod(handle, _file_mode())
            with os.fdopen(handle, "wb") as file:
                yield file
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):  # on EIO even the unlink may fail: a stray .tmp
            os.unlink(temporary)
        raise
    _fsync_folder(target.parent)


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """Writes ``text`` as UTF-8 to ``path`` atomically."""
    with atomic_write(path) as file:
        file.write(text.encode("utf-8"))


class _Hashing(io.RawIOBase):
    """A write-only stream that forwards to ``file`` and hashes what passes."""

    def __init__(self, file: BinaryIO) -> None:
        super().__init__()
        self.file = file
        self.digest = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        self.digest.update(data)
        self.size += len(data)
        return self.file.write(data)


def save_array(path: str | os.PathLike[str], array: np.ndarray) -> tuple[str, int]:
    """Saves ``array`` as ``.npy`` atomically.

    Returns:
        ``(sha256, size)``: the SHA-256 hex digest of the file's bytes (the
        ``.npy`` header included, so ``sha256sum`` gives the same) and its size
        in bytes.
    """
    with atomic_write(path) as file:
        hashing = _Hashing(file)
        np.lib.format.write_array(hashing, np.ascontiguousarray(array), allow_pickle=False)
    return hashing.digest.hexdigest(), hashing.size


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The SHA-256 hex digest of the file at ``path``, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def remove_temporaries(folder: str | os.PathLike[str]) -> int:
    """Removes the temporary files that killed writers left in ``folder``; returns how many."""
    removed = 0
    for stray in Path(folder).glob(f".*{_SUFFIX}"):
        with contextlib.suppress(FileNotFoundError):
            stray.unlink()
            removed += 1
    return removed

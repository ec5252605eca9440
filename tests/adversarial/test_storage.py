"""Full disks and read-only folders: a storage failure stops the run and costs no file.

Two kinds of fault. Injected ones (``ENOSPC`` raised by the system calls that
write a chosen file of OUTPUT_DIR: an array in the middle of the run, the
journal, the manifest, ``failures.jsonl``, the final ``dataset.json``), in this
process; and real ones, on a small ``tmpfs`` mounted in a private mount
namespace (``unshare -rm``, which needs no root on kernels that allow user
namespaces; the tests skip with the reason where it is refused), with two
worker processes. After each failure: no file is recorded as failed, there is
no ``manifest.jsonl``, the journal describes complete arrays only, and the run
that follows (with room again) equals a clean run byte for byte.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import seqdown.dataset.journal as journal_module
from seqdown.cli.status import STORAGE_FAILED, USAGE_ERROR
from seqdown.dataset import Settings, UsageError, preprocess
from seqdown.dataset.atomic import StorageError
from seqdown.dataset.journal import Journal
from seqdown.dataset.workers import run_jobs
from tests.conftest import ROOT, preprocess_run, tree, write_audio

FILES = 6


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("storage") / "audio"
    for index in range(FILES):
        write_audio(folder / f"u{index}.wav", 0.3, 16000, seed=index)
    return folder


@pytest.fixture(scope="module")
def clean(inputs: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The folder of a run that never failed."""
    output = tmp_path_factory.mktemp("clean") / "out"
    summary = preprocess(Settings.make(inputs), output, workers=1)
    assert (summary.done, summary.failed) == (FILES, 0)
    return tree(output)


def _no_space(path: str | None = None) -> OSError:
    """ENOSPC as the OS raises it: naming the file (a rename) or not (a write)."""
    if path is None:
        return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)


def fail_renames(monkeypatch: pytest.MonkeyPatch, output: Path, name: str, nth: int) -> None:
    """``os.replace`` onto a file of ``output`` whose path contains ``name`` fails from the
    ``nth`` time on with ENOSPC (what a full disk does to the last step of an atomic write)."""
    replace = os.replace
    count = [0]

    def failing(source: Any, target: Any, *args: Any, **kwargs: Any) -> None:
        if str(target).startswith(str(output)) and name in str(target):
            count[0] += 1
            if count[0] >= nth:
                raise _no_space(os.fspath(target))
        replace(source, target, *args, **kwargs)

    monkeypatch.setattr(os, "replace", failing)


def fail_journal_appends(monkeypatch: pytest.MonkeyPatch, after: int) -> None:
    """The journal's appended lines fail with ENOSPC once ``after`` lines were written."""
    written = [0]

    class Full:
        def __init__(self, file: Any) -> None:
            self.file = file

        def write(self, text: str) -> int:
            if written[0] >= after:
                raise _no_space()
            written[0] += 1
            return int(self.file.write(text))

        def __getattr__(self, name: str) -> Any:
            return getattr(self.file, name)

    def opened(path: Any, mode: str = "r", **kwargs: Any) -> Any:
        file = open(path, mode, **kwargs)  # noqa: SIM115 - the journal closes it
        return Full(file) if "a" in mode else file

    monkeypatch.setattr(journal_module, "open", opened, raising=False)


def assert_resumable(output: Path) -> None:
    """What a stopped run must leave: not complete, no manifest, nothing failed, a true journal."""
    assert json.loads((output / "dataset.json").read_text())["complete"] is False
    assert not (output / "manifest.jsonl").exists()
    assert not (output / "failures.jsonl").exists()
    for entry in Journal(output).load().values():
        assert (output / entry.record.feature_filepath).stat().st_size == entry.array_size
    assert not list(output.rglob(".*.tmp"))


WRITE_POINTS: dict[str, Callable[[pytest.MonkeyPatch, Path], None]] = {
    "third-array": lambda patch, out: fail_renames(patch, out, "features/", 3),
    "manifest": lambda patch, out: fail_renames(patch, out, "manifest.jsonl", 1),
    "failures-after-manifest": lambda patch, out: fail_renames(patch, out, "failures.jsonl", 1),
    "final-dataset-json": lambda patch, out: fail_renames(patch, out, "dataset.json", 2),
    "journal-append": lambda patch, out: fail_journal_appends(patch, 2),
}


@pytest.mark.parametrize("point", list(WRITE_POINTS))
def test_enospc_stops_the_run_and_costs_no_file(inputs, clean, tmp_path, monkeypatch, point):
    output = tmp_path / "out"
    with monkeypatch.context() as patch:
        WRITE_POINTS[point](patch, output)
        with pytest.raises(StorageError) as raised:
            preprocess(Settings.make(inputs), output, workers=1)
    assert raised.value.errno == errno.ENOSPC
    assert str(raised.value).startswith(f"cannot write '{output}")
    assert "No space left on device (ENOSPC)" in str(raised.value)
    assert_resumable(output)
    summary = preprocess(Settings.make(inputs), output, workers=1)
    assert summary.failed == 0 and summary.done + summary.skipped == FILES
    assert tree(output) == clean


def test_a_storage_error_crosses_from_a_worker_process_as_itself():
    with pytest.raises(StorageError) as raised:
        for _ in run_jobs(save_array_to_full_disk, ["a", "b", "c"], workers=2):
            pass
    assert raised.value.errno == errno.ENOSPC  # the first job to fail: any of them
    assert raised.value.path in {"/full/a.npy", "/full/b.npy", "/full/c.npy"}


def save_array_to_full_disk(name: str) -> None:
    """A job whose write fails as on a full disk (module level: it runs in a pool)."""
    raise StorageError.of(_no_space(f"/full/{name}.npy"), f"/full/{name}.npy")


# --- real file systems: a tmpfs in a private mount namespace ---------------------------------


def _namespace_refusal() -> str | None:
    """Why a tmpfs cannot be mounted in a private namespace here (None if it can)."""
    if shutil.which("unshare") is None:
        return "no unshare command"
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
                           capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        return f"unshare -rm + mount -t tmpfs refused here: {probe.stderr.strip()[:200]}"
    return None


REFUSAL = _namespace_refusal() if sys.platform.startswith("linux") else "not Linux"
needs_tmpfs = pytest.mark.skipif(REFUSAL is not None, reason=str(REFUSAL))


def in_namespace(script: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Runs a shell script in a private user and mount namespace (mounts vanish with it)."""
    env = {**os.environ, "PYTHON": sys.executable,
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"),
                                                       os.environ.get("PYTHONPATH")]))}
    return subprocess.run(["unshare", "-rm", "sh", "-c", script], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


@needs_tmpfs
@pytest.mark.slow
def test_a_real_full_disk_with_two_workers_then_room_again(inputs, tmp_path):
    # 6 one-second waves at 16 kHz are 64 kB arrays each: 160 kB fill up after two or so.
    for index in range(FILES):
        write_audio(tmp_path / "in" / f"w{index}.wav", 1.0, 16000, seed=index)
    clean = preprocess_run(tmp_path / "in", tmp_path / "clean", "--features", "wave",
                           "--workers", "1")
    assert clean.returncode == 0, clean.stderr
    mount, full, resumed = tmp_path / "mnt", tmp_path / "full", tmp_path / "resumed"
    mount.mkdir()
    run = (f'"$PYTHON" -m seqdown preprocess {tmp_path / "in"} {mount}/out --features wave '
           "--workers 2")
    done = in_namespace(
        f"set -u; mount -t tmpfs -o size=160k tmpfs {mount} || exit 99\n"
        f"{run} 2>{tmp_path}/first.err; echo first=$?\n"
        f"cp -a {mount}/out {full}\n"
        f"mount -o remount,size=64m {mount} || exit 98\n"
        f"{run} 2>{tmp_path}/second.err; echo second=$?\n"
        f"cp -a {mount}/out {resumed}\n")
    assert done.returncode == 0, done.stderr
    assert f"first={STORAGE_FAILED}" in done.stdout, (tmp_path / "first.err").read_text()
    errors = (tmp_path / "first.err").read_text().splitlines()
    assert len(errors) == 1 and errors[0].startswith("seqdown preprocess: error: cannot write")
    assert "No space left on device (ENOSPC)" in errors[0] and "run the same command" in errors[0]
    assert_resumable(full)
    assert "second=0" in done.stdout, (tmp_path / "second.err").read_text()
    assert tree(resumed) == tree(clean.output_dir)


@needs_tmpfs
def test_a_read_only_output_dir_or_parent_is_exit_2_and_changes_nothing(inputs, tmp_path):
    # Read-only by the mount, which binds root too (chmod does not: see the next test).
    mount = tmp_path / "mnt"
    mount.mkdir()
    run = f'"$PYTHON" -m seqdown preprocess {inputs}'
    done = in_namespace(
        f"set -u; mount -t tmpfs tmpfs {mount} || exit 99\n"
        f"{run} {mount}/data --workers 1 >/dev/null 2>{tmp_path}/made.err || exit 97\n"
        f"find {mount} -exec stat -c '%n %s %Y' {{}} + | sort > {tmp_path}/before\n"
        f"mount -o remount,ro {mount} || exit 98\n"
        f"{run} {mount}/data --workers 2 2>{tmp_path}/dataset.err; echo dataset=$?\n"
        f"{run} {mount}/new/out --workers 2 2>{tmp_path}/parent.err; echo parent=$?\n"
        f"find {mount} -exec stat -c '%n %s %Y' {{}} + | sort > {tmp_path}/after\n")
    assert done.returncode == 0, done.stderr + (tmp_path / "made.err").read_text()
    for case in ("dataset", "parent"):
        assert f"{case}={USAGE_ERROR}" in done.stdout
        lines = (tmp_path / f"{case}.err").read_text().splitlines()
        assert len(lines) == 1, lines
        assert lines[0].startswith("seqdown preprocess: error: OUTPUT_DIR ")
        assert "Read-only file system" in lines[0]
    assert (tmp_path / "before").read_text() == (tmp_path / "after").read_text()


@pytest.mark.skipif(os.geteuid() == 0, reason="running as root: chmod does not stop root "
                    "from writing (the read-only mount test covers root)")
@pytest.mark.parametrize("case", ["output-dir", "parent"])
def test_a_folder_without_write_permission_is_a_usage_error(inputs, tmp_path, case):
    locked = tmp_path / "locked"
    locked.mkdir()
    output = locked if case == "output-dir" else locked / "out"
    locked.chmod(0o555)
    try:
        with pytest.raises(UsageError, match="cannot be written: Permission denied"):
            preprocess(Settings.make(inputs), output, workers=1)
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o755)

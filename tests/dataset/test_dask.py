"""``seqdown preprocess --scheduler`` on a real Dask cluster of processes on 127.0.0.1.

A scheduler and two workers (one thread each, with nannies that restart a
dead worker) run as ``python -m dask scheduler`` / ``python -m dask worker``
subprocesses, preloading :mod:`tests.dataset.dask_faults` (files named
``crash*`` kill their worker, ``hang*`` never finish, every file waits a
little so that runs can be interrupted). Each test compares the dataset folder
with a ``--workers 1`` run on this machine: the same bytes, journal included.
Every process started here is killed by its id at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from seqdown.cli.status import STORAGE_FAILED
from seqdown.dataset.manifest import Failure
from seqdown.dataset.workers import TimedOut
from tests.conftest import ROOT, outputs, preprocess_run, run_cli, tree, write_audio
from tests.dataset.dask_faults import DISK_FULL

distributed = pytest.importorskip(
    "distributed", reason="the Dask tests need the dask extra: pip install 'seqdown[dask]'")

FAULTS = Path(__file__).with_name("dask_faults.py")
FILES = 12
#: Seconds each file waits on a worker (dask_faults), so that a run lasts ~1 s on 2 workers.
DELAY = "0.15"
#: Dask settings of the test cluster: a task may be on one worker that died and run again;
#: a second death makes it KilledWorker. Workers hold only the task they run (saturation 1),
#: so that a worker's death counts against that task alone.
DASK_ENV = {
    "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1",
    "DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION": "1.0",
}


@dataclass
class Cluster:
    """A scheduler and its workers, started as subprocesses (each in its own process group)."""

    scheduler_file: Path
    processes: list[subprocess.Popen[bytes]]

    @property
    def address(self) -> str:
        return str(json.loads(self.scheduler_file.read_text())["address"])

    def client(self) -> distributed.Client:
        return distributed.Client(self.address, timeout=30, set_as_default=False)

    def worker_pids(self) -> dict[str, int]:
        with self.client() as client:
            return dict(client.run(os.getpid))

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)  # the nanny and its worker process
            process.wait()


def _environment(**extra: str) -> dict[str, str]:
    path = os.pathsep.join(filter(None, [str(ROOT / "src"), str(ROOT),
                                         os.environ.get("PYTHONPATH")]))
    return {**os.environ, **DASK_ENV, "PYTHONPATH": path, **extra}


def start_cluster(folder: Path, workers: int = 2, nanny: bool = True, **env: str) -> Cluster:
    """Starts ``python -m dask scheduler`` and ``workers`` ``python -m dask worker``."""
    folder.mkdir(parents=True, exist_ok=True)
    environment = _environment(**env)
    scheduler_file = folder / "scheduler.json"
    dask = [sys.executable, "-m", "dask"]
    processes = [subprocess.Popen(
        [*dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
         "--scheduler-file", str(scheduler_file)],
        env=environment, start_new_session=True, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)]
    cluster = Cluster(scheduler_file, processes)
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists():
            assert time.monotonic() < deadline, "the scheduler did not start"
            assert processes[0].poll() is None, "the scheduler exited"
            time.sleep(0.1)
        for index in range(workers):
            processes.append(subprocess.Popen(
                [*dask, "worker", "--scheduler-file", str(scheduler_file), "--host",
                 "127.0.0.1", "--nthreads", "1", "--no-dashboard", "--name", f"w{index}",
                 "--nanny" if nanny else "--no-nanny", "--preload", str(FAULTS),
                 "--local-directory", str(folder / f"w{index}")],
                env=environment, start_new_session=True, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL))
        with cluster.client() as client:
            client.wait_for_workers(workers, timeout=120)
    except BaseException:
        cluster.stop()
        raise
    return cluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    started = start_cluster(tmp_path_factory.mktemp("dask"), SEQDOWN_TEST_DELAY=DELAY)
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("dask-inputs") / "audio"
    rates = [8000, 16000, 22050, 44100]
    for index in range(FILES):
        write_audio(folder / f"spk{index % 3}" / f"utt{index:02d}.wav", 0.4,
                    rates[index % len(rates)], channels=1 + index % 2, seed=index)
    return folder


OPTIONS = ("--frontend", "decimate:2")


@pytest.fixture(scope="module")
def reference(inputs: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The dataset folder that ``--workers 1`` makes on this machine."""
    run = preprocess_run(inputs, tmp_path_factory.mktemp("reference") / "out", *OPTIONS,
                         "--workers", "1")
    assert run.returncode == 0, run.stderr
    return tree(run.output_dir)


def with_extra(inputs: Path, folder: Path, name: str) -> Path:
    """A copy of ``inputs`` (hard links, same mtimes) plus the audio file ``name``."""
    copy = folder / "audio"
    for source in inputs.rglob("*.wav"):
        target = copy / source.relative_to(inputs)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(source, target)
    write_audio(copy / name, 0.4, 16000)
    return copy


def relocated(expected: dict[str, bytes], old: Path, new: Path) -> dict[str, bytes]:
    """``expected`` with the absolute INPUT_DIR of its records changed from ``old`` to ``new``."""
    return {name: data.replace(str(old).encode(), str(new).encode())
            for name, data in expected.items()}


def popen_cli(*args: str | Path, stderr: Path | None = None) -> subprocess.Popen[bytes]:
    """Starts ``python -m seqdown ARGS`` in its own process group (stderr to a file, if given)."""
    errors = subprocess.DEVNULL if stderr is None else stderr.open("wb")
    try:
        return subprocess.Popen([sys.executable, "-m", "seqdown", *map(str, args)], cwd=ROOT,
                                start_new_session=True, stdout=subprocess.DEVNULL,
                                stderr=errors, env=_environment())
    finally:
        if stderr is not None:
            errors.close()


def journal_lines(output: Path) -> int:
    try:
        return (output / "journal.jsonl").read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def wait_for_arrays(output: Path, count: int, process: subprocess.Popen[bytes],
                    journaled: int = 0) -> None:
    """Waits until ``count`` arrays exist and the journal has ``journaled`` lines."""
    deadline = time.monotonic() + 120
    while (len(list((output / "features").glob("[!.]*.npy"))) < count
           or journal_lines(output) < journaled):
        assert process.poll() is None, "the run ended before it could be interrupted"
        assert time.monotonic() < deadline, "no arrays appeared"
        time.sleep(0.01)


def test_same_bytes_as_one_worker(cluster, inputs, reference, tmp_path):
    run = preprocess_run(inputs, tmp_path / "out", *OPTIONS, "--scheduler-file",
                         str(cluster.scheduler_file))
    assert run.returncode == 0, run.stderr
    assert "0 failed" in run.stdout
    assert tree(run.output_dir) == reference


def test_python_api_with_a_client(cluster, inputs, reference, tmp_path):
    from seqdown.dataset.pipeline import preprocess
    from seqdown.dataset.settings import Settings

    settings = Settings.make(inputs, frontend="decimate:2")
    with cluster.client() as client:
        summary = preprocess(settings, tmp_path / "out", scheduler=client)
        assert client.status == "running"  # a Client passed in is left open
    assert (summary.done, summary.failed) == (FILES, 0)
    assert tree(tmp_path / "out") == reference


def test_a_full_disk_on_a_worker_stops_the_run_and_resumes(cluster, inputs, reference,
                                                           tmp_path):
    output = tmp_path / "out"
    (tmp_path / DISK_FULL).touch()
    command = ("preprocess", inputs, output, *OPTIONS, "--scheduler", cluster.address)
    full = run_cli(*command)
    assert full.returncode == STORAGE_FAILED, full.stderr
    (line,) = [line for line in full.stderr.splitlines() if "error" in line]
    assert "Traceback" not in full.stderr
    assert line.startswith(f"seqdown preprocess: error: cannot write '{output}/features/")
    assert "No space left on device (ENOSPC)" in line
    assert not (output / "manifest.jsonl").exists() and not (output / "failures.jsonl").exists()
    assert journal_lines(output) == 0
    (tmp_path / DISK_FULL).unlink()  # room again
    resumed = run_cli(*command)
    assert resumed.returncode == 0, resumed.stderr
    assert tree(output) == reference


@pytest.mark.slow
def test_a_worker_killed_mid_run(cluster, inputs, reference, tmp_path):
    before = cluster.worker_pids()
    output = tmp_path / "out"
    process = popen_cli("preprocess", inputs, output, *OPTIONS, "--scheduler", cluster.address)
    try:
        wait_for_arrays(output, 3, process)
        victim = next(iter(before.values()))
        os.kill(victim, signal.SIGKILL)
        assert process.wait(timeout=120) == 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert tree(output) == reference
    with cluster.client() as client:  # the nanny restarted the worker before the next test
        client.wait_for_workers(2, timeout=120)
    assert victim not in cluster.worker_pids().values()


@pytest.mark.slow
def test_the_client_killed_then_resumed(cluster, inputs, reference, tmp_path):
    output = tmp_path / "out"
    command = ("preprocess", inputs, output, *OPTIONS, "--scheduler", cluster.address)
    process = popen_cli(*command)
    try:
        wait_for_arrays(output, 3, process, journaled=2)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert process.returncode == -signal.SIGKILL
    assert not (output / "manifest.jsonl").exists()
    journaled = journal_lines(output)
    resumed = run_cli(*command)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{FILES - journaled} done, {journaled} skipped, 0 failed" in resumed.stdout
    assert tree(output) == reference


@pytest.mark.slow
def test_a_file_that_kills_every_worker(cluster, inputs, reference, tmp_path):
    audio = with_extra(inputs, tmp_path, "crash.wav")
    run = preprocess_run(audio, tmp_path / "out", *OPTIONS, "--scheduler", cluster.address)
    assert run.returncode == 1, run.stderr
    assert "failed crash.wav: WorkerCrash: the worker process died" in run.stderr
    got = outputs(run.output_dir)
    failures = [Failure.from_json(line) for line in got.pop("failures.jsonl").decode().split(
        "\n") if line]
    assert [(f.source, f.error) for f in failures] == [("crash.wav", "WorkerCrash")]
    expected = relocated(outputs_of(reference), inputs, audio)
    expected.pop("failures.jsonl")
    for name in ("manifest.jsonl", *(n for n in expected if n.startswith("features/"))):
        assert got[name] == expected[name], name
    counts = json.loads(got["dataset.json"])["counts"]
    assert (counts["utterances"], counts["failures"]) == (FILES, 1)
    with cluster.client() as client:
        client.wait_for_workers(2, timeout=120)


def outputs_of(folder_tree: dict[str, bytes]) -> dict[str, bytes]:
    return {name: data for name, data in folder_tree.items() if name != "journal.jsonl"}


@pytest.mark.slow
def test_a_hung_file_times_out_on_both_backends(cluster, inputs, tmp_path, monkeypatch):
    from seqdown.dataset import utterance
    from seqdown.dataset.pipeline import preprocess
    from seqdown.dataset.settings import Settings
    from tests.dataset import dask_faults

    audio = with_extra(inputs, tmp_path, "hang.wav")
    started = time.monotonic()
    run = preprocess_run(audio, tmp_path / "dask", *OPTIONS, "--scheduler", cluster.address,
                         "--file-timeout", "1")
    assert run.returncode == 1, run.stderr
    assert time.monotonic() - started < 90
    expected = Failure("hang.wav", "Timeout", TimedOut(None, 1.0).message)
    assert (run.output_dir / "failures.jsonl").read_text() == expected.to_json() + "\n"

    # The local backend, in this process, with the same decoder that never returns.
    monkeypatch.setattr(utterance, "open_audio", dask_faults.faulty_open_audio)
    summary = preprocess(Settings.make(audio, frontend="decimate:2"), tmp_path / "local",
                         workers=1, file_timeout=1.0)
    assert (summary.done, summary.failed) == (FILES, 1)
    assert tree(tmp_path / "local") == tree(run.output_dir)
    with cluster.client() as client:  # the worker with the hung thread was restarted
        client.wait_for_workers(2, timeout=120)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_scheduler_exits_2_and_writes_nothing(inputs, tmp_path):
    address = f"tcp://127.0.0.1:{_free_port()}"
    started = time.monotonic()
    run = preprocess_run(inputs, tmp_path / "out", "--scheduler", address,
                         "--connect-timeout", "2")
    assert time.monotonic() - started < 60
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and address in lines[0] and "within 2 s" in lines[0], run.stderr
    assert not (tmp_path / "out").exists()

    run = preprocess_run(inputs, tmp_path / "out", "--scheduler-file",
                         str(tmp_path / "missing.json"), "--connect-timeout", "1")
    assert run.returncode == 2
    assert "did not appear within 1 s" in run.stderr and run.stderr.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_without_the_extra_scheduler_fails_at_once(inputs, tmp_path):
    hide = ("import importlib.abc, sys\n"
            "class Hide(importlib.abc.MetaPathFinder):\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name.split('.')[0] in {'distributed', 'dask'}:\n"
            "            raise ImportError(f'No module named {name!r}', name=name)\n"
            "sys.meta_path.insert(0, Hide())\n"
            "from seqdown.cli import main\n"
            f"sys.exit(main(['preprocess', {str(inputs)!r}, {str(tmp_path / 'out')!r}, "
            "'--scheduler', 'local']))\n")
    result = subprocess.run([sys.executable, "-c", hide], capture_output=True, text=True,
                            timeout=120, env=_environment())
    assert result.returncode == 2, result.stderr
    assert "pip install 'seqdown[dask]'" in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                    reason="runs a worker as another user, which needs root")
def test_workers_that_cannot_write_output_dir_are_refused(inputs):
    base = Path(tempfile.mkdtemp(prefix="seqdown-shared-"))
    cluster = None
    try:
        base.chmod(0o755)  # readable by the worker's user, writable by root only
        audio = with_extra(inputs, base, "extra.wav")
        cluster = start_cluster(base / "dask", workers=1, nanny=False,
                                SEQDOWN_TEST_USER="65534")
        run = preprocess_run(audio, base / "out", "--scheduler", cluster.address)
        assert run.returncode == 2, run.stderr
        assert "Dask worker tcp://127.0.0.1:" in run.stderr
        assert f"cannot write in OUTPUT_DIR {str(base / 'out')!r}" in run.stderr
        assert not (base / "out").exists()  # the folder this run made is removed again
    finally:
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.slow
def test_scheduler_local_starts_a_local_cluster(inputs, reference, tmp_path):
    run = preprocess_run(inputs, tmp_path / "out", *OPTIONS, "--scheduler", "local",
                         "--workers", "2")
    assert run.returncode == 0, run.stderr
    assert "started a local Dask cluster of 2 workers" in run.stderr
    assert tree(run.output_dir) == reference


@pytest.mark.slow
def test_the_scheduler_lost_then_resumed_on_a_new_cluster(inputs, reference, tmp_path):
    output = tmp_path / "out"
    first = start_cluster(tmp_path / "first", workers=1, SEQDOWN_TEST_DELAY="0.3")
    try:
        process = popen_cli("preprocess", inputs, output, *OPTIONS, "--scheduler",
                            first.address, "--connect-timeout", "2",
                            stderr=tmp_path / "stderr.txt")
        try:
            wait_for_arrays(output, 2, process)
            os.killpg(first.processes[0].pid, signal.SIGKILL)  # the scheduler
            assert process.wait(timeout=90) == 130, (tmp_path / "stderr.txt").read_text()
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    finally:
        first.stop()
    errors = (tmp_path / "stderr.txt").read_text()
    assert f"lost the Dask scheduler at {first.address}" in errors, errors
    assert "Traceback" not in errors
    assert json.loads((output / "dataset.json").read_text())["complete"] is False
    second = start_cluster(tmp_path / "second", workers=1)
    try:
        resumed = run_cli("preprocess", inputs, output, *OPTIONS, "--scheduler", second.address)
    finally:
        second.stop()
    assert resumed.returncode == 0, resumed.stderr
    assert tree(output) == reference

"""Running the pipeline's jobs on a Dask cluster (``seqdown preprocess --scheduler``).

Dask distributed is the scheduler here, not a dependency of the rest: the
pipeline hands :class:`DaskExecutor` the same job function and jobs as the
local :class:`~seqdown.dataset.workers.LocalPool`, and gets back the same
outcomes. What Dask adds is where they run and what it survives:

* a worker process that dies (SIGKILL, the out-of-memory killer, a lost node)
  has its tasks run again on the others by the scheduler; a task that has
  been on ``distributed.scheduler.allowed-failures + 1`` workers that died
  (3 + 1 by default) comes back as ``KilledWorker``, which becomes
  :class:`~seqdown.dataset.workers.WorkerCrash`: the file that kills every
  worker it lands on costs itself, never the run;
* the time limit of a file is enforced on the worker
  (:func:`~seqdown.dataset.workers.call_with_timeout`): in a Dask worker's task
  thread the hung job's thread is abandoned and the file reported as timed out,
  then the client restarts that worker through its nanny, which stops the
  thread (a worker without a nanny keeps it, with a warning);
* the client (this process) keeps the journal, so a client killed mid-run is
  resumed by running the same command again, as on one machine.

Jobs are submitted a few per worker thread ahead
(:data:`~seqdown.dataset.workers.JOBS_AHEAD`), never all at once: the
scheduler holds a bounded number of tasks, and a million-file corpus starts
at once.

Every worker must see INPUT_DIR and OUTPUT_DIR at the same paths (a shared
file system): :func:`check_workers` proves it before any work starts, and
that the workers run the same seqdown, torch and numpy as the client (the
bytes of the arrays depend on them).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import CancelledError
from itertools import islice
from pathlib import Path
from typing import Any, TypeVar

from seqdown._lazy import missing_extra
from seqdown.dataset.options import CONNECT_TIMEOUT
from seqdown.dataset.settings import UsageError
from seqdown.dataset.workers import (
    JOBS_AHEAD,
    ExecutorLost,
    Outcome,
    TimedOut,
    WorkerCrash,
    call_with_timeout,
)

try:
    import distributed
except ImportError as error:  # pragma: no cover - exercised by tests/dataset/test_dask.py
    raise missing_extra("distributed", "dask", error) from error

__all__ = [
    "DaskExecutor",
    "Scheduler",
    "check_workers",
    "connect",
    "run_task",
]

logger = logging.getLogger("seqdown")

Job = TypeVar("Job")
Result = TypeVar("Result")

#: Seconds between refreshes of the cluster's thread count (workers join and leave).
_CAPACITY_SECONDS = 5.0

#: What ``preprocess(scheduler=...)`` accepts: ``"local"``, an address, a scheduler file
#: (an ``os.PathLike``, or a string that is not an address), or a connected Client.
Scheduler = str | os.PathLike[str] | distributed.Client


def _is_address(text: str) -> bool:
    """``tcp://host:port`` (any scheme) or ``host:port``."""
    if "://" in text:
        return True
    host, colon, port = text.rpartition(":")
    return bool(colon and host and port.isdigit())


def _read_scheduler_file(path: Path, timeout: float) -> str:
    """The address in a scheduler file, waiting up to ``timeout`` s for it to appear."""
    deadline = time.monotonic() + timeout
    while not path.is_file():
        if time.monotonic() >= deadline:
            raise UsageError(f"the Dask scheduler file {os.fspath(path)!r} did not appear "
                             f"within {timeout:g} s; start the scheduler with "
                             "'dask scheduler --scheduler-file PATH' first")
        time.sleep(0.2)
    try:
        address = json.loads(path.read_text(encoding="utf-8"))["address"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise UsageError(f"{os.fspath(path)!r} is not a Dask scheduler file: {error}") from None
    if not isinstance(address, str):
        raise UsageError(f"{os.fspath(path)!r} is not a Dask scheduler file: 'address' is "
                         f"{address!r}")
    return address


@contextlib.contextmanager
def connect(scheduler: Scheduler, *, workers: int, timeout: float = CONNECT_TIMEOUT
            ) -> Iterator[distributed.Client]:
    """A Client of ``scheduler``, closed at the end (a Client passed in is left open).

    Args:
        scheduler: ``"local"`` starts a ``LocalCluster`` of ``workers``
            processes with one thread each (closed at the end); an address
            (``tcp://host:8786``, ``host:8786``) connects to it; a path (an
            ``os.PathLike``, or any other string) is a scheduler file as
            ``dask scheduler --scheduler-file`` writes it; a Client is used as is.
        workers: processes of a local cluster.
        timeout: seconds to wait for the scheduler.

    Raises:
        UsageError: the scheduler cannot be reached within ``timeout``, or the
            scheduler file does not appear or is not one.
    """
    if isinstance(scheduler, distributed.Client):
        yield scheduler
        return
    if isinstance(scheduler, str) and scheduler == "local":
        with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                      host="127.0.0.1") as cluster, \
                distributed.Client(cluster, set_as_default=False) as client:
            logger.info("started a local Dask cluster of %d workers; dashboard: %s", workers,
                        client.dashboard_link)
            yield client
        return
    if isinstance(scheduler, str) and _is_address(scheduler):
        address = scheduler
    else:
        address = _read_scheduler_file(Path(scheduler), timeout)
    try:
        client = distributed.Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as error:
        raise UsageError(f"cannot reach the Dask scheduler at {address!r} within {timeout:g} s "
                         f"({error})") from None
    with client:
        yield client


def _versions() -> dict[str, str]:
    import numpy
    import torch

    from seqdown import __version__
    return {"seqdown": __version__, "torch": torch.__version__, "numpy": numpy.__version__}


def _probe(input_dir: str, output_dir: str, token: str) -> str | dict[str, str]:
    """Runs on each worker: a problem in words, or the versions it runs."""
    if not os.path.isdir(input_dir) or not os.access(input_dir, os.R_OK | os.X_OK):
        return f"cannot read INPUT_DIR {input_dir!r}"
    if not os.path.exists(os.path.join(output_dir, token)):
        return (f"does not see the file that the client wrote in OUTPUT_DIR {output_dir!r}: "
                "that path is not on a file system shared with the client")
    try:
        handle, path = tempfile.mkstemp(prefix=".seqdown-probe-", suffix=".tmp", dir=output_dir)
        os.close(handle)
        os.unlink(path)
    except OSError as error:
        return f"cannot write in OUTPUT_DIR {output_dir!r}: {error.strerror or error}"
    return _versions()


def check_workers(client: distributed.Client, input_dir: str | os.PathLike[str],
                  output_dir: str | os.PathLike[str]) -> int:
    """Checks that every worker reads ``input_dir``, writes ``output_dir`` and runs our versions.

    Waits for a first worker to join (a batch system may start them late).
    ``output_dir`` must exist: a probe file written there by this process must
    be visible to each worker, which proves that the path is shared.

    Returns:
        The number of workers checked.

    Raises:
        UsageError: a worker fails a check; the message names it and the path.
    """
    info = client.scheduler_info()
    if not info.get("workers"):
        logger.info("waiting for a Dask worker to join the scheduler at %s", info.get("address"))
        client.wait_for_workers(1)
    token = f".seqdown-probe-{uuid.uuid4().hex}.tmp"
    probe = Path(output_dir) / token
    probe.write_bytes(b"")
    try:
        answers = client.run(_probe, os.fspath(input_dir), os.fspath(output_dir), token)
    finally:
        probe.unlink()
    mine = _versions()
    for worker, answer in sorted(answers.items()):
        if isinstance(answer, str):
            raise UsageError(f"Dask worker {worker} {answer}; every worker must see INPUT_DIR "
                             "and OUTPUT_DIR at the same paths as this machine")
        if answer != mine:
            raise UsageError(f"Dask worker {worker} runs {answer}, this machine {mine}; install "
                             "the same versions everywhere (the arrays depend on them)")
    return len(answers)


def run_task(function: Callable[[Job], Result], timeout: float | None, job: Job
             ) -> Result | TimedOut[Job]:
    """What a Dask worker runs for a job: ``function(job)`` with one torch thread, timed.

    Torch's thread count is process-wide; one thread per task keeps the bytes
    the same as on one machine (start workers with ``--nthreads`` = cores).
    """
    import torch

    torch.set_num_threads(1)
    return call_with_timeout(function, timeout, job)


class DaskExecutor:
    """An :class:`~seqdown.dataset.workers.Executor` on a Dask cluster.

    Args:
        client: a connected ``distributed.Client``.
    """

    def __init__(self, client: distributed.Client) -> None:
        self.client = client
        self.address = str(client.scheduler_info().get("address"))
        self._pending: dict[distributed.Future[Any], Any] = {}
        self._threads = 0
        self._counted = -_CAPACITY_SECONDS

    def _capacity(self) -> int:
        """Tasks to keep submitted: a few per worker thread (refreshed every few seconds)."""
        now = time.monotonic()
        if now - self._counted >= _CAPACITY_SECONDS:
            self._threads = sum(self.client.nthreads().values())
            self._counted = now
        return max(1, self._threads) * JOBS_AHEAD

    def map(self, function: Callable[[Job], Result], jobs: Iterable[Job],
            timeout: float | None) -> Iterator[tuple[Job, Outcome[Result, Job]]]:
        """Yields ``(job, outcome)`` in completion order, submitting jobs as others finish."""
        remaining = iter(jobs)
        finished = distributed.as_completed(loop=self.client.loop)
        name = getattr(function, "__name__", "job")

        def submit() -> None:
            # The capacity shrinks when workers leave: never below what is pending.
            for job in islice(remaining, max(0, self._capacity() - len(self._pending))):
                future = self.client.submit(run_task, function, timeout, job, pure=False,
                                            key=f"{name}-{uuid.uuid4().hex}")
                self._pending[future] = job
                finished.add(future)

        try:
            submit()
            for future in finished:
                job = self._pending.pop(future)
                outcome: Outcome[Result, Job]
                if future.status == "cancelled":  # the client cancels all when the scheduler goes
                    raise self._lost("its tasks were cancelled")
                if future.status == "error" and isinstance(future.exception(),
                                                           distributed.KilledWorker):
                    outcome = WorkerCrash(job)
                else:
                    outcome = future.result()  # raises a bug's exception, or a lost scheduler's
                    if isinstance(outcome, TimedOut):
                        self._recycle(future)
                future.release()
                yield job, outcome
                submit()
        except (OSError, CancelledError) as error:  # CommClosedError is an OSError
            raise self._lost(f"{type(error).__name__}: {error}") from error
        finally:
            if self._pending and self.client.status == "running":
                self.client.cancel(list(self._pending))
            self._pending.clear()

    def _lost(self, why: str) -> ExecutorLost:
        return ExecutorLost(f"lost the Dask scheduler at {self.address} in the middle of the "
                            f"run ({why}); the files finished so far are kept: run the same "
                            "command again to resume")

    def _recycle(self, future: distributed.Future[Any]) -> None:
        """Restarts the worker that abandoned a timed-out job's thread (it may still write)."""
        workers = sorted(self.client.who_has([future]).get(future.key, ()))
        if not workers:
            return
        logger.info("restarting Dask worker %s: a thread of a timed-out file still runs there",
                    ", ".join(workers))
        statuses = self.client.restart_workers(workers, raise_for_error=False)
        failed = {worker: status for worker, status in statuses.items() if status != "OK"}
        if failed:
            logger.warning("could not restart Dask worker %s (%s; started without a nanny?): "
                           "the thread of the timed-out file keeps running there",
                           ", ".join(failed), ", ".join(map(str, failed.values())))

    @property
    def in_flight(self) -> int:
        """Tasks submitted and not yet yielded, at most the cluster's thread count."""
        return min(len(self._pending), max(1, self._threads))

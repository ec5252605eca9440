"""Running a function over many jobs in worker processes, surviving dead workers and hangs.

:func:`run_jobs` maps a picklable function over jobs with a
``ProcessPoolExecutor`` whose workers inherit no state from the parent: the
``forkserver`` start method where the OS has it (workers fork from a clean
server process that has imported the function's module, torch included, once),
else ``spawn``. Each worker is limited to one torch thread, so that results are
the same bytes whatever the number of workers. With one worker the jobs run in
this process, also with one torch thread (restored afterwards).

A worker that dies (a decoder crash, the out-of-memory killer) breaks the whole
pool, and every unfinished job reports the same error. The jobs that were in
flight are then run again one at a time in a single-worker pool (replaced
after each death): the ones that kill their worker again come back as
:class:`WorkerCrash`, the others as normal results, and the remaining jobs
continue in a new pool. One bad file costs its own result, never the run.
An exception the function raises (it turns a file's errors into results, so
this is one that must stop the run, such as a full disk) propagates to the
caller as itself; the jobs not yet started are cancelled.

A job may also be given a time limit (:func:`call_with_timeout`): one that
runs longer comes back as :class:`TimedOut`. In the main thread of a process
(every pool worker, and this process with one worker) the limit is a
``SIGALRM`` timer whose handler raises out of the job, which also interrupts a
system call blocked on a dead network mount or a FIFO; elsewhere (a Dask
worker's task thread) the job runs in a helper thread that is abandoned when
the limit passes.

:class:`Executor` is what the pipeline runs its jobs on: :class:`LocalPool` is
this module's process pool, :class:`seqdown.dataset.cluster.DaskExecutor` a Dask
cluster. Both yield the same outcomes (the function's result,
:class:`WorkerCrash` or :class:`TimedOut`).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import multiprocessing
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from itertools import islice
from types import FrameType
from typing import Generic, Protocol, TypeAlias, TypeVar

import torch

__all__ = [
    "JOBS_AHEAD",
    "Executor",
    "ExecutorLost",
    "LocalPool",
    "Outcome",
    "TimedOut",
    "WorkerCrash",
    "call_with_timeout",
    "one_torch_thread",
    "run_jobs",
]

logger = logging.getLogger("seqdown")

Job = TypeVar("Job")
Result = TypeVar("Result")
Done = TypeVar("Done")

#: Jobs submitted ahead per worker, so that workers never wait for the parent.
JOBS_AHEAD = 4


@dataclass(frozen=True)
class WorkerCrash(Generic[Job]):
    """The result of a job whose worker process died while running it, twice."""

    job: Job
    message: str = ("the worker process died while processing this file (a crash in a "
                    "decoder, or killed by the system, e.g. out of memory)")


class ExecutorLost(RuntimeError):
    """The executor went away mid-run (a Dask scheduler lost): nothing is wrong with the
    files, the finished ones are journaled, and running the same command again resumes."""


@dataclass(frozen=True)
class TimedOut(Generic[Job]):
    """The result of a job that ran longer than its time limit (and was stopped or abandoned)."""

    job: Job
    seconds: float

    @property
    def message(self) -> str:
        """What happened, in words (no times measured, so that reruns give the same text)."""
        return (f"still running after the time limit of {self.seconds:g} s (--file-timeout); "
                "a decoder that hangs, or a file much longer than the others")


#: What a job gives: the function's result, or what stopped it.
Outcome: TypeAlias = Result | WorkerCrash[Job] | TimedOut[Job]


class _Expired(BaseException):
    """Raised out of a job by the timer; a BaseException, so the job's ``except Exception``
    handlers (which turn a file's errors into failures) let it through."""


def _expire(signum: int, frame: FrameType | None) -> None:
    raise _Expired


def _with_alarm(function: Callable[[Job], Result], seconds: float, job: Job
                ) -> Result | TimedOut[Job]:
    previous = signal.signal(signal.SIGALRM, _expire)
    try:
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            return function(job)
        finally:  # a signal pending here is still caught below
            signal.setitimer(signal.ITIMER_REAL, 0)
    except _Expired:
        return TimedOut(job, seconds)
    finally:
        signal.signal(signal.SIGALRM, previous)


def _with_thread(function: Callable[[Job], Result], seconds: float, job: Job
                 ) -> Result | TimedOut[Job]:
    outcome: list[Result] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            outcome.append(function(job))
        except BaseException as caught:  # re-raised in the caller's thread
            error.append(caught)

    thread = threading.Thread(target=target, name=f"seqdown job {job!r:.80}", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        logger.warning("abandoned a job after its time limit of %g s; its thread still runs in "
                       "this process (restart the worker to reclaim it): %.200r", seconds, job)
        return TimedOut(job, seconds)
    if error:
        raise error[0]
    return outcome[0]


def call_with_timeout(function: Callable[[Job], Result], seconds: float | None, job: Job
                      ) -> Result | TimedOut[Job]:
    """``function(job)``, or :class:`TimedOut` if it runs longer than ``seconds``.

    Args:
        function: the job function.
        seconds: the time limit; None for none.
        job: its argument.

    In the main thread (where POSIX has ``setitimer``) a ``SIGALRM`` timer
    raises out of the job, so the job is really stopped: Python code at once,
    a blocked system call (``open`` of a FIFO, a read on a dead mount) with
    ``EINTR``. Anywhere else the job runs in a daemon thread that is left
    behind when the limit passes (Python cannot stop a thread).
    """
    if seconds is None:
        return function(job)
    if not seconds > 0:
        raise ValueError(f"seconds must be a positive number or None, got {seconds}")
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer"):
        return _with_alarm(function, seconds, job)
    return _with_thread(function, seconds, job)


@contextlib.contextmanager
def one_torch_thread() -> Iterator[None]:
    """Runs the block with ``torch.set_num_threads(1)``, restoring the count after."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _init_worker() -> None:
    torch.set_num_threads(1)


def _pool(workers: int, module: str) -> ProcessPoolExecutor:
    """A pool on ``forkserver`` (preloading ``module``) if the OS has it, else spawn."""
    context: multiprocessing.context.BaseContext
    if "forkserver" in multiprocessing.get_all_start_methods():
        server = multiprocessing.get_context("forkserver")
        # Workers fork from a server that imported torch once: ~0.1 s per worker, not ~2 s.
        server.set_forkserver_preload([__name__, module])
        context = server
    else:
        context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker)


def _run_one_by_one(function: Callable[[Job], Done], module: str, jobs: list[Job]
                    ) -> Iterator[tuple[Job, Done | WorkerCrash[Job]]]:
    """Runs ``jobs`` one at a time in a single-worker pool, replaced whenever a job kills it."""
    pool = None
    try:
        for job in jobs:
            if pool is None:
                pool = _pool(1, module)
            try:
                result: Done | WorkerCrash[Job] = pool.submit(function, job).result()
            except BrokenProcessPool:
                result = WorkerCrash(job)
                pool.shutdown()
                pool = None
            yield job, result
    finally:
        if pool is not None:
            pool.shutdown()


def _run_in_pool(function: Callable[[Job], Done], module: str, remaining: Iterator[Job],
                 workers: int) -> Iterator[tuple[Job, Done | WorkerCrash[Job]]]:
    while True:
        suspects: list[Job] = []
        with _pool(workers, module) as pool:
            pending: dict[Future[Done], Job] = {}
            try:
                while True:
                    for job in islice(remaining, workers * JOBS_AHEAD - len(pending)):
                        pending[pool.submit(function, job)] = job
                    if not pending:
                        return
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    if any(isinstance(future.exception(), BrokenProcessPool) for future in done):
                        break  # a worker died
                    for future in done:
                        yield pending.pop(future), future.result()
            except BaseException:  # a job's exception, or the caller stopped: start no more
                pool.shutdown(cancel_futures=True)
                raise
        # Broken: keep what finished, and rerun the rest alone to find the culprit.
        for future, job in pending.items():
            if future.done() and not isinstance(future.exception(), BrokenProcessPool):
                yield job, future.result()
            else:
                suspects.append(job)
        yield from _run_one_by_one(function, module, suspects)


def run_jobs(function: Callable[[Job], Result], jobs: Iterable[Job], workers: int,
             timeout: float | None = None) -> Iterator[tuple[Job, Outcome[Result, Job]]]:
    """Yields ``(job, function(job))`` for every job, in completion order.

    Args:
        function: a module-level function (picklable); exceptions it raises
            propagate, so it should turn expected errors into results.
        jobs: picklable job descriptions; consumed lazily.
        workers: processes; 1 runs the jobs in this process.
        timeout: seconds a job may run (:func:`call_with_timeout`); None for no limit.

    Yields:
        Each job with its result, with a :class:`WorkerCrash` when its worker
        process died on it (only with ``workers > 1``), or with
        :class:`TimedOut` when it ran past ``timeout``.
    """
    if workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers}")
    call: Callable[[Job], Result | TimedOut[Job]] = (
        function if timeout is None else functools.partial(call_with_timeout, function, timeout))
    remaining = iter(jobs)
    if workers == 1:
        with one_torch_thread():
            for job in remaining:
                yield job, call(job)
        return
    yield from _run_in_pool(call, function.__module__, remaining, workers)


class Executor(Protocol):
    """Where the pipeline runs its jobs: this machine's processes, or a cluster.

    ``map`` yields every job with its outcome, in completion order, and may be
    called once; ``in_flight`` is the number of jobs handed out and not yet
    yielded (for progress reports), at most the number that can run at once.
    """

    def map(self, function: Callable[[Job], Result], jobs: Iterable[Job],
            timeout: float | None) -> Iterator[tuple[Job, Outcome[Result, Job]]]:
        """Runs ``function`` on every job, each within ``timeout`` seconds (None: no limit)."""
        ...

    @property
    def in_flight(self) -> int:
        """Jobs started and not yet yielded."""
        ...


class LocalPool:
    """:func:`run_jobs` on this machine as an :class:`Executor`.

    Args:
        workers: processes (1 runs the jobs in this process).
    """

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise ValueError(f"workers must be a positive integer, got {workers}")
        self.workers = workers
        self._taken = self._given = 0

    def _count(self, jobs: Iterable[Job]) -> Iterator[Job]:
        for job in jobs:
            self._taken += 1
            yield job

    def map(self, function: Callable[[Job], Result], jobs: Iterable[Job],
            timeout: float | None) -> Iterator[tuple[Job, Outcome[Result, Job]]]:
        """Yields ``(job, outcome)`` as :func:`run_jobs` does."""
        for item in run_jobs(function, self._count(jobs), self.workers, timeout):
            self._given += 1
            yield item

    @property
    def in_flight(self) -> int:
        """Jobs handed to the pool and not yet yielded, at most ``workers``."""
        return min(self.workers, self._taken - self._given)

"""Running a function over many jobs in worker processes, surviving dead workers.

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
"""

from __future__ import annotations

import contextlib
import multiprocessing
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from itertools import islice
from typing import Generic, TypeVar

import torch

__all__ = ["WorkerCrash", "one_torch_thread", "run_jobs"]

Job = TypeVar("Job")
Result = TypeVar("Result")

#: Jobs submitted ahead per worker, so that workers never wait for the parent.
_AHEAD = 4


@dataclass(frozen=True)
class WorkerCrash(Generic[Job]):
    """The result of a job whose worker process died while running it, twice."""

    job: Job
    message: str = ("the worker process died while processing this file (a crash in a "
                    "decoder, or killed by the system, e.g. out of memory)")


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


def _pool(workers: int, function: Callable[..., object]) -> ProcessPoolExecutor:
    """A pool on ``forkserver`` (preloading ``function``'s module) if the OS has it, else spawn."""
    context: multiprocessing.context.BaseContext
    if "forkserver" in multiprocessing.get_all_start_methods():
        server = multiprocessing.get_context("forkserver")
        # Workers fork from a server that imported torch once: ~0.1 s per worker, not ~2 s.
        server.set_forkserver_preload([__name__, function.__module__])
        context = server
    else:
        context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker)


def _run_one_by_one(function: Callable[[Job], Result], jobs: list[Job]
                    ) -> Iterator[tuple[Job, Result | WorkerCrash[Job]]]:
    """Runs ``jobs`` one at a time in a single-worker pool, replaced whenever a job kills it."""
    pool = None
    try:
        for job in jobs:
            if pool is None:
                pool = _pool(1, function)
            try:
                result: Result | WorkerCrash[Job] = pool.submit(function, job).result()
            except BrokenProcessPool:
                result = WorkerCrash(job)
                pool.shutdown()
                pool = None
            yield job, result
    finally:
        if pool is not None:
            pool.shutdown()


def run_jobs(function: Callable[[Job], Result], jobs: Iterable[Job], workers: int
             ) -> Iterator[tuple[Job, Result | WorkerCrash[Job]]]:
    """Yields ``(job, function(job))`` for every job, in completion order.

    Args:
        function: a module-level function (picklable); exceptions it raises
            propagate, so it should turn expected errors into results.
        jobs: picklable job descriptions; consumed lazily.
        workers: processes; 1 runs the jobs in this process.

    Yields:
        Each job with its result, or with a :class:`WorkerCrash` when its worker
        process died on it (only with ``workers > 1``).
    """
    if workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers}")
    remaining = iter(jobs)
    if workers == 1:
        with one_torch_thread():
            for job in remaining:
                yield job, function(job)
        return
    while True:
        suspects: list[Job] = []
        with _pool(workers, function) as pool:
            pending: dict[Future[Result], Job] = {}
            while True:
                for job in islice(remaining, workers * _AHEAD - len(pending)):
                    pending[pool.submit(function, job)] = job
                if not pending:
                    return
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                if any(isinstance(future.exception(), BrokenProcessPool) for future in done):
                    break  # a worker died
                for future in done:
                    yield pending.pop(future), future.result()
        # Broken: keep what finished, and rerun the rest alone to find the culprit.
        for future, job in pending.items():
            if future.done() and not isinstance(future.exception(), BrokenProcessPool):
                yield job, future.result()
            else:
                suspects.append(job)
        yield from _run_one_by_one(function, suspects)

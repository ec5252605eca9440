"""Worker pools: the same results with any number of workers; a dead worker or a hung job
costs one job."""

from __future__ import annotations

import math
import os
import signal
import threading
import time

import pytest
import torch

from seqdown.dataset.workers import (
    LocalPool,
    TimedOut,
    WorkerCrash,
    call_with_timeout,
    one_torch_thread,
    run_jobs,
)


def square_or_die(job: int) -> tuple[int, int]:
    """Module-level (picklable): kills its own process for job 13, as a segfault would."""
    if job == 13:
        os._exit(3)
    return job * job, torch.get_num_threads()


def test_one_worker_runs_in_process_with_one_torch_thread():
    before = torch.get_num_threads()
    results = dict(run_jobs(square_or_die, range(5), workers=1))
    assert results == {job: (job * job, 1) for job in range(5)}
    assert torch.get_num_threads() == before


def test_a_dead_worker_costs_only_its_job():
    results = dict(run_jobs(square_or_die, range(20), workers=2))
    assert sorted(results) == list(range(20))
    assert results.pop(13) == WorkerCrash(13)
    assert results == {job: (job * job, 1) for job in range(20) if job != 13}


def test_one_torch_thread_restores():
    before = torch.get_num_threads()
    with one_torch_thread():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def sleep_for(job):
    """Module-level (picklable): sleeps ``job`` seconds (or ``job[1]``), as a hung decoder would."""
    seconds = job[1] if isinstance(job, tuple) else job
    time.sleep(seconds)
    return seconds


def test_call_with_timeout_stops_a_job_in_the_main_thread():
    started = time.monotonic()
    assert call_with_timeout(sleep_for, 0.2, 30.0) == TimedOut(30.0, 0.2)
    assert time.monotonic() - started < 10  # the sleep was interrupted, not waited for
    assert call_with_timeout(sleep_for, 5.0, 0.0) == 0.0
    assert call_with_timeout(sleep_for, None, 0.0) == 0.0
    assert signal.getsignal(signal.SIGALRM) is signal.SIG_DFL  # the handler is restored
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_call_with_timeout_abandons_a_job_in_another_thread():
    results: list[object] = []
    thread = threading.Thread(target=lambda: results.append(
        call_with_timeout(sleep_for, 0.2, 3.0)))
    started = time.monotonic()
    thread.start()
    thread.join()
    assert results == [TimedOut(3.0, 0.2)]
    assert time.monotonic() - started < 2.5


def test_call_with_timeout_passes_exceptions_through():
    with pytest.raises(ValueError, match="seconds must be a positive number or None, got 0"):
        call_with_timeout(sleep_for, 0, 1.0)
    for where in ("main", "thread"):
        errors: list[BaseException] = []

        def run(errors: list[BaseException] = errors) -> None:
            try:
                call_with_timeout(math.sqrt, 5.0, -1.0)
            except ValueError as error:
                errors.append(error)

        if where == "main":
            run()
        else:
            thread = threading.Thread(target=run)
            thread.start()
            thread.join()
        assert len(errors) == 1 and "math domain error" in str(errors[0]), where


@pytest.mark.parametrize("workers", [1, 2])
def test_run_jobs_times_out_a_hung_job_and_goes_on(workers):
    jobs = [0.0, 0.01, 60.0, 0.0, 0.02]
    started = time.monotonic()
    results = dict(run_jobs(sleep_for, enumerate_jobs(jobs), workers, timeout=1.0))
    assert time.monotonic() - started < 30
    assert results == {job: (TimedOut(job, 1.0) if job[1] == 60.0 else job[1])
                       for job in enumerate_jobs(jobs)}


def enumerate_jobs(seconds: list[float]) -> list[tuple[int, float]]:
    return list(enumerate(seconds))


def test_local_pool_counts_jobs_in_flight():
    pool = LocalPool(2)
    seen = []
    for _job, _result in pool.map(square_or_die, range(6), None):
        seen.append(pool.in_flight)
    assert all(0 <= count <= 2 for count in seen) and seen[-1] == 0
    with pytest.raises(ValueError, match="workers must be a positive integer, got 0"):
        LocalPool(0)

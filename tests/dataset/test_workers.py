"""Worker pools: same results with any number of workers, and a dead worker costs one job."""

from __future__ import annotations

import os

import torch

from seqdown.dataset.workers import WorkerCrash, one_torch_thread, run_jobs


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

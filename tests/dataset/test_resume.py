"""A run killed with SIGKILL part-way leaves nothing that passes for finished, and resumes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from seqdown.dataset.journal import Journal
from tests.conftest import ROOT, preprocess_run, tree, write_audio

pytestmark = pytest.mark.slow

FILES = 30
#: A long window with a 1 ms hop makes each 2 s file take ~0.1 s: time to kill the run part-way.
OPTIONS = ("--win-ms", "200", "--hop-ms", "1", "--frontend", "decimate:2", "--workers", "1")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("resume") / "audio"
    for index in range(FILES):
        write_audio(folder / f"spk{index % 3}" / f"utt{index:02d}.wav", 2.0, 22050,
                    channels=1 + index % 2, seed=index)
    return folder


def kill_when_arrays_appear(command: list[str], features, count: int) -> int:
    """Starts ``command``, SIGKILLs its process group once ``count`` arrays exist."""
    process = subprocess.Popen(command, cwd=ROOT, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and process.poll() is None:
            if features.is_dir() and len(list(features.glob("[!.]*.npy"))) >= count:
                break
            time.sleep(0.005)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    return process.returncode


def test_resume_after_sigkill_equals_a_clean_run(inputs, tmp_path):
    clean = preprocess_run(inputs, tmp_path / "clean", *OPTIONS)
    assert clean.returncode == 0, clean.stderr
    killed = tmp_path / "killed"
    command = [sys.executable, "-m", "seqdown", "preprocess", str(inputs), str(killed), *OPTIONS]
    assert kill_when_arrays_appear(command, killed / "features", 3) == -signal.SIGKILL

    # Killed part-way: not finished, and every array under a final name is complete.
    arrays = sorted((killed / "features").glob("[!.]*.npy"))
    assert 3 <= len(arrays) < FILES
    assert not (killed / "manifest.jsonl").exists()
    assert json.loads((killed / "dataset.json").read_text())["complete"] is False
    for array in arrays:
        assert array.read_bytes() == (clean.output_dir / "features" / array.name).read_bytes()
        np.load(array)
    finished = Journal(killed).load()
    assert all((killed / e.record.feature_filepath).stat().st_size == e.array_size
               for e in finished.values())

    resumed = preprocess_run(inputs, killed, *OPTIONS)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{FILES - len(finished)} done, {len(finished)} skipped, 0 failed" in resumed.stdout
    assert tree(killed) == tree(clean.output_dir)
    assert not list((killed / "features").glob(".*"))  # no temporary left behind


def test_resume_of_a_manifest_input_after_sigkill_equals_a_clean_run(inputs, tmp_path):
    # Whole files and segments, with texts and an extra key: the journal must key them all.
    lines = []
    for index, path in enumerate(sorted(inputs.rglob("*.wav"))):
        line = {"audio_filepath": str(path), "text": f"utterance {index}", "index": index}
        if index % 3 == 0:
            line |= {"offset": 0.25, "duration": 1.5}
        lines.append(json.dumps(line))
    manifest = tmp_path / "in.jsonl"
    manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    options = ("--manifest", str(manifest), *OPTIONS)
    clean = tmp_path / "clean"
    done = subprocess.run([sys.executable, "-m", "seqdown", "preprocess", str(clean), *options],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    killed = tmp_path / "killed"
    command = [sys.executable, "-m", "seqdown", "preprocess", str(killed), *options]
    assert kill_when_arrays_appear(command, killed / "features", 3) == -signal.SIGKILL
    assert 3 <= len(list((killed / "features").glob("[!.]*.npy"))) < FILES
    assert not (killed / "manifest.jsonl").exists()
    finished = Journal(killed).load()
    resumed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert (f"{FILES} utterances: {FILES - len(finished)} done, {len(finished)} skipped, "
            "0 failed") in resumed.stdout
    assert tree(killed) == tree(clean)


def test_sigkills_at_random_moments_with_two_workers_then_resume(inputs, tmp_path):
    # Three kills of one folder at random moments (a fixed seed), each resuming the last.
    options = (*OPTIONS[:-1], "2")  # --workers 2
    clean = preprocess_run(inputs, tmp_path / "clean", *options)
    assert clean.returncode == 0, clean.stderr
    killed = tmp_path / "killed"
    command = [sys.executable, "-m", "seqdown", "preprocess", str(inputs), str(killed), *options]
    moments = sorted(np.random.default_rng(2026).choice(np.arange(2, FILES - 4), 3,
                                                        replace=False))
    for count in moments:
        assert kill_when_arrays_appear(command, killed / "features", int(count)) == -signal.SIGKILL
        assert not (killed / "manifest.jsonl").exists()
        assert json.loads((killed / "dataset.json").read_text())["complete"] is False
        for entry in Journal(killed).load().values():
            array = killed / entry.record.feature_filepath
            assert array.read_bytes() == (clean.output_dir / entry.record.feature_filepath
                                          ).read_bytes()
    resumed = preprocess_run(inputs, killed, *options)
    assert resumed.returncode == 0, resumed.stderr
    assert tree(killed) == tree(clean.output_dir)
    assert not list((killed / "features").glob(".*"))

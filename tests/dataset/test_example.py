"""examples/preprocess_and_train.py runs in its fast mode and prints what it promises."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def test_example_fast_mode(tmp_path):
    done = subprocess.run([sys.executable, "examples/preprocess_and_train.py", "--fast",
                           "--output", str(tmp_path / "digits")], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "60 files: 60 done, 0 skipped, 0 failed" in done.stdout
    assert "50 training and 10 test utterances" in done.stdout
    lengths = re.search(r"lengths (\[.*?\])\n", done.stdout).group(1)
    assert f"= num_frames {lengths} of the manifest" in done.stdout
    assert re.search(r"accuracy \d+% on training voices, \d+% on the held-out voice", done.stdout)
    assert (tmp_path / "digits" / "manifest.jsonl").exists()


def test_example_help():
    done = subprocess.run([sys.executable, "examples/preprocess_and_train.py", "--help"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "--fast" in done.stdout

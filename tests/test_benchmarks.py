"""Every benchmark command the README shows runs, with its options, on a small input.

The README's commands are taken as shown; options that shrink the work are appended
(argparse keeps the last value), so a renamed or removed option, a broken import or
a crash in a table fails here. The figures are not checked: benchmarks measure.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Options appended to each script's README command so that it runs in seconds.
SMALL = {
    "bench_resample.py": ["--seconds", "0.2", "--repeat", "1", "--threads", "1",
                          "--ratio", "48000", "16000"],
    "bench_pipeline.py": ["--files", "2", "--seconds", "1", "--workers", "1"],
    "bench_streaming.py": ["--seconds", "0.5", "--repeat", "1"],
    "bench_first_call.py": ["--random", "0", "--no-soxr", "--pair", "48000", "16000",
                            "--pair", "96000", "16"],
    "bench_decimate.py": ["--seconds", "0.2", "--repeat", "1", "--channels", "1"],
}


def readme_commands() -> list[list[str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = re.findall(r"`python (benchmarks/bench_\w+\.py[^`]*)`", text)
    return [shlex.split(command) for command in dict.fromkeys(commands)]


def test_the_readme_shows_every_benchmark():
    shown = {Path(command[0]).name for command in readme_commands()}
    scripts = {path.name for path in (ROOT / "benchmarks").glob("bench_*.py")}
    assert shown <= scripts and scripts - shown <= {"bench_decimate.py"}, shown ^ scripts
    assert set(SMALL) == scripts


@pytest.mark.slow
@pytest.mark.parametrize("command", readme_commands(), ids=lambda c: Path(c[0]).stem)
def test_readme_benchmark_command_runs(command, tmp_path):
    script = Path(command[0]).name
    result = subprocess.run([sys.executable, *command, *SMALL[script]], cwd=ROOT,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(result.stdout.splitlines()) >= 4, f"no table printed:\n{result.stdout}"


@pytest.mark.slow
def test_make_bench_runs_every_benchmark_script():
    result = subprocess.run(["make", "-n", "bench"], cwd=ROOT, capture_output=True, text=True,
                            check=True, timeout=60)
    # The README says "make bench" runs every script in benchmarks/.
    run = set(re.findall(r"benchmarks/(bench_\w+\.py)", result.stdout))
    assert run == {path.name for path in (ROOT / "benchmarks").glob("bench_*.py")}

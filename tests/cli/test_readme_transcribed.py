"""The commands of README.md's "Datasets with transcripts" section run and print what it shows.

Each ``$ seqdown ...`` line of the section's ``console`` blocks is run in order
(later ones read what earlier ones wrote) in a temporary folder that links to
``audio_fixtures/``; the line after it in the README is its output, compared
with the timings left out. The ``python`` blocks of the section are run by
``tests/test_docs.py``.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

import seqdown
from tests.conftest import FIXTURES, ROOT

pytestmark = pytest.mark.slow

SECTION = "## Datasets with transcripts"
_TIMING = re.compile(r"; [0-9.]+ s, real-time factor [0-9.a-z/]+$")


def section_commands() -> list[tuple[list[str], str]]:
    """``(argv, expected first output line)`` of each console command in the section."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    commands = []
    for block in re.findall(r"```console\n(.*?)```", section, flags=re.DOTALL):
        lines = block.splitlines()
        for index, line in enumerate(lines):
            if line.startswith("$ "):
                commands.append((shlex.split(line[2:]), lines[index + 1]))
    return commands


def test_the_section_shows_every_input_and_export():
    shown = [" ".join(argv[:2]) + (" --manifest" if "--manifest" in argv else "")
             + (" --transcripts" if "--transcripts" in argv else "")
             for argv, _ in section_commands()]
    assert shown == ["seqdown preprocess --manifest", "seqdown preprocess --manifest",
                     "seqdown preprocess --transcripts", "seqdown export", "seqdown export"]
    assert [argv[2] for argv, _ in section_commands()[3:]] == ["lhotse", "hf"]


def test_readme_commands_run_and_print_what_the_readme_shows(tmp_path):
    (tmp_path / "audio_fixtures").symlink_to(FIXTURES, target_is_directory=True)
    # This checkout's seqdown, from another working folder.
    env = {**os.environ, "PYTHONPATH": str(Path(seqdown.__file__).parents[1])}
    for argv, expected in section_commands():
        assert argv[0] == "seqdown"
        workers = ["--workers", "2"] if argv[1] == "preprocess" else []
        done = subprocess.run([sys.executable, "-m", "seqdown", *argv[1:], *workers],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, (argv, done.stderr)
        assert _TIMING.sub("", done.stdout.splitlines()[0]) == _TIMING.sub("", expected)
    assert (tmp_path / "build" / "digits-lhotse" / "cuts.jsonl.gz").is_file()
    assert (tmp_path / "build" / "digits-hf" / "dataset_info.json").is_file()

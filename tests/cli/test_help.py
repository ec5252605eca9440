"""The ``seqdown`` command answers ``--help`` without importing torch or the dataset extra."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("torch", "numpy", "scipy", "soundfile", "torchaudio", "matplotlib", "dask", "distributed")


@pytest.mark.parametrize("argv", [["--help"], ["preprocess", "--help"], ["merge", "--help"],
                                  ["analyze", "--help"], ["--version"]], ids=" ".join)
def test_help_imports_nothing_heavy(argv):
    code = ("import sys\nfrom seqdown.cli import main\n"
            f"try:\n    main({argv!r})\nexcept SystemExit as exit:\n    code = exit.code\n"
            f"heavy = sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})\n"
            "print('HEAVY', heavy, 'EXIT', code)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "HEAVY [] EXIT 0"
    assert "usage: seqdown" in result.stdout or "seqdown " in result.stdout


def test_console_script_help():
    script = shutil.which("seqdown", path=str(Path(sys.executable).parent))
    assert script is not None, "the seqdown console script is not installed next to python"
    result = subprocess.run([script, "preprocess", "--help"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    for option in ("--sample-rate", "--features", "--frontend", "--exclude"):
        assert option in result.stdout

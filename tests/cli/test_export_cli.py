"""``seqdown export``: exit statuses and messages, and ``--help`` without importing the toolkits."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT, run_cli


def test_help_imports_neither_lhotse_nor_datasets():
    code = ("import sys\nfrom seqdown.cli import main\n"
            "for argv in (['export', '--help'], ['export', 'lhotse', '--help'],"
            " ['export', 'hf', '--help']):\n"
            "    try:\n        main(argv)\n    except SystemExit as exit:\n"
            "        assert exit.code == 0, exit.code\n"
            "print(sorted({'lhotse', 'datasets'} & set(sys.modules)))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "[]"
    assert "reading it back:" in done.stdout and "load_from_disk" in done.stdout


@pytest.mark.parametrize("kind", ["lhotse", "hf"])
def test_usage_errors_exit_2_and_name_the_problem(kind, tmp_path):
    done = run_cli("export", kind, tmp_path, tmp_path / "out")
    assert done.returncode == 2
    assert done.stderr == (f"seqdown export {kind}: error: DATASET_DIR {str(tmp_path)!r} is "
                           "not a seqdown dataset (no dataset.json)\n")
    assert not (tmp_path / "out").exists()


def test_an_unknown_format_is_refused_by_argparse(tmp_path):
    done = run_cli("export", "kaldi", tmp_path, tmp_path / "out")
    assert done.returncode == 2 and "invalid choice: 'kaldi'" in done.stderr

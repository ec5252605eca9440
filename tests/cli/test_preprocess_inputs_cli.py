"""``seqdown preprocess --manifest`` and ``--transcripts`` on the command line: what it prints,
its exit statuses, and the usage errors of the input options."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.conftest import FIXTURES, run_cli

pytestmark = pytest.mark.slow


@pytest.fixture
def three_digits(tmp_path):
    folder = tmp_path / "audio"
    folder.mkdir()
    for name in ("one_us", "two_us", "three_us"):
        shutil.copy(FIXTURES / "digits" / f"{name}.flac", folder)
    transcripts = tmp_path / "t.trans.txt"
    transcripts.write_text("one_us ONE\nthree_us\tTHREE\n", encoding="utf-8")
    return folder, transcripts


def test_manifest_failures_name_their_line_and_exit_1(tmp_path):
    manifest = tmp_path / "in.jsonl"
    good = {"audio_filepath": str(FIXTURES / "digits" / "one_us.flac"), "text": "one"}
    manifest.write_text(json.dumps(good) + "\n{not json\n", encoding="utf-8")
    done = run_cli("preprocess", "--manifest", manifest, tmp_path / "out", "--workers", "1")
    assert done.returncode == 1, done.stderr
    assert "seqdown preprocess: failed line 2 (in.jsonl:2): InvalidLine: the line is not JSON" \
        in done.stderr
    assert done.stdout.startswith("seqdown preprocess: 2 utterances: 1 done, 0 skipped, 1 failed "
                                  f"(see {tmp_path / 'out' / 'failures.jsonl'}); ")


def test_missing_transcripts_are_listed_and_required_ones_fail(three_digits, tmp_path):
    folder, transcripts = three_digits
    done = run_cli("preprocess", folder, tmp_path / "a", "--transcripts", transcripts,
                   "--workers", "1")
    assert done.returncode == 0, done.stderr
    assert "seqdown preprocess: no text for two_us.flac\n" in done.stderr
    assert ", 1 without text; " in done.stdout
    done = run_cli("preprocess", folder, tmp_path / "b", "--transcripts", transcripts,
                   "--require-text", "--workers", "1")
    assert done.returncode == 1
    assert "failed two_us.flac: MissingText: no text for this utterance (--require-text)" \
        in done.stderr


@pytest.mark.parametrize(("arguments", "message"), [
    (("INPUT", "OUT", "--manifest", "m.jsonl"), "give either INPUT_DIR or --manifest, not both"),
    (("OUT",), "give either INPUT_DIR or --manifest, not neither"),
    (("--manifest", "m.jsonl", "OUT", "--transcripts", "t.txt"),
     "--transcripts is for INPUT_DIR inputs"),
    (("INPUT", "OUT", "--transcripts", "missing.txt"), "--transcripts"),
], ids=["both", "neither", "transcripts-with-manifest", "missing-transcripts"])
def test_input_usage_errors_exit_2_and_change_nothing(tmp_path, arguments, message):
    (tmp_path / "INPUT").mkdir()
    (tmp_path / "m.jsonl").write_text("")
    arguments = tuple(str(tmp_path / a) if a in ("INPUT", "OUT", "m.jsonl", "t.txt",
                                                    "missing.txt") else a for a in arguments)
    done = run_cli("preprocess", *arguments)
    assert done.returncode == 2
    assert message in done.stderr
    assert not (tmp_path / "OUT").exists()


def test_help_describes_both_inputs():
    done = run_cli("preprocess", "--help")
    assert done.returncode == 0
    assert "(INPUT_DIR | --manifest IN.jsonl) OUTPUT_DIR" in done.stdout
    for flag in ("--manifest IN.jsonl", "--transcripts FILE", "--require-text"):
        assert flag in done.stdout

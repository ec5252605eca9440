"""Exit statuses of ``seqdown preprocess`` (0, 1, 2, 3, 130) and what ``-v``/``-q`` print."""

from __future__ import annotations

import logging

import pytest

from seqdown.cli import main
from seqdown.cli.status import DONE, INPUTS_FAILED, INTERNAL_ERROR, INTERRUPTED, USAGE_ERROR
from seqdown.dataset import pipeline
from seqdown.dataset.pipeline import preprocess
from seqdown.dataset.settings import Settings
from tests.conftest import write_audio


@pytest.fixture
def corpus(tmp_path):
    write_audio(tmp_path / "audio" / "good.wav", 0.3, 16000)
    (tmp_path / "audio" / "empty.wav").write_bytes(b"")
    return tmp_path / "audio"


def raising(error: BaseException):
    def process_file(job):
        raise error

    return process_file


def test_done_and_some_failed(corpus, tmp_path, capsys):
    assert main(["preprocess", str(corpus), str(tmp_path / "one"), "--exclude", "empty.wav",
                 "--workers", "1"]) == DONE
    assert main(["preprocess", str(corpus), str(tmp_path / "two"), "--workers", "1"]) \
        == INPUTS_FAILED
    err = capsys.readouterr().err
    assert "seqdown preprocess: failed empty.wav: EmptyFile: the file is empty" in err


@pytest.mark.parametrize("error", [RuntimeError("boom"), ValueError("a bug mid-run")],
                         ids=["RuntimeError", "ValueError"])
def test_an_unexpected_exception_is_an_internal_error(corpus, tmp_path, capsys, monkeypatch,
                                                      error):
    monkeypatch.setattr(pipeline, "process_file", raising(error))
    status = main(["preprocess", str(corpus), str(tmp_path / "out"), "--workers", "1"])
    assert status == INTERNAL_ERROR
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and str(error) in err
    assert "internal error (this is a bug in seqdown" in err
    assert "usage" not in err and "nothing changed" not in err


def test_an_interrupted_run_exits_130(corpus, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(pipeline, "process_file", raising(KeyboardInterrupt()))
    status = main(["preprocess", str(corpus), str(tmp_path / "out"), "--workers", "1"])
    assert status == INTERRUPTED
    assert "interrupted; run the same command again to resume" in capsys.readouterr().err


def test_a_usage_error_exits_2(corpus, tmp_path, capsys):
    assert main(["preprocess", str(corpus), str(tmp_path / "out"), "--frontend", "conv:2"]) \
        == USAGE_ERROR
    assert not (tmp_path / "out").exists()
    with pytest.raises(SystemExit) as caught:
        main(["preprocess", str(corpus), str(tmp_path / "out"), "--file-timeout", "-1"])
    assert caught.value.code == USAGE_ERROR
    assert "--file-timeout: must be a positive number, got -1" in capsys.readouterr().err
    # A rate no resampler takes is refused before anything is written, naming the option.
    assert main(["preprocess", str(corpus), str(tmp_path / "out"), "--sample-rate",
                 "10000000"]) == USAGE_ERROR
    assert "--sample-rate must be at most 768000 Hz, got 10000000" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("zero", ["0", "0.0", "0.00", "0e3"])
def test_file_timeout_zero_in_any_spelling_means_no_limit(zero):
    from seqdown.cli.preprocess import _limit

    assert _limit(zero) is None and _limit("2.5") == 2.5


def test_quiet_and_verbose(corpus, tmp_path, capsys):
    assert main(["preprocess", str(corpus), str(tmp_path / "q"), "-q", "--workers", "1"]) == 1
    captured = capsys.readouterr()
    assert captured.err == ""  # no line per failure, no progress
    assert "1 failed" in captured.out
    assert main(["preprocess", str(corpus), str(tmp_path / "v"), "-v", "--workers", "1"]) == 1
    assert "failed empty.wav: EmptyFile" in capsys.readouterr().err
    # The command restores the loggers it configured.
    assert logging.getLogger("seqdown").propagate
    assert not logging.getLogger("seqdown").handlers


def test_the_library_logs_through_the_seqdown_logger(tmp_path, caplog):
    (tmp_path / "empty").mkdir()
    with caplog.at_level(logging.INFO, logger="seqdown"):
        preprocess(Settings.make(tmp_path / "empty"), tmp_path / "out")
    assert [(r.name, r.levelname) for r in caplog.records] == [("seqdown", "WARNING")]
    assert "no audio files in" in caplog.records[0].getMessage()
    caplog.clear()
    write_audio(tmp_path / "audio" / "good.wav", 0.3, 16000)
    (tmp_path / "audio" / "empty.wav").write_bytes(b"")
    with caplog.at_level(logging.INFO, logger="seqdown"):
        preprocess(Settings.make(tmp_path / "audio"), tmp_path / "out2")
    assert [r.getMessage() for r in caplog.records] == [
        "failed empty.wav: EmptyFile: the file is empty (0 bytes)"]

"""File discovery and block decoding against soundfile, and the failure of each broken file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

from seqdown.dataset.audio import (
    AUDIO_EXTENSIONS,
    AudioError,
    NonFiniteSamples,
    find_audio,
    open_audio,
)
from tests.conftest import BROKEN, FIXTURES, write_audio


def decode(path: Path, block_frames: int = 1000) -> tuple[list[np.ndarray], int]:
    with open_audio(path) as audio:
        blocks = list(audio.blocks(block_frames))
        return blocks, audio.frames_read


def test_find_audio_lists_the_fixtures_sorted_and_skips_non_audio():
    found = find_audio(FIXTURES)
    assert found == sorted(found)
    assert "notes.txt" not in found and ".hidden.wav" not in found
    assert "make_fixtures.py" not in found and "README.md" not in found
    assert "formats/UPPER.WAV" in found
    assert "formats/grüße aus köln.wav" in found
    assert "formats/ogg_opus.opus" in found
    # The reference: every non-hidden file with an audio extension, found by pathlib.
    expected = sorted(p.relative_to(FIXTURES).as_posix() for p in FIXTURES.rglob("*")
                      if p.is_file() and not p.name.startswith(".")
                      and p.suffix[1:].lower() in AUDIO_EXTENSIONS)
    assert found == expected
    assert len(found) == 87


def test_find_audio_exclude_hidden_folders_and_skip(tmp_path):
    for name in ["a/x.wav", "a/y.flac", "b/z.WAV", ".git/h.wav", "a/.h.wav", "out/o.wav",
                 "c/readme.txt", "wav"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    assert find_audio(tmp_path) == ["a/x.wav", "a/y.flac", "b/z.WAV", "out/o.wav"]
    assert find_audio(tmp_path, exclude=["a/*"]) == ["b/z.WAV", "out/o.wav"]
    assert find_audio(tmp_path, exclude=["*.flac", "b/*"]) == ["a/x.wav", "out/o.wav"]
    assert find_audio(tmp_path, skip=tmp_path / "out") == ["a/x.wav", "a/y.flac", "b/z.WAV"]


def test_find_audio_bad_root(tmp_path):
    with pytest.raises(NotADirectoryError, match="INPUT_DIR must be a folder"):
        find_audio(tmp_path / "missing")


GOOD = [name for name in find_audio(FIXTURES) if not name.startswith("broken/")]


@pytest.mark.parametrize("name", GOOD, ids=GOOD)
def test_blocks_equal_soundfile(name):
    path = FIXTURES / name
    reference, sample_rate = soundfile.read(path, dtype="float32", always_2d=True)
    with open_audio(path) as audio:
        assert audio.info.sample_rate == sample_rate
        assert audio.info.channels == reference.shape[1]
        blocks = list(audio.blocks(4096))
        assert audio.frames_read == reference.shape[0] == audio.info.frames
    assert all(b.dtype == np.float32 and b.shape[0] == reference.shape[1] for b in blocks)
    assert all(1 <= b.shape[1] <= 4096 for b in blocks)
    # libmpg123 rounds its float output differently when read in pieces: 1 ulp at most.
    atol = 2 ** -23 if name.endswith(".mp3") else 0.0
    np.testing.assert_allclose(np.concatenate(blocks, axis=1), reference.T, rtol=0, atol=atol)


@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE"])
def test_every_wav_width_decodes_to_float32(tmp_path, subtype):
    data = write_audio(tmp_path / "x.wav", 0.1, 11025, channels=3, subtype=subtype)
    blocks, frames = decode(tmp_path / "x.wav", 333)
    decoded = np.concatenate(blocks, axis=1)
    assert decoded.dtype == np.float32 and decoded.shape == (3, data.shape[0]) and frames == 1102
    step = {"PCM_U8": 2 ** -7, "PCM_16": 2 ** -15, "PCM_24": 2 ** -23}.get(subtype, 2 ** -24)
    np.testing.assert_allclose(decoded, data.T, atol=step)


@pytest.mark.parametrize("name", sorted(BROKEN), ids=sorted(BROKEN))
def test_each_broken_fixture_fails_with_its_class(name):
    with pytest.raises(AudioError) as caught:
        decode(FIXTURES / name)
    assert type(caught.value).__name__ == BROKEN[name]
    assert str(FIXTURES) not in str(caught.value)  # messages never hold absolute paths


def test_non_finite_message_names_the_sample(tmp_path):
    data = np.zeros((5000, 2), dtype=np.float32)
    data[3210, 1] = -np.inf
    soundfile.write(tmp_path / "x.wav", data, 8000, subtype="FLOAT")
    with pytest.raises(NonFiniteSamples, match=r"sample 3210 \(0.401 s\) of channel 1 is -inf"):
        decode(tmp_path / "x.wav", 1024)

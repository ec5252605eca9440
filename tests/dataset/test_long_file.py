"""Long files: streamed in blocks, equal to the one-shot computation, in bounded memory."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile
import torch
import torchaudio

import seqdown
from seqdown.dataset.pipeline import preprocess
from seqdown.dataset.settings import Settings
from seqdown.dataset.utterance import BLOCK_SAMPLES
from tests.conftest import ROOT, load, write_audio

pytestmark = pytest.mark.slow


def test_many_blocks_equal_the_one_shot_computation(tmp_path):
    seconds = 3.5 * (BLOCK_SAMPLES // 2) / 48000  # three and a half stereo decoding blocks
    write_audio(tmp_path / "audio" / "long.wav", seconds, 48000, channels=2, seed=5)
    preprocess(Settings.make(tmp_path / "audio", frontend="decimate:2"), tmp_path / "out")
    (record, array), = load(tmp_path / "out").values()
    data, _ = soundfile.read(tmp_path / "audio" / "long.wav", dtype="float32", always_2d=True)
    waveform = seqdown.resample(torch.from_numpy(data.T.copy()).mean(dim=0), 48000, 16000)
    mel = torchaudio.transforms.MelSpectrogram(16000, n_fft=400, hop_length=160, n_mels=80)
    reference = seqdown.Decimate(2)(torch.log(mel(waveform) + 1e-6)[None])[0][0]
    assert record.num_samples == waveform.shape[-1] and array.shape == reference.shape
    # Float32 rounding of the streamed resampler, magnified by the log near its floor.
    torch.testing.assert_close(array, reference, rtol=1e-4, atol=2e-3)


MEASURE = """
import json, os, resource, sys
import torch
from seqdown.dataset.settings import Settings
from seqdown.dataset.sources import folder_utterances
from seqdown.dataset.utterance import Job, process_file

torch.set_num_threads(1)
folder, out = sys.argv[1], sys.argv[2]
settings = Settings.make(folder, frontend="decimate:2")
peaks = []
for name in ["warm.wav", "long.wav"]:
    status = os.stat(os.path.join(folder, name))
    [utterance] = folder_utterances(folder, [name], {})
    result = process_file(Job(utterance, out, settings, status.st_size, status.st_mtime_ns))
    assert type(result).__name__ == "Entry", result
    peaks.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
print(json.dumps({"increase": peaks[1] - peaks[0], "shape": result.record.shape}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ru_maxrss in KiB on Linux")
def test_memory_does_not_grow_with_the_decoded_file(tmp_path):
    """3 min at 96 kHz, 4 channels: 276 MB as float32, 553 MB as float64, once decoded."""
    sample_rate, channels, seconds = 96000, 4, 180
    folder = tmp_path / "audio"
    write_audio(folder / "warm.wav", 5.0, sample_rate, channels=channels)
    rng = np.random.default_rng(0)
    with soundfile.SoundFile(folder / "long.wav", "w", sample_rate, channels, "PCM_16") as file:
        for _ in range(seconds // 10):  # written in pieces: the test itself stays small
            file.write((rng.standard_normal((10 * sample_rate, channels)) * 0.1)
                       .astype(np.float32))
    (tmp_path / "out" / "features").mkdir(parents=True)
    done = subprocess.run([sys.executable, "-c", MEASURE, str(folder), str(tmp_path / "out")],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, check=True)
    measured = json.loads(done.stdout)
    decoded_float32 = sample_rate * seconds * channels * 4
    assert measured["shape"] == [80, 9001]
    # Peak growth over a 5 s file of the same format: the features and buffers, never the
    # decoded audio (one float32 copy would add 276 MB). Measured: about 30 MB.
    assert measured["increase"] < decoded_float32 / 5, measured

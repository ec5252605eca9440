"""The examples run end to end in their fast mode, and print and write what they promise."""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import seqdown

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NUMBER = r"[-+]?\d+\.\d+(?:e[-+]\d+)?"


def run_example(name: str, *args: str) -> str:
    done = subprocess.run([sys.executable, str(EXAMPLES / name), *args], capture_output=True,
                          text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    return done.stdout


def assert_png(path: Path) -> None:
    from matplotlib.image import imread

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path
    height, width, _ = imread(path).shape
    assert height > 100 and width > 300


@pytest.mark.parametrize("name", ["seed_walkthrough.py", "aliasing_demo.py", "train_encoder.py",
                                  "unet_denoise.py", "streaming_encoder.py"])
def test_help(name):
    assert "--fast" in run_example(name, "--help")


def test_seed_walkthrough():
    out = run_example("seed_walkthrough.py", "--fast")
    lengths = torch.tensor([37, 30, 11])

    def printed(stage: str) -> list[int]:
        line = next(line for line in out.splitlines() if line.strip().startswith(stage))
        return [int(n) for n in re.search(r"lengths \[([\d, ]+)\]", line).group(1).split(", ")]

    assert printed("MaxPool(2)") == seqdown.MaxPool(2).output_length(lengths).tolist()
    for stage, frontend in [("AvgPool(3, stride=2, padding=1)", seqdown.AvgPool(3, 2, padding=1)),
                            ("StridedConv", seqdown.StridedConv(8, 16, 3, 2, padding=1))]:
        assert printed(stage) == frontend.output_length(lengths).tolist()
    assert "(3, 112)" in out  # PyramidPool: 16 channels x (4 + 2 + 1) bins per sequence
    assert "36 steps vs skip1's 37: torch.cat would fail" in out
    assert printed("head") == lengths.tolist()  # the U-Net gives every length back
    difference = float(re.search(rf"max difference ({NUMBER})", out).group(1))
    assert difference < 1e-5


def test_aliasing_demo(tmp_path):
    out = run_example("aliasing_demo.py", "--fast", "--out-dir", str(tmp_path))
    assert_png(tmp_path / "aliasing_chirp.png")
    assert_png(tmp_path / "aliasing_speech.png")
    rows = dict(re.findall(rf"^(\S+\(4\)|stride x\[::4\])\s+({NUMBER})\s+{NUMBER}$", out, re.M))
    rows_speech = dict(re.findall(rf"^(\S+\(4\)|stride x\[::4\])\s+{NUMBER}\s+({NUMBER})$", out,
                                  re.M))
    names = ["stride x[::4]", "MaxPool(4)", "AvgPool(4)", "BlurPool(4)", "Decimate(4)"]
    assert list(rows) == names and list(rows_speech) == names
    for table in (rows, rows_speech):
        levels = {name: float(value) for name, value in table.items()}
        # Decimate removes what cannot be represented; the others fold it back.
        assert levels["Decimate(4)"] < -40
        assert levels["Decimate(4)"] < min(v for k, v in levels.items() if k != "Decimate(4)") - 20
        assert levels["AvgPool(4)"] < levels["stride x[::4]"]  # the box filter helps a little
    # Three quarters of the chirp lie above the output Nyquist frequency: striding keeps
    # all of it, folded, about 3 times the energy of the representable quarter.
    assert float(rows["stride x[::4]"]) == pytest.approx(10 * math.log10(3), abs=0.5)


def accuracies(out: str) -> dict[str, str]:
    return dict(re.findall(r"^(\S+)\s+\d+\s+[\d.]+\s+(\d+/\d+) \(\d+%\)", out, re.M))


def test_train_encoder_is_reproducible():
    first = run_example("train_encoder.py", "--fast")
    second = run_example("train_encoder.py", "--fast")
    specs = ["none", "max:2", "avg:2", "conv:2", "decimate:2", "stack:2", "decimate:2+max:2"]
    assert list(accuracies(first)) == specs
    assert all(value.endswith("/20") for value in accuracies(first).values())  # one fold, 2 voices
    assert accuracies(first) == accuracies(second)
    steps = dict(re.findall(r"^(\S+)\s+\d+\s+([\d.]+)\s+\d+/", first, re.M))
    # Encoder steps per utterance follow the factor: about half, and a quarter, of 'none'.
    assert float(steps["max:2"]) == pytest.approx(float(steps["none"]) / 2, abs=1)
    assert float(steps["decimate:2+max:2"]) == pytest.approx(float(steps["none"]) / 4, abs=1)


def test_unet_denoise(tmp_path):
    out = run_example("unet_denoise.py", "--fast", "--out-dir", str(tmp_path))
    assert_png(tmp_path / "unet_denoise.png")
    snr = {name.strip(): float(mean) for name, mean in
           re.findall(rf"^(noisy input|low-pass\D+sinc|U-Net)\s+({NUMBER})\s+{NUMBER}\s+{NUMBER}$",
                      out, re.M)}
    assert list(snr) == ["noisy input", "low-pass: Decimate+Upsample sinc", "U-Net"]
    assert snr["noisy input"] == pytest.approx(5.0, abs=0.3)  # the noise is added at 5 dB
    assert snr["low-pass: Decimate+Upsample sinc"] > snr["noisy input"]
    difference = float(re.search(rf"max difference ({NUMBER})", out).group(1))
    assert difference < 1e-5  # an utterance alone equals the same in the padded batch


@pytest.mark.parametrize("causal", [False, True], ids=["lookahead", "causal"])
def test_streaming_encoder(causal):
    out = run_example("streaming_encoder.py", "--fast", *(["--causal"] if causal else []))
    rows = re.findall(rf"^(\w+_\w+)\s+(\d+)\s+(\d+)\s+{NUMBER}\s+{NUMBER}\s+({NUMBER})$", out,
                      re.M)
    assert len(rows) == 3  # --fast: three utterances
    for _, chunks, steps, difference in rows:
        # 40 ms chunks and one encoder step per 40 ms: about as many steps as chunks.
        assert abs(int(chunks) - int(steps)) <= 2
        assert float(difference) < 1e-5  # chunked == offline up to float32 rounding
    frontend = seqdown.Chain(seqdown.Decimate(2, causal=causal), seqdown.MaxPool(2))
    assert f"front-end lookahead {frontend.lookahead} frames" in out
    assert f"delay {frontend.delay} frames" in out

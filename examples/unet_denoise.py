"""A 1-D U-Net of seqdown front-ends and upsamplers that removes noise from speech.

The spoken digits of audio_fixtures/digits are resampled to 8 kHz. A two-level
U-Net (convolutions, a seqdown front-end to go down, ``Upsample`` or
``TransposedConv`` with ``target_length`` to come back up, skip connections)
learns to predict the white noise added to random odd-length crops of four
voices at 0 to 10 dB SNR. It is tested on whole utterances of the two other
voices, at their own (odd and even) lengths in one padded batch, at 5 dB SNR,
against the noisy input and a fixed low-pass (``Decimate(2)`` then
``Upsample(2, "sinc")``: everything above 2 kHz removed), which any learned
denoiser must beat to be worth its training.

Writes ``unet_denoise.png`` (spectrograms of one test utterance: clean, noisy,
low-pass, U-Net) into ``--out-dir`` and prints the SNRs.

    python examples/unet_denoise.py [--down decimate] [--up sinc] [--steps 300] [--fast]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import soundfile
import torch
import torch.nn.functional as F
from scipy import signal
from torch import Tensor, nn

import seqdown
from seqdown import TransposedConv, Upsample
from seqdown.analysis.plotting import new_figure

ROOT = Path(__file__).resolve().parents[1]
DIGITS = ROOT / "audio_fixtures" / "digits"
RATE = 8000
TEST_VOICES = ("m3", "f2")
TEST_SNR_DB = 5.0
UP_MODES = ("nearest", "linear", "sinc", "transposed")


def mask(lengths: Tensor, time: int) -> Tensor:
    """``(batch, 1, time)`` float mask of the valid samples."""
    return seqdown.lengths_to_mask(lengths, time)[:, None, :].float()


class Level(nn.Module):
    """Two 'same' convolutions with ReLU, on the valid steps of ``lengths`` only.

    The input is masked too: after ``torch.cat([up, skip])`` the valid steps are the
    skip's, and an upsampled item may reach one step further (Decimate rounds up:
    19 -> 10 -> 20 steps against a skip of 19), which must not leak into the conv.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.first = nn.Conv1d(in_channels, out_channels, 9, padding=4)
        self.second = nn.Conv1d(out_channels, out_channels, 9, padding=4)

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        valid = mask(lengths, x.shape[-1])
        return torch.relu(self.second(torch.relu(self.first(x * valid)) * valid)) * valid


class UNet(nn.Module):
    """Two levels down with ``down``, two up with ``up``; predicts the noise."""

    def __init__(self, down: str, up: str, width: int = 12) -> None:
        super().__init__()
        channels = [width, 2 * width, 4 * width]
        self.enc0, self.enc1 = Level(1, channels[0]), Level(channels[0], channels[1])
        self.bottom = Level(channels[1], channels[2])
        self.down0 = seqdown.build_frontend(f"{down}:2", channels=channels[0])
        self.down1 = seqdown.build_frontend(f"{down}:2", channels=channels[1])
        self.up1 = self.upsampler(up, channels[2])
        self.up0 = self.upsampler(up, channels[1])
        self.dec1 = Level(channels[2] + channels[1], channels[1])
        self.dec0 = Level(channels[1] + channels[0], channels[0])
        self.head = nn.Conv1d(channels[0], 1, 1)

    @staticmethod
    def upsampler(mode: str, channels: int) -> nn.Module:
        return TransposedConv(channels, channels, 2) if mode == "transposed" else Upsample(2, mode)

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        skip0 = self.enc0(x, lengths)
        half, half_lengths = self.down0(skip0, lengths)
        skip1 = self.enc1(half, half_lengths)
        quarter, quarter_lengths = self.down1(skip1, half_lengths)
        y = self.bottom(quarter, quarter_lengths)
        # target_length makes the upsampled steps line up with the skip, whatever
        # the rounding of the front-end (37 -> 19 -> 38 for Decimate, 37 -> 18 -> 36 for max).
        y = self.up1(y, quarter_lengths, target_length=skip1.shape[-1])[0]
        y = self.dec1(torch.cat([y, skip1], dim=1), half_lengths)
        y = self.up0(y, half_lengths, target_length=skip0.shape[-1])[0]
        y = self.dec0(torch.cat([y, skip0], dim=1), lengths)
        return x - self.head(y) * mask(lengths, x.shape[-1])


def load() -> dict[str, list[Tensor]]:
    """Voice -> the voice's utterances at 8 kHz, as 1-D float32 tensors."""
    voices: dict[str, list[Tensor]] = {}
    for path in sorted(DIGITS.glob("*.flac")):
        samples, rate = soundfile.read(path, dtype="float32")
        wave = seqdown.resample(torch.from_numpy(samples), rate, RATE)
        voices.setdefault(path.stem.split("_", 1)[1], []).append(wave)
    return voices


def pad(waves: list[Tensor]) -> tuple[Tensor, Tensor]:
    """``(batch, 1, longest)`` zero-padded, and the lengths."""
    lengths = torch.tensor([w.numel() for w in waves])
    x = torch.zeros(len(waves), 1, int(lengths.max()))
    for b, w in enumerate(waves):
        x[b, 0, : w.numel()] = w
    return x, lengths


def add_noise(clean: Tensor, lengths: Tensor, snr_db: Tensor, generator: torch.Generator
              ) -> Tensor:
    """``clean`` plus white noise at ``snr_db`` per item (over its valid samples)."""
    valid = mask(lengths, clean.shape[-1])
    power = (clean**2).sum(-1, keepdim=True) / lengths[:, None, None]
    noise = torch.randn(clean.shape, generator=generator) * valid
    return clean + noise * (power / 10 ** (snr_db[:, None, None] / 10)).sqrt()


def snr_db(estimate: Tensor, clean: Tensor) -> Tensor:
    """Per-item SNR of ``estimate`` against ``clean`` (padding is zero in both)."""
    error = ((estimate - clean) ** 2).sum((1, 2))
    return 10 * torch.log10((clean**2).sum((1, 2)) / error)


def crops(waves: list[Tensor], length: int, count: int, generator: torch.Generator
          ) -> tuple[Tensor, Tensor]:
    """``count`` random crops of at most ``length`` samples, padded."""
    picks = torch.randint(0, len(waves), (count,), generator=generator).tolist()
    out = []
    for i in picks:
        wave = waves[i]
        start = int(torch.randint(0, max(1, wave.numel() - length + 1), (1,), generator=generator))
        out.append(wave[start : start + length])
    return pad(out)


def plot(path: Path, clean: Tensor, signals: dict[str, Tensor], dpi: int) -> None:
    figure = new_figure(2.8 * (len(signals) + 1), 2.8)
    axes = figure.subplots(1, len(signals) + 1, sharey=True)
    top = None
    for ax, (title, wave) in zip(axes, {"clean": clean, **signals}.items(), strict=True):
        freqs, times, power = signal.spectrogram(wave.numpy(), RATE, nperseg=256, noverlap=192)
        level = 10 * np.log10(power + 1e-12)
        top = level.max() if top is None else top
        ax.pcolormesh(times, freqs / 1000, level, vmin=top - 70, vmax=top, shading="auto",
                      cmap="magma")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("time (s)")
    axes[0].set_ylabel("frequency (kHz)")
    figure.savefig(path, dpi=dpi)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--down", choices=["decimate", "max", "avg", "blur"], default="decimate",
                        help="front-end that halves the length at each level (default decimate)")
    parser.add_argument("--up", choices=UP_MODES, default="sinc",
                        help="Upsample mode, or a learnable TransposedConv (default sinc)")
    parser.add_argument("--steps", type=int, default=300, help="training steps (default 300)")
    parser.add_argument("--seed", type=int, default=0, help="seed of weights, crops and noise")
    parser.add_argument("--out-dir", type=Path, default=Path("."),
                        help="folder for unet_denoise.png (default: the current folder)")
    parser.add_argument("--fast", action="store_true",
                        help="10 short steps: checks the pipeline only, the SNRs mean little")
    args = parser.parse_args(argv)
    steps, crop = (10, 511) if args.fast else (args.steps, 1023)
    torch.manual_seed(args.seed)
    generator = torch.Generator().manual_seed(args.seed)
    voices = load()
    train_waves = [w for voice, waves in voices.items() if voice not in TEST_VOICES for w in waves]
    test_waves = [w for voice in TEST_VOICES for w in voices[voice]]

    model = UNet(args.down, args.up)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    start = time.perf_counter()
    for _ in range(steps):
        clean, lengths = crops(train_waves, crop, 16, generator)
        noisy = add_noise(clean, lengths, torch.rand(16, generator=generator) * 10, generator)
        loss = F.mse_loss(model(noisy, lengths), clean, reduction="sum") / lengths.sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    seconds = time.perf_counter() - start

    clean, lengths = pad(test_waves)
    noisy = add_noise(clean, lengths, torch.full((len(test_waves),), TEST_SNR_DB), generator)
    valid = mask(lengths, clean.shape[-1])
    with torch.no_grad():
        denoised = model.eval()(noisy, lengths)
        lowpass = seqdown.Decimate(2)(noisy, lengths)
        lowpass = Upsample(2, "sinc")(*lowpass, target_length=clean.shape[-1])[0] * valid
    parameters = sum(p.numel() for p in model.parameters())
    print(f"held-out voices {', '.join(TEST_VOICES)}: {len(test_waves)} utterances at {RATE} Hz, "
          f"{int(lengths.min())} to {int(lengths.max())} samples, white noise at "
          f"{TEST_SNR_DB:g} dB SNR")
    print(f"U-Net: {args.down}:2 down, {args.up} up, 2 levels, {parameters} parameters; "
          f"{steps} steps of 16 crops of {crop} samples in {seconds:.1f} s")
    short = int(lengths.argmin())
    n = int(lengths[short])
    with torch.no_grad():
        alone = model(noisy[short : short + 1, :, :n], lengths[short : short + 1])
    print(f"shortest utterance ({n} samples) alone vs in the padded batch: max difference "
          f"{float((alone - denoised[short, :, :n]).abs().max()):.1e}")
    print(f"\n{'':<34}{'SNR (dB), mean':>15}{'min':>7}{'max':>7}")
    for name, estimate in [("noisy input", noisy * valid), ("low-pass: Decimate+Upsample sinc",
                                                             lowpass), ("U-Net", denoised)]:
        snr = snr_db(estimate, clean)
        print(f"{name:<34}{float(snr.mean()):>15.1f}{float(snr.min()):>7.1f}"
              f"{float(snr.max()):>7.1f}")
    if args.fast:
        print("--fast: 10 training steps, the U-Net's SNR means little.")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    n = int(lengths[0])
    plot(args.out_dir / "unet_denoise.png", clean[0, 0, :n],
         {"noisy": noisy[0, 0, :n], "low-pass": lowpass[0, 0, :n], "U-Net": denoised[0, 0, :n]},
         60 if args.fast else 100)
    print(f"wrote {args.out_dir / 'unet_denoise.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

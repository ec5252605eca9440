"""What five ways of downsampling do to a chirp and to speech: spectrograms and alias energy.

A linear chirp (0 to 22.05 kHz at 44.1 kHz) and a spoken sentence (22.05 kHz)
from audio_fixtures/ go through naive striding (``x[::factor]``), max pooling,
average pooling, blur pooling and Decimate. Everything the input holds above the
output Nyquist frequency cannot be represented after downsampling; an ideal
downsampler removes it, the others fold it back as aliases.

Alias energy: the input is split exactly (FFT, brick wall) into ``low``, below
the output Nyquist frequency, and the rest. The alias is what the rest changes
in the output, ``d(x) - d(low)``, and its energy is given in dB re that of
``d(low)``, the output the representable content would give alone. For linear
front-ends it is exactly the output of the rest; for max pooling it also holds
what the rest does to the max. Max and blur pooling are meant for feature maps;
on a waveform their max rectifies the high band, which is why BlurPool's blur
does not help here as it does for shift consistency (``seqdown analyze``).

Writes ``aliasing_chirp.png`` and ``aliasing_speech.png`` (spectrograms side by
side) into ``--out-dir`` and prints the alias energy of each front-end.

    python examples/aliasing_demo.py [--factor 4] [--out-dir .] [--fast]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile
import torch
from scipy import signal

import seqdown
from seqdown.analysis.plotting import new_figure

ROOT = Path(__file__).resolve().parents[1]
SIGNALS = {
    "chirp": ROOT / "audio_fixtures" / "signals" / "chirp_linear_44k1_pcm24.wav",
    "speech": ROOT / "audio_fixtures" / "signals" / "speech_fox_22k.wav",
}
Downsampler = Callable[[np.ndarray], np.ndarray]


def frontends(factor: int) -> dict[str, Downsampler]:
    """Name -> function of a float64 waveform, each shortening it by ``factor``."""

    def module(frontend: seqdown.FrontEnd) -> Downsampler:
        def run(x: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                return frontend(torch.from_numpy(x)[None, None])[0][0, 0].numpy()

        return run

    return {
        f"stride x[::{factor}]": lambda x: x[::factor],
        f"MaxPool({factor})": module(seqdown.MaxPool(factor).double()),
        f"AvgPool({factor})": module(seqdown.AvgPool(factor).double()),
        f"BlurPool({factor})": module(seqdown.BlurPool(factor).double()),
        f"Decimate({factor})": module(seqdown.Decimate(factor).double()),
    }


def low_band(x: np.ndarray, fraction: float) -> np.ndarray:
    """``x`` with every DFT bin at or above ``fraction`` of its Nyquist frequency zeroed."""
    spectrum = np.fft.rfft(x)
    spectrum[np.arange(spectrum.size) >= fraction * (spectrum.size - 1)] = 0
    return np.fft.irfft(spectrum, x.size)


def alias_db(downsample: Downsampler, x: np.ndarray, factor: int) -> float:
    """Energy of ``d(x) - d(low)`` in dB re that of ``d(low)`` (see the module notes)."""
    wanted = downsample(low_band(x, 1 / factor))
    alias = downsample(x) - wanted
    return float(10 * np.log10((alias**2).sum() / (wanted**2).sum() + 1e-30))


def spectrogram_db(x: np.ndarray, sample_rate: float) -> tuple[np.ndarray, ...]:
    """Frequencies (kHz), times (s) and power (dB, 'spectrum' scaling) of about 23 ms frames."""
    nperseg = max(32, 2 ** round(np.log2(0.023 * sample_rate)))
    freqs, times, power = signal.spectrogram(x, sample_rate, nperseg=nperseg,
                                             noverlap=3 * nperseg // 4, scaling="spectrum")
    return freqs / 1000, times, 10 * np.log10(power + 1e-20)


def plot(name: str, x: np.ndarray, sample_rate: int, outputs: dict[str, np.ndarray],
         levels: dict[str, float], factor: int, path: Path, dpi: int) -> None:
    """Input and every output as spectrograms in one row, on a common colour scale."""
    figure = new_figure(2.6 * (len(outputs) + 1), 3.4)
    axes = figure.subplots(1, len(outputs) + 1)
    freqs, times, power = spectrogram_db(x, sample_rate)
    top = power.max()
    columns = [("input", power, freqs, times, sample_rate)]
    for label, y in outputs.items():
        f, t, level = spectrogram_db(y, sample_rate / factor)
        columns.append((f"{label}\nalias {levels[label]:+.1f} dB", level, f, t,
                        sample_rate / factor))
    for ax, (title, level, f, t, rate) in zip(axes, columns, strict=True):
        mesh = ax.pcolormesh(t, f, level, vmin=top - 90, vmax=top, shading="auto", cmap="magma")
        ax.set_title(title, fontsize=8)
        ax.set_ylim(0, rate / 2000)
        ax.set_xlabel("time (s)")
    axes[0].axhline(sample_rate / factor / 2000, color="w", linestyle="--", linewidth=1)
    axes[0].set_ylabel("frequency (kHz)")
    figure.colorbar(mesh, ax=axes, label="dB", shrink=0.8)
    figure.suptitle(f"{name}: {sample_rate} Hz -> {sample_rate / factor:g} Hz (factor {factor})",
                    fontsize=10)
    figure.savefig(path, dpi=dpi)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--factor", type=int, default=4, help="downsampling factor (default 4)")
    parser.add_argument("--out-dir", type=Path, default=Path("."),
                        help="folder for the PNGs (default: the current folder)")
    parser.add_argument("--fast", action="store_true",
                        help="the first second of speech and low-resolution pictures")
    args = parser.parse_args(argv)
    if args.factor < 2:
        parser.error(f"--factor must be an integer >= 2, got {args.factor}")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    downsamplers = frontends(args.factor)
    table: dict[str, dict[str, float]] = {label: {} for label in downsamplers}
    for name, path in SIGNALS.items():
        x, sample_rate = soundfile.read(path, dtype="float64", always_2d=True)
        x = x.mean(axis=1)[: sample_rate if args.fast else None]
        # 20 ms fades, so that the abrupt ends of the chirp add no broadband click.
        fade = np.hanning(2 * round(0.02 * sample_rate))
        x[: fade.size // 2] *= fade[: fade.size // 2]
        x[-(fade.size // 2) :] *= fade[fade.size // 2 :]
        outputs = {label: d(x) for label, d in downsamplers.items()}
        for label, d in downsamplers.items():
            table[label][name] = alias_db(d, x, args.factor)
        levels = {label: row[name] for label, row in table.items()}
        image = args.out_dir / f"aliasing_{name}.png"
        plot(name, x, sample_rate, outputs, levels, args.factor, image, 60 if args.fast else 110)
        print(f"wrote {image}")
    print(f"\nalias energy, dB re the output of the representable band (factor {args.factor})")
    print(f"{'front-end':<16}" + "".join(f"{name:>10}" for name in SIGNALS))
    for label, row in table.items():
        print(f"{label:<16}" + "".join(f"{row[name]:>+10.1f}" for name in SIGNALS))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

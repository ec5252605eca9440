"""Train a small spoken-digit classifier once per front-end: accuracy against compute.

The 60 spoken digits in audio_fixtures/digits (ten words, six synthetic voices,
8 to 22.05 kHz) are resampled to 16 kHz with ``seqdown.resample`` and turned
into 40 log-mels every 10 ms, normalised per utterance and channel. For each
front-end, an ``RNNEncoder`` (front-end, then a 64-unit GRU) followed by a mean
over the valid steps and a linear layer is trained from the same seed, with
held-out voices: three folds, each training on four voices and testing on the
other two, so every utterance is tested once by a model that never heard its
voice. Training uses light augmentation: copies of each training utterance
resampled to 0.9 and 1.1 times the rate (tempo and pitch), and one time and
one frequency mask per example.

Printed per front-end: accuracy on the 60 held-out utterances, the encoder
steps per utterance, the training time (all folds) and the encoder's forward
time per batch of 32 utterances. Seeded: the same machine and thread count
give the same accuracies. With 60 test utterances, a difference of one or two
utterances is noise.

    python examples/train_encoder.py [--epochs 20] [--seed 0] [--fast]
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import soundfile
import torch
import torch.nn.functional as F
from torch import Tensor, nn

import seqdown
from seqdown.dataset.features import FeatureSpec, compute_features

ROOT = Path(__file__).resolve().parents[1]
DIGITS = ROOT / "audio_fixtures" / "digits"
WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
FOLDS = [("m3", "f2"), ("us", "klatt"), ("f4", "gbm1")]  # held-out voices per fold
FRONTENDS = ["none", "max:2", "avg:2", "conv:2", "decimate:2", "stack:2", "decimate:2+max:2"]
RATE = 16000
SPEC = FeatureSpec("logmel", RATE, n_mels=40)
SPEEDS = {0.9: 14400, 1.1: 17600}  # resample to this rate and read it as 16 kHz


@dataclass
class Utterance:
    label: int
    voice: str
    features: Tensor  # (n_mels, frames)


def logmel(wave: Tensor) -> Tensor:
    """40 log-mels of a ``(1, time)`` 16 kHz waveform, mean-normalised per channel."""
    features = compute_features(wave, SPEC)
    return features - features.mean(dim=-1, keepdim=True)


def load(perturb: bool) -> tuple[list[Utterance], list[Utterance]]:
    """Every utterance as recorded, and its tempo-perturbed copies (training only)."""
    plain, perturbed = [], []
    for path in sorted(DIGITS.glob("*.flac")):
        word, voice = path.stem.split("_", 1)
        samples, rate = soundfile.read(path, dtype="float32")
        wave = seqdown.resample(torch.from_numpy(samples)[None], rate, RATE)
        plain.append(Utterance(WORDS.index(word), voice, logmel(wave)))
        for new_rate in SPEEDS.values() if perturb else ():
            copy = logmel(seqdown.resample(wave, RATE, new_rate))
            perturbed.append(Utterance(WORDS.index(word), voice, copy))
    return plain, perturbed


def batch(items: list[Utterance], generator: torch.Generator | None = None
          ) -> tuple[Tensor, Tensor, Tensor]:
    """Pads features to ``(batch, n_mels, frames)``; with a generator, masks one band and span."""
    lengths = torch.tensor([item.features.shape[-1] for item in items])
    x = torch.zeros(len(items), SPEC.n_mels, int(lengths.max()))
    for b, item in enumerate(items):
        x[b, :, : lengths[b]] = item.features
        if generator is not None:
            band, span = torch.randint(0, 6, (2,), generator=generator).tolist()
            low = int(torch.randint(0, SPEC.n_mels - band, (1,), generator=generator))
            start = int(torch.randint(0, max(1, int(lengths[b]) - span), (1,), generator=generator))
            x[b, low : low + band, :] = 0
            x[b, :, start : start + span] = 0
    return x, lengths, torch.tensor([item.label for item in items])


class DigitClassifier(nn.Module):
    """RNNEncoder, mean over the valid output steps, linear layer."""

    def __init__(self, frontend: str) -> None:
        super().__init__()
        self.encoder = seqdown.RNNEncoder(SPEC.n_mels, 64, frontend=frontend, rnn="gru")
        self.head = nn.Linear(64, len(WORDS))

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        states, steps = self.encoder(x, lengths)  # (batch, steps, 64)
        mask = seqdown.lengths_to_mask(steps, states.shape[1])[..., None].to(states.dtype)
        return self.head((states * mask).sum(1) / steps.clamp(min=1)[:, None])


def train(frontend: str, train_set: list[Utterance], epochs: int, seed: int) -> DigitClassifier:
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = DigitClassifier(frontend)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(epochs):
        order = torch.randperm(len(train_set), generator=generator).tolist()
        for start in range(0, len(order), 16):
            x, lengths, labels = batch([train_set[i] for i in order[start : start + 16]],
                                       generator)
            loss = F.cross_entropy(model(x, lengths), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model.eval()


def encoder_ms(model: DigitClassifier, items: list[Utterance], repeats: int) -> float:
    """Median forward time of the encoder on one padded batch, in milliseconds."""
    x, lengths, _ = batch(items)
    times = []
    with torch.no_grad():
        for _ in range(repeats + 1):  # the first run warms up
            start = time.perf_counter()
            model.encoder(x, lengths)
            times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times[1:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=20, help="training epochs (default 20)")
    parser.add_argument("--seed", type=int, default=0, help="seed of weights, order, masks")
    parser.add_argument("--fast", action="store_true",
                        help="one fold, 2 epochs, no tempo copies: checks the pipeline only, "
                             "the accuracies mean nothing")
    args = parser.parse_args(argv)
    epochs, folds = (2, FOLDS[:1]) if args.fast else (args.epochs, FOLDS)
    plain, perturbed = load(perturb=not args.fast)
    tested = [u for u in plain if any(u.voice in held for held in folds)]
    print(f"{len(plain)} utterances, {len(plain) // len(WORDS)} voices; {len(folds)} fold(s) "
          f"with 2 held-out voices each; {epochs} epochs; seed {args.seed}; "
          f"{torch.get_num_threads()} threads")
    header = (f"{'front-end':<18}{'factor':>7}{'steps/utt':>11}{'accuracy':>17}"
              f"{'train s':>9}{'encoder ms/batch':>18}")
    print(header)
    for spec in FRONTENDS:
        correct, seconds = 0, 0.0
        for fold, held in enumerate(folds):
            train_set = [u for u in plain + perturbed if u.voice not in held]
            test_set = [u for u in plain if u.voice in held]
            start = time.perf_counter()
            model = train(spec, train_set, epochs, seed=1000 * args.seed + fold)
            seconds += time.perf_counter() - start
            with torch.no_grad():
                x, lengths, labels = batch(test_set)
                correct += int((model(x, lengths).argmax(-1) == labels).sum())
        steps = model.encoder.output_length(batch(tested)[1]).double().mean()
        accuracy = f"{correct}/{len(tested)} ({100 * correct / len(tested):.0f}%)"
        milliseconds = encoder_ms(model, tested[:32], repeats=3 if args.fast else 20)
        print(f"{spec:<18}{model.encoder.factor!s:>7}{float(steps):>11.1f}{accuracy:>17}"
              f"{seconds:>9.1f}{milliseconds:>18.2f}")
    print("\naccuracy: held-out voices; a difference of one or two utterances is noise."
          + ("\n--fast: 2 epochs on one fold, the accuracies mean nothing." if args.fast else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

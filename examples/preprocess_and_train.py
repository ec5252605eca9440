"""Preprocess spoken digits with seqdown, then train a small digit classifier on them.

The whole path a speech engineer takes:

1. ``seqdown preprocess`` (here through its library function; the equivalent
   command is printed): decode ``audio_fixtures/digits`` (8 to 22.05 kHz FLAC),
   resample to 16 kHz with seqdown's anti-aliasing ``Resample``, 80 log-mels
   every 10 ms, shortened by ``decimate:2`` to 50 frames per second.
2. ``ManifestDataset`` + ``collate`` in a ``DataLoader``: padded
   ``(batch, 80, time)`` batches with exact ``lengths``.
3. ``RNNEncoder`` (another ``max:2`` inside the model: 25 steps per second),
   a mean over each item's valid steps, and a linear layer over the ten digits,
   trained on five espeak-ng voices and tested on the sixth.

Run ``python examples/preprocess_and_train.py`` (about a minute on a laptop CPU) or
with ``--fast`` (a few seconds: one epoch, for the test suite).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Subset

import seqdown
from seqdown.dataset import ManifestDataset, Settings, collate, preprocess

ROOT = Path(__file__).resolve().parents[1]
DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


class DigitClassifier(nn.Module):
    """RNNEncoder, then the mean over valid steps, then one logit per digit.

    Shape:
        - features: ``(batch, 80, time)``; lengths: int64 ``(batch,)``.
        - logits: ``(batch, 10)``.
    """

    def __init__(self, hidden_size: int = 64) -> None:
        super().__init__()
        self.encoder = seqdown.RNNEncoder(80, hidden_size, frontend="max:2", rnn="gru")
        self.head = nn.Linear(hidden_size, len(DIGITS))

    def forward(self, features: Tensor, lengths: Tensor) -> Tensor:
        encoded, out_lengths = self.encoder(features, lengths)  # (batch, steps, hidden)
        mask = seqdown.lengths_to_mask(out_lengths, encoded.shape[1])[..., None]
        pooled = (encoded * mask).sum(dim=1) / out_lengths.clamp(min=1)[:, None]
        return self.head(pooled)


def label_of(source: str) -> int:
    """The digit of ``digits/<label>_<speaker>.flac``."""
    return DIGITS.index(Path(source).name.split("_")[0])


def speaker_of(source: str) -> str:
    return Path(source).stem.split("_")[1]


def shown(path: Path) -> str:
    """``path`` relative to the working folder when it lies below it."""
    absolute = path.absolute()
    return os.path.relpath(absolute) if absolute.is_relative_to(Path.cwd()) else str(path)


def labels(records: list) -> Tensor:
    return torch.tensor([label_of(record.source) for record in records])


def accuracy(model: nn.Module, loader: DataLoader) -> float:
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for features, lengths, records in loader:
            predicted = model(features, lengths).argmax(dim=1)
            correct += int((predicted == labels(records)).sum())
            total += len(records)
    return correct / max(total, 1)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", type=Path, default=ROOT / "audio_fixtures" / "digits",
                        help="folder of <digit>_<speaker>.<ext> files (default: %(default)s)")
    parser.add_argument("--output", type=Path, default=ROOT / "build" / "digits",
                        help="dataset folder to write or resume (default: %(default)s)")
    parser.add_argument("--frontend", default="decimate:2",
                        help="front-end applied while preprocessing (default: %(default)s)")
    parser.add_argument("--test-speaker", default="klatt",
                        help="voice held out for testing (default: %(default)s)")
    parser.add_argument("--epochs", type=int, default=40, help="(default: %(default)s)")
    parser.add_argument("--workers", type=int, default=1,
                        help="preprocessing processes (default: %(default)s)")
    parser.add_argument("--fast", action="store_true",
                        help="one epoch, to check that everything runs (seconds)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.manual_seed(0)
    settings = Settings.make(args.input, sample_rate=16000, features="logmel",
                             frontend=args.frontend)
    print(f"1. seqdown preprocess {shown(args.input)} {shown(args.output)} "
          f"--sample-rate 16000 --features logmel --frontend {args.frontend}")
    summary = preprocess(settings, args.output, workers=args.workers)
    print(f"   {summary.line()}")

    dataset = ManifestDataset(args.output / "manifest.jsonl")
    sources = [record.source for record in dataset.records]
    test = [i for i, source in enumerate(sources) if speaker_of(source) == args.test_speaker]
    train = [i for i in range(len(dataset)) if i not in set(test)]
    train_loader = DataLoader(Subset(dataset, train), batch_size=8, shuffle=True,
                              collate_fn=collate)
    test_loader = DataLoader(Subset(dataset, test), batch_size=8, collate_fn=collate)
    features, lengths, records = next(iter(train_loader))
    print(f"2. {len(train)} training and {len(test)} test utterances "
          f"(held-out voice: {args.test_speaker}); a batch:")
    print(f"   features {tuple(features.shape)} {features.dtype}, lengths {lengths.tolist()}")
    print(f"   = num_frames {[r.num_frames for r in records]} of the manifest")

    model = DigitClassifier()
    encoded, out_lengths = model.encoder(features, lengths)
    print(f"3. RNNEncoder with its own max:2 (factor {model.encoder.factor}): "
          f"output {tuple(encoded.shape)}, lengths {out_lengths.tolist()}")
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    epochs = 1 if args.fast else args.epochs
    start = time.monotonic()
    for epoch in range(1, epochs + 1):
        model.train()
        total = 0.0
        for features, lengths, records in train_loader:
            loss = nn.functional.cross_entropy(model(features, lengths), labels(records))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(records)
        if epoch == epochs or epoch % 10 == 0:
            print(f"   epoch {epoch:3d}: training loss {total / len(train):.3f}")
    print(f"4. after {epochs} epochs ({time.monotonic() - start:.1f} s): accuracy "
          f"{accuracy(model, train_loader):.0%} on training voices, "
          f"{accuracy(model, test_loader):.0%} on the held-out voice (chance: 10%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The classic image-style downsampling examples, brought to 1-D sequences of any length.

Runs, on a padded batch of three sequences of odd lengths (37, 30 and 11 steps):

1. max and average pooling;
2. a strided convolution with BatchNorm and ReLU (BatchNorm statistics taken over
   the valid steps only, so that the padding does not bias them);
3. spatial pyramid pooling into one fixed-size vector per sequence;
4. a small 1-D U-Net with a max-pool encoder and a transposed-conv decoder, whose
   skip connections line up although 37 is odd (``target_length``).

It prints the shape and the lengths of the padded batch after every stage, and
checks that each sequence's U-Net output equals that of the sequence alone.

    python examples/seed_walkthrough.py [--fast] [--seed 0]
"""

from __future__ import annotations

import argparse

import torch
from torch import Tensor, nn

import seqdown
from seqdown import TransposedConv

LENGTHS = [37, 30, 11]
CHANNELS = 8


def show(stage: str, y: Tensor, lengths: Tensor | None) -> None:
    """One line: the stage, the padded batch's shape, and the valid lengths."""
    valid = "-" if lengths is None else str(lengths.tolist())
    print(f"  {stage:<44} {tuple(y.shape)!s:<16} lengths {valid}")


def keep_valid(x: Tensor, lengths: Tensor) -> Tensor:
    """Zeroes the padding, which a bias or a ReLU would have made non-zero."""
    return x * seqdown.lengths_to_mask(lengths, x.shape[-1])[:, None, :].to(x.dtype)


class MaskedBatchNorm(nn.BatchNorm1d):
    """BatchNorm1d whose training statistics come from the valid steps only."""

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:  # type: ignore[override]
        mask = seqdown.lengths_to_mask(lengths, x.shape[-1])  # (batch, time)
        steps = x.transpose(1, 2)  # (batch, time, channels)
        out = torch.zeros_like(steps)
        out[mask] = super().forward(steps[mask])  # (valid steps, channels)
        return out.transpose(1, 2)


class ConvBlock(nn.Module):
    """Conv1d with 'same' padding and ReLU on the valid steps of ``lengths`` only.

    The input is masked as well as the output: after ``torch.cat([up, skip])`` the
    valid steps are the skip's, and an upsampled item may reach further when the
    front-end rounds up (Decimate: 37 -> 19 -> 38).
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(in_channels, out_channels, 3, padding=1)

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        return keep_valid(torch.relu(self.conv(keep_valid(x, lengths))), lengths)


class UNet(nn.Module):
    """Two max-pool levels down, two transposed convolutions up, skips concatenated."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.enc1, self.enc2 = ConvBlock(channels, 16), ConvBlock(16, 32)
        self.pool1, self.pool2 = seqdown.MaxPool(2), seqdown.MaxPool(2)
        self.bottom = ConvBlock(32, 32)
        self.up2, self.dec2 = TransposedConv(32, 32, 2), ConvBlock(64, 16)
        self.up1, self.dec1 = TransposedConv(16, 16, 2), ConvBlock(32, 16)
        self.head = nn.Conv1d(16, channels, 1)

    def forward(self, x: Tensor, lengths: Tensor, verbose: bool = False) -> Tensor:
        log = show if verbose else (lambda *args: None)
        skip1 = self.enc1(x, lengths)
        log("enc1: Conv1d(8->16, k=3) + ReLU", skip1, lengths)
        x, lengths2 = self.pool1(skip1, lengths)
        log("pool1: MaxPool(2)", x, lengths2)
        skip2 = self.enc2(x, lengths2)
        log("enc2: Conv1d(16->32, k=3) + ReLU", skip2, lengths2)
        x, lengths4 = self.pool2(skip2, lengths2)
        log("pool2: MaxPool(2)", x, lengths4)
        bottom = self.bottom(x, lengths4)
        log("bottom: Conv1d(32->32, k=3) + ReLU", bottom, lengths4)
        x, up_lengths = self.up2(bottom, lengths4, target_length=skip2.shape[-1])
        log(f"up2: TransposedConv(32->32, 2), target {skip2.shape[-1]}", x, up_lengths)
        x = self.dec2(torch.cat([x, skip2], dim=1), lengths2)
        log("dec2: cat(up2, skip2) -> Conv1d(64->16)", x, lengths2)
        if verbose:
            alone, alone_lengths = self.up1(x, lengths2)
            log("up1 without target_length", alone, alone_lengths)
            print(f"  {'':<44} {alone.shape[-1]} steps vs skip1's {skip1.shape[-1]}: "
                  "torch.cat would fail")
        x, up_lengths = self.up1(x, lengths2, target_length=skip1.shape[-1])
        log(f"up1: TransposedConv(16->16, 2), target {skip1.shape[-1]}", x, up_lengths)
        x = self.dec1(torch.cat([x, skip1], dim=1), lengths)
        log("dec1: cat(up1, skip1) -> Conv1d(32->16)", x, lengths)
        y = keep_valid(self.head(x), lengths)
        log("head: Conv1d(16->8, k=1)", y, lengths)
        return y


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fast", action="store_true",
                        help="accepted for symmetry with the other examples (this one is fast)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the data and the weights")
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)
    lengths = torch.tensor(LENGTHS)
    x = keep_valid(torch.randn(len(LENGTHS), CHANNELS, max(LENGTHS)), lengths)

    print("1. Pooling a padded batch")
    show("input", x, lengths)
    for name, frontend in [("MaxPool(2)", seqdown.MaxPool(2)),
                           ("AvgPool(3, stride=2, padding=1)", seqdown.AvgPool(3, 2, padding=1)),
                           ("MaxPool(3, stride=2, ceil_mode=True)",
                            seqdown.MaxPool(3, 2, ceil_mode=True))]:
        show(name, *frontend(x, lengths))

    print("\n2. Strided convolution + BatchNorm + ReLU")
    conv = seqdown.StridedConv(CHANNELS, 16, kernel_size=3, stride=2, padding=1)
    norm = MaskedBatchNorm(16)
    y, conv_lengths = conv(x, lengths)
    show("StridedConv(8->16, k=3, stride=2, padding=1)", y, conv_lengths)
    y = norm(y, conv_lengths)
    show("BatchNorm over the valid steps", y, conv_lengths)
    y = keep_valid(torch.relu(y), conv_lengths)
    show("ReLU, padding re-zeroed", y, conv_lengths)

    print("\n3. Spatial pyramid pooling: one vector per sequence, whatever its length")
    levels = (4, 2, 1)
    pooled, _ = seqdown.PyramidPool(levels)(y, conv_lengths)
    show(f"PyramidPool({levels}): 16 x {sum(levels)} values", pooled, None)

    print("\n4. 1-D U-Net on odd lengths (max-pool down, transposed conv up)")
    unet = UNet(CHANNELS)
    show("input", x, lengths)
    with torch.no_grad():
        out = unet(x, lengths, verbose=True)
        worst = max(float((unet(x[b : b + 1, :, :n], lengths[b : b + 1])
                           - out[b : b + 1, :, :n]).abs().max())
                    for b, n in enumerate(LENGTHS))
    print("  (an odd item's last step has no upsampled counterpart: up lengths [36, 30, 10]\n"
          "   against skip lengths [37, 30, 11]; the decoder sees zeros there)")
    print(f"\nEach sequence's U-Net output equals the sequence alone: max difference {worst:.1e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

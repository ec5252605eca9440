"""``seqdown analyze``: measure front-ends and print, save or plot the figures.

A thin wrapper over :func:`seqdown.analysis.measure`: builds each spec with
:func:`seqdown.frontends.chain.build_frontend` (learnable ``conv`` with the initial
weights that ``--seed`` gives), prints one row per spec, and optionally writes
the figures as JSON (``{spec: measure(...).as_dict()}``) and a PNG of the
magnitude responses and alias spectra side by side.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seqdown.analysis.bands import ALIAS_EDGES, PASSBAND_EDGES, alias_key, edge_label, passband_key

if TYPE_CHECKING:
    from seqdown.analysis.measurement import Measurement

__all__ = ["add_parser", "format_table", "run"]

#: Table columns: header, key in Measurement.as_dict(), format.
_COLUMNS = (
    ("factor", "factor", "{}"),
    ("rf", "receptive_field", "{}"),
    ("min_len", "min_length", "{}"),
    ("delay", "delay_samples", "{:+.2f}"),
    *((f"pass<={edge_label(edge)}", passband_key(edge), "{:+.2f}") for edge in PASSBAND_EDGES),
    *((f"alias>={edge_label(edge)}", alias_key(edge), "{:+.1f}") for edge in ALIAS_EDGES),
    (f"dc>={edge_label(ALIAS_EDGES[0])}", alias_key(ALIAS_EDGES[0], "dc"), "{:+.1f}"),
    ("shift", "shift_change_db", "{:+.1f}"),
)

_LEGEND = """\
rf, min_len, delay: in input samples (delay < 0: output step t summarises input after t * factor).
pass<=r: the gain (dB) furthest from 0 for tones up to r x the output Nyquist frequency.
alias>=r: the loudest alias (dB re the input tone; DC apart) of tones at or above r x the output
          Nyquist frequency; dc>=1.0: the largest DC offset they leave (a max rectifies them;
          figures 90 dB or more below the alias are the measuring window's leakage).
shift: output change (dB re its energy) when the input moves by one sample, beyond the ideal
       1/factor-step delay (Zhang 2019); lower is more shift-consistent."""


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Registers ``analyze`` and its arguments; sets ``run`` as its function."""
    parser = subparsers.add_parser(
        "analyze",
        help="measure the aliasing, passband and shift consistency of front-ends",
        description="Measure front-end specs with test tones and print a table: factor, "
                    "receptive field, minimum length, delay, passband deviation, worst alias "
                    "and shift consistency. Gains are in dB (negative = attenuation).",
        epilog="example: seqdown analyze max:2 avg:2 blur:2 decimate:2 stack:2 --plot cmp.png",
    )
    parser.add_argument("specs", nargs="+", metavar="SPEC",
                        help="front-end spec as for build_frontend, e.g. decimate:2+max:2")
    parser.add_argument("--sample-rate", type=float, default=16000.0, metavar="HZ",
                        help="input sample rate in Hz (default: 16000)")
    parser.add_argument("--channels", type=int, default=1, metavar="N",
                        help="input channels, for conv (default: 1)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed for the initial weights of learnable front-ends (default: 0)")
    parser.add_argument("--plot", type=Path, metavar="FILE.png",
                        help="write the magnitude responses and alias spectra to this image "
                             "(needs the 'plot' extra: pip install 'seqdown[plot]')")
    parser.add_argument("--json", type=Path, metavar="FILE",
                        help="write the figures as JSON: {spec: {name: value}}")
    parser.set_defaults(run=run)
    return parser


def format_table(measurements: dict[str, Measurement]) -> str:
    """One row per spec, one column per figure, and a legend."""
    rows = [["spec", *(header for header, _, _ in _COLUMNS)]]
    for spec, result in measurements.items():
        figures = result.as_dict()
        rows.append([spec, *("-" if figures[key] is None else fmt.format(figures[key])
                             for _, key, fmt in _COLUMNS)])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                       for i, (cell, w) in enumerate(zip(row, widths, strict=True)))
             for row in rows]
    return "\n".join([*lines, "", _LEGEND])


def _fail(message: str) -> int:
    print(f"seqdown analyze: error: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    """Measures ``args.specs``; returns 0, or 2 for a usage error (bad spec or option)."""
    specs: Sequence[str] = args.specs
    if len(set(specs)) != len(specs):
        return _fail(f"each spec may be given once, got {list(specs)}")
    if args.plot is not None and importlib.util.find_spec("matplotlib") is None:
        return _fail("--plot needs matplotlib: pip install 'seqdown[plot]'")
    import torch

    from seqdown.analysis.measurement import measure
    from seqdown.frontends.chain import build_frontend

    measurements: dict[str, Measurement] = {}
    try:
        for spec in specs:
            torch.manual_seed(args.seed)
            frontend = build_frontend(spec, channels=args.channels)
            measurements[spec] = measure(frontend, args.sample_rate, channels=args.channels)
    except (TypeError, ValueError) as error:
        return _fail(str(error))
    print(f"sample rate {args.sample_rate:g} Hz, {args.channels} channel(s), seed {args.seed}")
    print(format_table(measurements))
    if args.json is not None:
        data = {spec: result.as_dict() for spec, result in measurements.items()}
        args.json.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")
    if args.plot is not None:
        from seqdown.analysis.plotting import plot_measurements

        plot_measurements(measurements, args.plot)
        print(f"wrote {args.plot}")
    return 0

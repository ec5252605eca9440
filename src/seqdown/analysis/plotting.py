"""Pictures of measurements; needs the optional ``plot`` extra (matplotlib).

matplotlib is imported only when a figure is made, through its object-oriented
API with the Agg canvas: no ``pyplot``, no global backend switch, no display.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from seqdown.analysis.measurement import Measurement

from seqdown.analysis.bands import PASSBAND_EDGES

__all__ = ["new_figure", "plot_measurements"]

#: Level ranges drawn (dB) for the magnitude responses and the alias spectra; lower
#: values sit on the bottom edge.
_RESPONSE_DB = (-40.0, 3.0)
_ALIAS_DB = (-100.0, 10.0)


def new_figure(width: float, height: float) -> Figure:
    """A matplotlib ``Figure`` on an Agg canvas (no window, thread-safe).

    Raises:
        ImportError: matplotlib is missing; the message names the extra to install.

    Example:
        >>> axes = new_figure(4, 3).subplots()
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as error:  # pragma: no cover - the test extra installs matplotlib
        raise ImportError("plots need matplotlib: pip install 'seqdown[plot]'") from error
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def plot_measurements(measurements: Mapping[str, Measurement], path: str | Path,
                      dpi: int = 100) -> Path:
    """Writes the magnitude response and alias spectrum of front-ends side by side.

    One column per front-end. Top row: the gain of tones below the output
    Nyquist frequency (dotted lines at 80% and 90% of it), from -40 to +3 dB.
    Bottom row: the alias level (solid) and the DC offset (dotted) of every tone
    up to the input Nyquist frequency (see :mod:`seqdown.analysis.measurement`), with the
    output Nyquist frequency dashed, from -100 to +10 dB. Levels are in dB re
    the input tone; lower ones sit on the bottom edge.

    Args:
        measurements: label (e.g. the spec string) -> result of
            :func:`~seqdown.analysis.measure`.
        path: the image file to write; the format follows the suffix (``.png``).
        dpi: resolution.

    Returns:
        ``path`` as a Path.

    Raises:
        ValueError: ``measurements`` is empty.
        ImportError: matplotlib is missing.

    Example:
        >>> import tempfile
        >>> from seqdown import build_frontend
        >>> from seqdown.analysis.measurement import measure
        >>> results = {s: measure(build_frontend(s), 16000) for s in ("max:2", "decimate:2")}
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     plot_measurements(results, Path(folder) / "compare.png").stat().st_size > 0
        True
    """
    if not measurements:
        raise ValueError("measurements must name at least one front-end, got none")
    columns = len(measurements)
    figure = new_figure(3.2 * columns + 0.6, 5.4)
    axes = figure.subplots(2, columns, squeeze=False, sharey="row")
    for column, (label, result) in enumerate(measurements.items()):
        sweep = result.sweep
        khz = sweep.frequencies / 1000
        nyquist = sweep.output_nyquist / 1000
        below = sweep.ratios < 1
        top, bottom = axes[0, column], axes[1, column]
        top.plot(khz[below], sweep.gain_db[below].clip(_RESPONSE_DB[0]), color="C0")
        for edge in PASSBAND_EDGES:
            top.axvline(edge * nyquist, color="0.6", linestyle=":", linewidth=1)
        top.set_xlim(0, nyquist)
        top.set_title(f"{label}\nfactor {result.factor}, receptive field {result.receptive_field}",
                      fontsize=9)
        bottom.plot(khz, sweep.alias_db.clip(_ALIAS_DB[0]), color="C3", label="alias")
        bottom.plot(khz, sweep.dc_db.clip(_ALIAS_DB[0]), color="C1", linestyle=":", label="DC")
        bottom.axvline(nyquist, color="0.3", linestyle="--", linewidth=1)
        bottom.axvspan(nyquist, result.sample_rate / 2000, color="C3", alpha=0.06)
        bottom.set_xlim(0, result.sample_rate / 2000)
        bottom.set_xlabel("input tone (kHz)")
        for ax, (low, high) in ((top, _RESPONSE_DB), (bottom, _ALIAS_DB)):
            ax.grid(True, alpha=0.3)
            ax.set_ylim(low - 2, high)
    axes[0, 0].set_ylabel("magnitude response (dB)")
    axes[1, 0].set_ylabel("alias level (dB re tone)")
    axes[1, 0].legend(loc="lower right", fontsize=8)
    path = Path(path)
    figure.savefig(path, dpi=dpi)
    return path

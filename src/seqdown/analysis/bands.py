"""The frequency bands that the measured figures summarise, and the figures' names.

Edges are fractions of the output Nyquist frequency. The names of the band
figures of :class:`~seqdown.analysis.measurement.Measurement` (and the JSON keys
of ``seqdown analyze --json``) follow from them, and the table of ``seqdown
analyze`` and the plots draw them; nothing else writes an edge. This module
imports nothing heavy, so the command line can use it without torch.
"""

from __future__ import annotations

__all__ = ["ALIAS_EDGES", "PASSBAND_EDGES", "alias_key", "edge_label", "passband_key"]

#: Fractions of the output Nyquist frequency that bound the passband figures.
PASSBAND_EDGES = (0.8, 0.9)
#: Fractions of the output Nyquist frequency from which the alias figures count.
ALIAS_EDGES = (1.0, 1.1, 1.25)


def passband_key(edge: float) -> str:
    """The :class:`Measurement` field of the passband figure up to ``edge``."""
    return f"passband_deviation_db_to_{round(edge * 100)}pct_nyquist"


def alias_key(edge: float, what: str = "alias") -> str:
    """The :class:`Measurement` field of the worst ``alias`` (or ``dc``) from ``edge`` on."""
    return f"worst_{what}_db_from_{round(edge * 100)}pct_nyquist"


def edge_label(edge: float) -> str:
    """An edge as the table shows it: ``0.8``, ``1.0``, ``1.25``."""
    return f"{edge:.1f}" if round(edge * 10) == edge * 10 else f"{edge:g}"

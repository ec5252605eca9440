"""Measuring front-ends with test tones, and plotting what was measured.

============================  ======================================================
name                          what it is
============================  ======================================================
:func:`measure`               a front-end's factor, delay, passband, aliasing, shift
:class:`Measurement`          the figures ``measure`` returns (``as_dict()`` for JSON)
:func:`tone_sweep`            the gain and alias of each test tone
:class:`ToneSweep`            what ``tone_sweep`` returns
:func:`shift_change`          output change for a one-sample input shift
:func:`plot_measurements`     responses and alias spectra side by side (``[plot]`` extra)
``PASSBAND_EDGES``,           the band edges of the figures (:mod:`~seqdown.analysis.bands`)
``ALIAS_EDGES``
============================  ======================================================

Names are imported on first use: :func:`plot_measurements` needs matplotlib
only when it is called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from seqdown._lazy import attach

#: Every public name and the module that defines it, imported on first use.
_EXPORTS = {
    "ALIAS_EDGES": "seqdown.analysis.bands",
    "PASSBAND_EDGES": "seqdown.analysis.bands",
    "Measurement": "seqdown.analysis.measurement",
    "ToneSweep": "seqdown.analysis.measurement",
    "measure": "seqdown.analysis.measurement",
    "plot_measurements": "seqdown.analysis.plotting",
    "shift_change": "seqdown.analysis.measurement",
    "tone_sweep": "seqdown.analysis.measurement",
}

__getattr__, __dir__ = attach(__name__, _EXPORTS)
__all__ = list(_EXPORTS)

if TYPE_CHECKING:  # what the names are, for type checkers and IDEs
    from seqdown.analysis.bands import ALIAS_EDGES, PASSBAND_EDGES
    from seqdown.analysis.measurement import (
        Measurement,
        ToneSweep,
        measure,
        shift_change,
        tone_sweep,
    )
    from seqdown.analysis.plotting import plot_measurements

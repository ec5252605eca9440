"""Measuring front-ends with test tones, and plotting what was measured.

============================  ======================================================
name                          what it is
============================  ======================================================
:func:`measure`               a front-end's factor, delay, passband, aliasing, shift
:class:`Measurement`          the figures ``measure`` returns (``as_dict()`` for JSON)
:func:`tone_sweep`            the gain and alias of each test tone
:func:`shift_change`          output change for a one-sample input shift
:func:`plot_measurements`     responses and alias spectra side by side (``[plot]`` extra)
============================  ======================================================

:func:`plot_measurements` imports matplotlib only when it is called.
"""

from seqdown.analysis.measurement import Measurement, ToneSweep, measure, shift_change, tone_sweep
from seqdown.analysis.plotting import plot_measurements

__all__ = ["Measurement", "ToneSweep", "measure", "plot_measurements", "shift_change",
           "tone_sweep"]

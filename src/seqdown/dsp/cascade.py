"""Two-stage resampling for extreme decimation: a wide first stage, then the sharp one.

A single stage from ``f_in`` to ``f_out`` needs a filter whose transition band
is ``transition * f_out / 2`` wide at the input rate: about ``15.6 * f_in / f_out``
taps at the default spec (120 dB, 0.1), 120 million for 768 kHz -> 1 Hz. Most of
that sharpness is wasted at the input rate. The cascade reaches ``f_mid =
factor * f_out`` first, with a filter flat to the same passband edge
``(1 - transition) * f_out / 2`` whose stopband starts only at ``f_mid / 2``: its
transition band is ``(factor - 1 + transition) / transition`` times wider, and the
filter about that much shorter (2551 times wider at factor 256, transition 0.1:
768 kHz -> 1 Hz needs 50,801 taps in the first stage, designed 6.1 dB stricter).
The second stage is a plain decimation by ``factor`` with the user's spec. The
filters take kilobytes instead of gigabytes (:func:`cascade_factor` picks
``factor`` to keep both short).

The spec holds for the whole: a tone at or above ``f_mid / 2`` is removed by the
first stage and one between ``f_out / 2`` and ``f_mid / 2`` (not folded by the
first stage) by the second, each by ``attenuation``; in the passband the two
gains multiply, so each stage is designed :data:`STAGE_MARGIN_DB` stricter and
their product stays within ``10 ** (-attenuation / 20)`` of 1 (the margin is
clipped below :data:`~seqdown.dsp.filters.MAX_ATTENUATION`: above 193.4 dB the
passband may deviate by up to twice the spec, far below what float64 resolves).

The result is the composite filter applied to the extended input, edges
included. The second stage reads ``half2`` intermediate samples beyond each end,
which lie up to ``half2 * f_in / f_mid`` input samples out (80 s for 768 kHz ->
1 Hz): the first stage computes them only where its window touches the signal
(plus ``lead`` input samples of the extension on each side), and beyond that they
are the continuation of the extension itself at the intermediate times (zeros
for ``padtype="constant"``; a linear-phase low-pass with unit DC gain passes a
constant or a line unchanged), from :func:`seqdown.dsp.padding.continuation`.
So the memory stays that of the two filters and a few blocks, for every ratio.

The output is not ``resample_poly`` with one filter; it differs from the
single-stage output only in the transition band (see the tests).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from seqdown.dsp.filters import MAX_ATTENUATION, kaiser_spec
from seqdown.dsp.padding import continuation, extension
from seqdown.lengths import ceil_div, resample_length

__all__ = [
    "CASCADE_MIN_TAPS",
    "STAGE_MARGIN_DB",
    "CascadeLayout",
    "cascade_applies",
    "cascade_factor",
    "cascade_layout",
    "cascade_resample",
    "estimated_taps",
    "stage_specs",
]

#: ``method="auto"`` runs two stages when one would need more than this many taps at the
#: input rate (down / up above about 840 at the default spec). A single stage's blocks or
#: table and its design grow with its taps: 768000 -> 200 Hz in one stage (610k taps, FFT)
#: took 0.66 s and 85 MiB of peak growth for a first 1 s call; in two, 0.13 s and 6 MiB
#: (one thread, measured as bench_first_call.py does).
CASCADE_MIN_TAPS = 1 << 17
#: Extra attenuation (dB) of each stage, so that the product of two passband gains stays
#: within the spec: ``(1 + d / 2) ** 2 - 1 < d`` for ``d = 10 ** (-attenuation / 20)``.
STAGE_MARGIN_DB = 6.1


def stage_specs(attenuation: float, transition: float,
                factor: int) -> tuple[tuple[float, float], tuple[float, float]]:
    """``((attenuation, transition), (attenuation, transition))`` of the two stages.

    The first stage's transition is a fraction of ``f_mid / 2``: its passband ends at
    ``(1 - transition) * f_out / 2``, which is ``(1 - transition) / factor`` of it.
    """
    # Designs stop short of MAX_ATTENUATION: the margin shrinks to nothing above 193.4 dB.
    stage = min(attenuation + STAGE_MARGIN_DB, max(attenuation, MAX_ATTENUATION - 0.5))
    return (stage, 1.0 - (1.0 - transition) / factor), (stage, transition)


def estimated_taps(up: int, down: int, attenuation: float, transition: float) -> int:
    """Kaiser's estimate of the taps at the input rate of a filter for ``up / down``
    (before the design's margin; what the engines run is within a few percent)."""
    return kaiser_spec(attenuation, transition * 0.5 * min(1.0, up / down))[0]


def cascade_applies(up: int, down: int) -> bool:
    """Whether two stages can shorten ``up / down``: a decimation by at least 4.

    The first stage goes to a rate of at least twice the output's (``factor >= 2``) and
    below the input's, so there is room for one only from ``down >= 4 * up`` on.
    """
    return down >= 4 * up


def cascade_factor(up: int, down: int, attenuation: float, transition: float) -> int:
    """The intermediate rate's multiple of the output rate, a power of two.

    The one that makes the two filters shortest together (the first shrinks as
    ``1 / factor``, the second grows as ``factor``), with ``f_mid`` below the input
    rate: about 256 for 768 kHz -> 1 Hz, 32 for 96 kHz -> 16 Hz at the default spec.

    Raises:
        ValueError: ``down < 4 * up``: nothing to gain from two stages.
    """
    if not cascade_applies(up, down):
        raise ValueError(f"method='cascade' needs a decimation by at least 4 (down >= 4 * up), "
                         f"got up={up}, down={down}")
    best, best_taps = 2, math.inf
    factor = 2
    while factor * up * 2 <= down:
        (first, first_tr), (second, second_tr) = stage_specs(attenuation, transition, factor)
        taps = (estimated_taps(up * factor, down, first, first_tr)
                + estimated_taps(1, factor, second, second_tr))
        if taps < best_taps:
            best, best_taps = factor, taps
        factor *= 2
    return best


@dataclass(frozen=True)
class CascadeLayout:
    """Where the two stages read and write, in their own samples (see the module notes).

    Stage 1 resamples by ``up1 / down1`` to the intermediate rate; intermediate
    sample ``k`` sits at input time ``k * down1 / up1``. Stage 2 decimates by
    ``factor``: output ``j`` is intermediate sample ``j * factor``.

    Attributes:
        up1: stage 1's upsampling factor.
        down1: stage 1's downsampling factor.
        factor: stage 2's decimation factor.
        lead: input samples of the extension stage 1 reads before (and after) the
            signal, a multiple of ``down1`` past stage 1's span: beyond them its
            windows see only the extension.
        back: intermediate samples before 0 that stage 2 reads, a multiple of
            ``factor`` at least its span.
        reach: intermediate samples stage 2 reads past its last output's position.
    """

    up1: int
    down1: int
    factor: int
    lead: int
    back: int
    reach: int

    @property
    def lead_steps(self) -> int:
        """Intermediate samples before 0 that stage 1 computes (``lead`` input samples)."""
        return self.lead // self.down1 * self.up1

    @property
    def unread(self) -> int:
        """Stage 1's first outputs, before the first sample stage 2 reads (``-back``)."""
        return max(0, self.lead_steps - self.back)

    @property
    def uncomputed(self) -> int:
        """Intermediate samples stage 2 reads before stage 1's first output: the extension
        at the intermediate rate, from ``-back`` to ``-lead_steps``."""
        return max(0, self.back - self.lead_steps)

    @property
    def skip(self) -> int:
        """Stage 2's outputs before output 0 (those of the ``back`` samples before 0)."""
        return self.back // self.factor

    def first_end(self, n: int) -> int:
        """One past the last intermediate sample stage 1 computes for ``n`` inputs."""
        return self.lead_steps + resample_length(n, self.up1, self.down1)

    def second_end(self, n: int, up: int, down: int) -> int:
        """One past the last intermediate sample stage 2 reads for ``n`` inputs."""
        return (resample_length(n, up, down) - 1) * self.factor + self.reach + 1


def cascade_layout(up1: int, down1: int, factor: int, span1: int, span2: int) -> CascadeLayout:
    """The layout for stage spans ``span1`` (input samples) and ``span2`` (intermediate)."""
    return CascadeLayout(up1, down1, factor, down1 * ceil_div(span1 + 1, down1),
                         factor * ceil_div(span2, factor), span2)


def cascade_resample(x: Tensor, layout: CascadeLayout, up: int, down: int, padtype: str,
                     first: Callable[[Tensor, str], Tensor],
                     second: Callable[[Tensor, str], Tensor]) -> Tensor:
    """Resamples the rows of ``x`` by ``up / down`` through the two stages.

    Args:
        x: ``(rows, time)`` (background padtypes subtracted already).
        layout: from :func:`cascade_layout`.
        up: the whole ratio's upsampling factor.
        down: its downsampling factor.
        padtype: what lies beyond the ends.
        first: ``first(rows, padtype)`` runs stage 1.
        second: ``second(rows, padtype)`` runs stage 2. It is given the same padtype
            (zeros for the background ones): past the ends of what it reads, its
            blocks then see the continuation, not a step to zero (which the FFT
            path would spread over its blocks at the stopband level).

    Returns:
        ``(rows, resample_length(time, up, down))``. Differentiable.
    """
    rows, time = x.shape
    n_out = resample_length(time, up, down)
    if n_out == 0:
        return x.new_zeros(rows, 0)
    left, right = extension(x, padtype, layout.lead, layout.lead)
    middle = first(torch.cat([left, x, right], dim=-1), padtype)  # from -lead_steps on
    pieces = [middle[:, layout.unread:]]
    ratio = layout.down1 / layout.up1  # input samples per intermediate sample
    if layout.uncomputed:
        before = torch.arange(-layout.back, -layout.lead_steps, dtype=torch.float64,
                              device=x.device) * ratio
        pieces.insert(0, continuation(x, padtype, before, before[:0])[0])
    end, stop = layout.first_end(time), layout.second_end(time, up, down)
    if stop > end:
        after = torch.arange(end, stop, dtype=torch.float64, device=x.device) * ratio - (time - 1)
        pieces.append(continuation(x, padtype, after[:0], after)[1])
    y = second(torch.cat(pieces, dim=-1) if len(pieces) > 1 else pieces[0], padtype)
    return y[:, layout.skip : layout.skip + n_out]

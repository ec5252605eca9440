"""The Resample default spec, measured with tones on every ratio, odd ones included.

120 dB of alias (and image) rejection from the lower Nyquist frequency up, and a
passband flat within 10 ** (-120 / 20) up to 0.9 of it; ``quality="vhq"``: 150 dB,
flat to 0.95 (float64). Tones are measured by least squares at the frequency
they fold to (the ``tone_gain_db`` fixture), in float64.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import seqdown
from seqdown.dsp.filters import RESAMPLE_PRESETS

#: The five usual ratios, the odd ones real files have, and 1 <-> 3 on long inputs.
RATIOS = [(48000, 16000), (44100, 16000), (22050, 16000), (16000, 8000), (8000, 16000),
          (16001, 16000), (44100, 44099), (48000, 44101), (22254, 16000), (1, 3), (3, 1)]
LONG = {(1, 3): 3 * 16384, (3, 1): 3 * 16384}
#: Ratios with huge terms, run by the tabulated filter (the "hq" spec).
TABLE_RATIOS = [(96001, 8000), (384001, 384000)]


def passband_limit_db(attenuation: float) -> float:
    """The largest |gain| in dB for a deviation of 10 ** (-attenuation / 20)."""
    return float(-20 * np.log10(1 - 10 ** (-attenuation / 20)))


def alias_positions(orig: int, new: int) -> list[float]:
    """Tones from the output Nyquist frequency to the input Nyquist, in output Nyquists."""
    top = orig / new
    positions = [1.0, 1.001, 1.01, 1.1, 1.5, 2.0, 0.99 * top, 1 + 0.5 * (top - 1),
                 1 + 0.95 * (top - 1)]
    return sorted({p for p in positions if 1.0 <= p < top})


@pytest.mark.parametrize(("orig", "new", "quality"),
                         [(*r, q) for q in ("hq", "vhq") for r in RATIOS]
                         + [(*r, "hq") for r in TABLE_RATIOS], ids=str)
def test_tones(orig, new, quality, tone_gain_db):
    attenuation, transition = RESAMPLE_PRESETS[quality]
    n = LONG.get((orig, new), 16384)
    lower = 0.5 * min(orig, new) / orig  # the lower Nyquist, in cycles per input sample
    ratio = new / orig

    def op(x: np.ndarray) -> np.ndarray:
        return seqdown.resample(torch.from_numpy(x), orig, new, quality=quality).numpy()

    for position in alias_positions(orig, new):
        level = tone_gain_db(op, position * lower, ratio=ratio, n=n)
        assert level <= -attenuation, f"alias at {position} x Nyquist: {level:.1f} dB"
    if new > orig:  # images: a tone at f comes back at new - f too
        for position in [0.5, 0.9, 1 - transition]:
            image = 1 - position * lower  # cycles per input sample
            level = tone_gain_db(op, image, ratio=ratio, n=n,
                                 others=(position * lower / ratio,))
            assert level <= -attenuation, f"image of {position} x Nyquist: {level:.1f} dB"
    limit = passband_limit_db(attenuation)
    for position in np.linspace(0.01, 1 - transition, 9):
        gain = tone_gain_db(op, position * lower, ratio=ratio, n=n)
        assert abs(gain) <= limit, f"{gain:.2e} dB at {position:.3f} of the band"


def test_default_is_the_hq_preset():
    default, hq = seqdown.Resample(44100, 16000), seqdown.Resample(44100, 16000, quality="hq")
    assert (default.attenuation, default.transition) == RESAMPLE_PRESETS["hq"] == (120.0, 0.1)
    assert (hq.attenuation, hq.transition) == (120.0, 0.1)
    vhq = seqdown.Resample(44100, 16000, quality="vhq")
    assert (vhq.attenuation, vhq.transition) == (150.0, 0.05)
    assert vhq.receptive_field > default.receptive_field


def test_quality_errors():
    with pytest.raises(ValueError, match=r"quality must be one of 'hq', 'vhq', got 'best'"):
        seqdown.Resample(44100, 16000, quality="best")
    with pytest.raises(ValueError, match="either quality"):
        seqdown.resample(torch.zeros(10), 2, 1, quality="hq", attenuation=90)


@pytest.mark.parametrize("padtype", ["edge", "line", "mean", "smooth"])
def test_constant_input_stays_constant_with_a_padtype(padtype):
    """Zero padding makes a long filter ring at both ends; the other padtypes do not."""
    x = torch.full((1, 44100), 0.5, dtype=torch.float64)
    y = seqdown.resample(x, 44100, 16000, padtype=padtype)
    torch.testing.assert_close(y, torch.full_like(y, 0.5), atol=1e-6, rtol=0)
    zero_padded = seqdown.resample(x, 44100, 16000)
    # What padtype removes: a dip at the first sample, ringing at the last (3 inputs early).
    assert zero_padded[0, 0] < 0.4 and abs(zero_padded[0, -1] - 0.5) > 0.01

"""Sample rates: integral floats accepted, fractional, non-positive and huge rates refused."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import seqdown
from seqdown.dsp import StreamingResampler
from seqdown.dsp.rates import MAX_SAMPLE_RATE, check_sample_rate, rate_ratio


@pytest.mark.parametrize("rate", [44100, 44100.0, np.int64(44100), np.float32(44100.0)],
                         ids=repr)
def test_integral_rates_are_accepted(rate):
    assert check_sample_rate("orig_freq", rate) == 44100
    assert type(check_sample_rate("orig_freq", rate)) is int
    assert seqdown.Resample(rate, 16000).factor == seqdown.Resample(44100, 16000).factor
    assert seqdown.resample(torch.zeros(441), rate, 16000.0).shape == (160,)


@pytest.mark.parametrize(("rate", "error", "message"), [
    (0, ValueError, "orig_freq must be a positive integer, got 0"),
    (-16000, ValueError, "orig_freq must be a positive integer, got -16000"),
    (44100.5, TypeError, r"orig_freq must be an integer number of Hz .* got 44100.5"),
    (float("nan"), TypeError, "orig_freq must be an integer number of Hz"),
    (float("inf"), TypeError, "orig_freq must be an integer number of Hz"),
    (True, TypeError, "orig_freq must be an integer number of Hz"),
    ("44100", TypeError, "orig_freq must be an integer number of Hz"),
    (MAX_SAMPLE_RATE + 1, ValueError, "orig_freq must be at most 768000 Hz, got 768001"),
    (10**12, ValueError, "orig_freq must be at most 768000 Hz"),
], ids=repr)
def test_bad_rates_give_clear_errors(rate, error, message):
    with pytest.raises(error, match=message):
        check_sample_rate("orig_freq", rate)
    with pytest.raises(error, match=message):
        seqdown.Resample(rate, 16000)
    with pytest.raises(error, match=message.replace("orig_freq", "new_freq")):
        seqdown.resample(torch.zeros(10), 16000, rate)
    with pytest.raises(error, match=message):
        StreamingResampler(rate, 16000)


def test_ratio_is_reduced():
    assert rate_ratio(44100, 16000) == (160, 441)
    assert rate_ratio(48000, 16000) == (1, 3)
    assert rate_ratio(16001, 16000) == (16000, 16001)
    assert rate_ratio(MAX_SAMPLE_RATE, MAX_SAMPLE_RATE - 1) == (767999, 768000)

"""Sample rates as users hold them, and the ratio a resampler runs.

Loaders return rates as ``int``, as NumPy integers, or as integral floats
(``44100.0``); all of these are accepted. A rate with a fractional part
(``44100.5``) has no exact rational ratio of small terms and is refused, as
are rates that are not positive or above :data:`MAX_SAMPLE_RATE`.
"""

from __future__ import annotations

import math
import numbers

__all__ = ["MAX_SAMPLE_RATE", "check_sample_rate", "rate_ratio"]

#: The highest sample rate accepted (Hz): 768 kHz, the top rate of audio interfaces.
MAX_SAMPLE_RATE = 768_000


def check_sample_rate(name: str, value: object) -> int:
    """Returns ``value`` as an int after checking it is a whole number of Hz in range.

    Args:
        name: the argument's name, for the error message.
        value: an integer or an integral float.

    Raises:
        TypeError: ``value`` is not a real number (or is a bool).
        ValueError: ``value`` is not finite, has a fractional part, is < 1 or is
            above :data:`MAX_SAMPLE_RATE`.

    Example:
        >>> check_sample_rate("orig_freq", 44100.0)
        44100
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a sample rate in Hz (an integer), got {value!r} "
                        f"({type(value).__name__})")
    if not math.isfinite(float(value)) or float(value) != math.floor(float(value)):
        raise ValueError(f"{name} must be a whole number of Hz, got {value!r}; resample from "
                         "the nearest integer rate or pass an exact integer rate")
    rate = int(float(value))
    if not 1 <= rate <= MAX_SAMPLE_RATE:
        raise ValueError(f"{name} must be between 1 and {MAX_SAMPLE_RATE} Hz, got {value!r}")
    return rate


def rate_ratio(orig_freq: object, new_freq: object) -> tuple[int, int]:
    """``(up, down)``: the ratio ``new_freq / orig_freq`` of two sample rates, reduced.

    Raises:
        TypeError, ValueError: as :func:`check_sample_rate`.

    Example:
        >>> rate_ratio(44100, 16000), rate_ratio(16001.0, 16000)
        ((160, 441), (16000, 16001))
    """
    orig = check_sample_rate("orig_freq", orig_freq)
    new = check_sample_rate("new_freq", new_freq)
    common = math.gcd(orig, new)
    return new // common, orig // common

"""Sample rates as users hold them, and the ratio a resampler runs.

Loaders return rates as ``int``, as NumPy integers, or as integral floats
(``44100.0``); all of these are accepted. A rate with a fractional part
(``44100.5``) is refused (a TypeError, as for any non-integer), and so are rates
that are not positive or above :data:`MAX_SAMPLE_RATE` (a ValueError).
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
        TypeError: ``value`` is not a real number, is a bool, is not finite or
            has a fractional part.
        ValueError: ``value`` is < 1 or above :data:`MAX_SAMPLE_RATE`.

    Example:
        >>> check_sample_rate("orig_freq", 44100.0)
        44100
    """
    if (isinstance(value, bool) or not isinstance(value, numbers.Real)
            or not math.isfinite(float(value)) or float(value) != math.floor(float(value))):
        raise TypeError(f"{name} must be an integer number of Hz (integral floats such as "
                        f"44100.0 are accepted), got {value!r}; round a fractional rate first")
    rate = int(float(value))
    if rate < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if rate > MAX_SAMPLE_RATE:
        raise ValueError(f"{name} must be at most {MAX_SAMPLE_RATE} Hz, got {value!r}")
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

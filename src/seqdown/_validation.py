"""Checks for user input at the public boundary.

Every public function and ``forward`` validates through these helpers so that
one kind of mistake always gets one kind of message: the argument's name, the
rule it broke, and the value that was received.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import TypeVar

import torch
from torch import Tensor

__all__ = [
    "check_choice",
    "check_finite_number",
    "check_length_values",
    "check_lengths",
    "check_positive_int",
    "check_signal",
    "check_waveform",
    "is_batched",
    "is_tracing",
    "legacy_tracing_message",
    "refuse_legacy_tracing",
]

_LAYOUT = "(batch, channels, time)"
#: A string mode (a ``Literal``), kept as its own type by :func:`check_choice`.
Choice = TypeVar("Choice", bound=str)


#: ``torch.jit.is_tracing``, typed (torch does not export it to type checkers).
_jit_is_tracing: Callable[[], bool] = torch.jit.is_tracing  # type: ignore[attr-defined]


def is_tracing() -> bool:
    """True under ``torch.export``, ``torch.compile``, ``torch.onnx.export`` or ``torch.jit.trace``.

    Checks that read tensor values run only when this is False (eager mode): a
    traced program must not branch on data.
    """
    return torch.compiler.is_compiling() or _jit_is_tracing()


def is_batched(x: Tensor) -> bool:
    """True for a tensor that ``torch.func.vmap`` batches: its values are per item, so
    checks that read them (``.item()``) cannot run; they are skipped, as under tracing."""
    return bool(torch._C._functorch.is_batchedtensor(x))


def refuse_legacy_tracing(name: str) -> None:
    """Raises a RuntimeError under ``torch.jit.trace`` (and ``torch.onnx.export(dynamo=False)``).

    The legacy tracer records the Python integers computed from the input's
    length as constants, so a traced front-end would return wrong shapes at any
    other length; ``torch.export`` and the dynamo ONNX exporter keep them symbolic.
    """
    if _jit_is_tracing():
        raise RuntimeError(legacy_tracing_message(name))


def legacy_tracing_message(name: str) -> str:
    """Why ``torch.jit.trace``/``script`` cannot compile a seqdown module, and what to use."""
    return (
        f"{name} cannot be compiled by TorchScript (torch.jit.trace, torch.jit.script) or "
        "torch.onnx.export(dynamo=False): the legacy tracer freezes the lengths computed "
        "from the input's shape, so the traced module would give wrong shapes at other "
        "lengths, and TorchScript is deprecated upstream. Use torch.export.export(...) or "
        "torch.onnx.export(..., dynamo=True) with dynamic_shapes instead"
    )



def check_positive_int(name: str, value: object, minimum: int = 1) -> int:
    """Returns ``value`` as an int after checking it is an integer ``>= minimum``.

    Raises:
        TypeError: ``value`` is not an integer (bools and floats are refused).
        ValueError: ``value < minimum``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    value = int(value)
    if value < minimum:
        rule = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"{name} must be {rule}, got {value}")
    return value


def check_finite_number(name: str, value: object, low: float, high: float | None = None) -> float:
    """Returns ``value`` as a float after checking ``low < value`` (and ``value < high``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    value = float(value)
    upper = "" if high is None else f" and < {high}"
    if not (value > low and (high is None or value < high)) or value != value:
        raise ValueError(f"{name} must be > {low}{upper}, got {value}")
    return value


def check_choice(name: str, value: Choice, choices: tuple[str, ...]) -> Choice:
    """Returns ``value`` after checking it is one of ``choices``."""
    if value not in choices:
        valid = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {valid}, got {value!r}")
    return value


def _check_float_dtype(name: str, x: Tensor) -> None:
    if x.is_complex() or not x.is_floating_point():
        raise TypeError(
            f"{name} must be a real floating-point tensor (float16, bfloat16, float32 or "
            f"float64), got dtype {x.dtype}; convert it first, e.g. {name}.float()"
        )


def check_waveform(x: object, name: str = "x") -> Tensor:
    """Checks a ``(..., time)`` real floating-point tensor with at least one dimension."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() < 1:
        raise ValueError(f"{name} must have a time axis (shape (..., time)), got a 0-d tensor")
    _check_float_dtype(name, x)
    return x


def check_signal(x: object, name: str = "x") -> Tensor:
    """Checks a ``(batch, channels, time)`` real floating-point tensor."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape {_LAYOUT}, got {type(x).__name__}")
    if x.dim() != 3:
        hint = " (add a channel axis with x.unsqueeze(1))" if x.dim() == 2 else ""
        raise ValueError(
            f"{name} must have 3 dimensions {_LAYOUT}, got {x.dim()} with shape "
            f"{tuple(x.shape)}{hint}"
        )
    _check_float_dtype(name, x)
    return x


def check_lengths(lengths: object, x: Tensor, name: str = "lengths") -> Tensor:
    """Checks valid lengths for ``x`` of shape ``(batch, channels, time)``.

    The values (``0 <= lengths <= time``) are checked in eager mode only: under
    :func:`is_tracing` reading them would put a data-dependent branch on the traced path,
    and under ``torch.func.vmap`` (:func:`is_batched`) they cannot be read.

    Returns:
        The lengths as int64 on their own device.
    """
    if not isinstance(lengths, Tensor):
        raise TypeError(f"{name} must be an int64 tensor of shape (batch,), "
                        f"got {type(lengths).__name__}")
    _check_integer(lengths, name)
    batch, time = x.shape[0], x.shape[-1]
    if lengths.dim() != 1 or lengths.shape[0] != batch:
        raise ValueError(
            f"{name} must have shape (batch,) = ({batch},) to match x of shape "
            f"{tuple(x.shape)}, got shape {tuple(lengths.shape)}"
        )
    return check_length_values(lengths, time, name)


def _check_integer(lengths: Tensor, name: str) -> None:
    if lengths.is_floating_point() or lengths.is_complex() or lengths.dtype == torch.bool:
        raise TypeError(f"{name} must be an integer tensor (int64), got dtype {lengths.dtype}")


def check_length_values(lengths: Tensor, time: int, name: str = "lengths") -> Tensor:
    """Checks that integer ``lengths`` (any shape) count steps of a ``time``-step axis.

    The values (``0 <= lengths <= time``) are checked in eager mode only, as in
    :func:`check_lengths`; one read of the device when they hold.

    Returns:
        The lengths as int64 on their own device.
    """
    _check_integer(lengths, name)
    if lengths.device.type == "meta":
        raise ValueError(f"{name} must hold values (a CPU or accelerator tensor), got a tensor "
                         "on the 'meta' device, whose values are unknown")
    lengths = lengths.long()
    # Eager mode only: reading the values would put a data-dependent branch on a traced
    # (exported, compiled) path, and vmap cannot read a batched value.
    eager = lengths.numel() and not is_tracing() and not is_batched(lengths)
    if eager and bool(((lengths < 0) | (lengths > time)).any()):
        low, high = int(lengths.min()), int(lengths.max())
        if low < 0:
            raise ValueError(f"{name} must be >= 0, got {low}")
        raise ValueError(f"{name} must be <= the time axis of x ({time}), got {high}; "
                         "lengths count valid steps of the padded batch")
    return lengths

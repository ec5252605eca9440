"""Lazy re-exports for package ``__init__`` files (PEP 562).

``import seqdown`` must stay cheap: the ``seqdown`` command answers ``--help``
without importing torch, and ``seqdown.dataset`` imports without its extra
until one of its names is used. A package lists what it re-exports in one
table, ``{name: module}``, and :func:`attach` returns the module-level
``__getattr__`` and ``__dir__`` that import each name on first use and then
keep it in the package's namespace.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["MissingExtra", "attach", "missing_extra"]


def attach(package: str, exports: Mapping[str, str]
           ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package`` re-exporting ``exports``.

    Args:
        package: the package's ``__name__``.
        exports: each public name and the module that defines it.
    """
    namespace = importlib.import_module(package).__dict__

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *exports})

    return __getattr__, __dir__


class MissingExtra(ImportError):
    """An optional dependency is not installed; the message names the extra to install."""


def missing_extra(module: str, extra: str, error: ImportError) -> MissingExtra:
    """The ImportError to raise when ``module``, part of the ``extra`` extra, is missing.

    Example:
        >>> str(missing_extra("soundfile", "dataset", ImportError("no soundfile")))
        "soundfile is needed here (no soundfile); install it with: pip install 'seqdown[dataset]'"
    """
    return MissingExtra(f"{module} is needed here ({error}); install it with: "
                       f"pip install 'seqdown[{extra}]'")

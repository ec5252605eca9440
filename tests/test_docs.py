"""The examples in the docstrings and in README.md run and print what they show."""

from __future__ import annotations

import doctest
import importlib
import math
import pkgutil
import re
from pathlib import Path

import numpy as np
import pytest
import torch

import seqdown

ROOT = Path(__file__).resolve().parents[1]
MODULES = sorted(info.name for info in pkgutil.walk_packages(seqdown.__path__, "seqdown.")
                 if not info.name.endswith("__main__"))
GLOBALS = {"math": math, "np": np, "torch": torch, "seqdown": seqdown}


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in finder.find(module, name, globs={**vars(module), **GLOBALS}):
        runner.run(test)
    assert runner.failures == 0, f"{runner.failures} failing example(s) in {name}"


def test_every_public_callable_has_an_example():
    missing = [name for name in seqdown.__all__ if not name.startswith("__")
               and ">>>" not in (getattr(seqdown, name).__doc__ or "")]
    assert missing == []


def readme_python_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


def test_readme_python_examples_run(tmp_path, monkeypatch):
    blocks = readme_python_blocks()
    assert blocks, "README.md shows no python example"
    monkeypatch.chdir(ROOT)
    namespace: dict[str, object] = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)

"""The package layout keeps its promises: public paths, no shadowing, no private imports."""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
import pkgutil
from pathlib import Path

import pytest

import seqdown

SOURCE = Path(seqdown.__file__).parent
MODULES = sorted(info.name for info in pkgutil.walk_packages(seqdown.__path__, "seqdown.")
                 if not info.name.endswith("__main__"))
PACKAGES = ["seqdown", *sorted(info.name for info in pkgutil.walk_packages(
    seqdown.__path__, "seqdown.") if info.ispkg)]
LAZY_PACKAGES = ["seqdown", "seqdown.analysis", "seqdown.dataset"]


@pytest.mark.parametrize("path", [
    "seqdown.dataset.preprocess", "seqdown.dataset.merge", "seqdown.dataset.Settings",
    "seqdown.dataset.ManifestDataset", "seqdown.dataset.collate", "seqdown.analysis.measure",
    "seqdown.dsp.design_lowpass", "seqdown.dsp.StreamingResampler", "seqdown.design_lowpass",
    "seqdown.frontends.Decimate", "seqdown.resample", "seqdown.upsample", "seqdown.RNNEncoder",
])
def test_public_paths_resolve(path):
    package, name = path.rsplit(".", 1)
    assert callable(getattr(importlib.import_module(package), name))


def test_top_level_names_are_the_subpackages_objects():
    assert seqdown.design_lowpass is importlib.import_module("seqdown.dsp").design_lowpass
    assert seqdown.Decimate is importlib.import_module("seqdown.frontends").Decimate
    assert sorted(seqdown.__all__) == sorted({"__version__", *seqdown._EXPORTS})


@pytest.mark.parametrize("package", PACKAGES)
def test_no_module_is_shadowed_by_a_name_of_its_package(package):
    module = importlib.import_module(package)
    for info in pkgutil.iter_modules(module.__path__):
        if info.name == "__main__":  # importing it runs the command
            continue
        importlib.import_module(f"{package}.{info.name}")
        attribute = getattr(module, info.name)
        assert getattr(attribute, "__name__", None) == f"{package}.{info.name}", (
            f"{package}.{info.name} is {attribute!r}, not the module")


def _imports(path: Path) -> list[tuple[str, str]]:
    """``(module, name)`` of every ``from seqdown... import name`` in a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [(node.module, alias.name) for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module
            and node.module.startswith("seqdown") for alias in node.names]


@pytest.mark.parametrize("path", sorted(SOURCE.rglob("*.py")), ids=lambda p: p.name)
def test_no_module_imports_private_names(path):
    private = [f"{module}.{name}" for module, name in _imports(path)
               if name.startswith("_") and not name.endswith("__")]
    assert private == []


@pytest.mark.parametrize("name", MODULES)
def test_every_module_declares_all(name):
    module = importlib.import_module(name)
    assert isinstance(getattr(module, "__all__", None), (list, tuple)), f"{name} has no __all__"
    missing = [item for item in module.__all__ if not hasattr(module, item)]
    assert missing == []


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_lazy_tables_match_the_type_checking_imports(package):
    """What type checkers see (the TYPE_CHECKING block) is what the lazy table gives."""
    module = importlib.import_module(package)
    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    guarded = next(node for node in tree.body if isinstance(node, ast.If)
                   and getattr(node.test, "id", None) == "TYPE_CHECKING")
    declared = {alias.name: node.module for node in guarded.body
                if isinstance(node, ast.ImportFrom) for alias in node.names}
    for name, source in module._EXPORTS.items():
        assert getattr(module, name) is getattr(importlib.import_module(source), name)
        assert name in declared, f"{package}.{name} missing from its TYPE_CHECKING imports"
        assert getattr(importlib.import_module(declared[name]), name) is getattr(module, name)
    assert set(declared) == set(module._EXPORTS)
    assert set(module._EXPORTS) <= set(dir(module))
    with pytest.raises(AttributeError, match="has no attribute 'nothing_here'"):
        module.nothing_here  # noqa: B018


def test_version_comes_from_the_package_metadata():
    assert seqdown.__version__ == importlib.metadata.version("seqdown")

"""``pip install seqdown`` (no extras) gives every front-end and the DSP engine.

soundfile and torchaudio belong to the ``dataset`` extra. These tests run a fresh
interpreter in which both are hidden from the import system, as on a machine
where only the core was installed.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

HIDE = textwrap.dedent("""
    import importlib.abc, sys

    class Hide(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {"soundfile", "torchaudio"}:
                raise ImportError(f"No module named {name!r} (hidden by the test)", name=name)
            return None

    sys.meta_path.insert(0, Hide())
""")


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", HIDE + textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=120)


def test_core_works_without_the_dataset_extra():
    result = _run("""
        import torch
        import seqdown
        from seqdown.analysis import measure
        from seqdown.dsp import StreamingResampler

        frontend = seqdown.build_frontend("decimate:2+max:2")
        y, out = frontend(torch.randn(2, 3, 50), torch.tensor([50, 21]))
        assert y.shape == (2, 3, 12) and out.tolist() == [12, 5], (y.shape, out)
        encoder = seqdown.RNNEncoder(3, 4, frontend="stack:2+conv:2")
        assert encoder(torch.randn(2, 3, 40), torch.tensor([40, 9]))[0].shape == (2, 10, 4)
        assert seqdown.resample(torch.randn(1, 441), 44100, 16000).shape == (1, 160)
        assert StreamingResampler(3, 2).process(torch.randn(1, 30)).shape[0] == 1
        assert measure(seqdown.AvgPool(2), 16000).factor == 2
        import seqdown.dataset  # the package imports; its names need the extra
        assert not {"soundfile", "torchaudio"} & set(sys.modules)
        print("ok")
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_dataset_names_say_which_extra_to_install():
    result = _run("""
        import seqdown.dataset
        for name in ("preprocess", "Settings", "merge"):
            try:
                getattr(seqdown.dataset, name)
            except ImportError as error:
                print(name, error)
            else:
                raise SystemExit(f"{name} imported without soundfile")
    """)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 3
    for line in lines:
        assert "install it with: pip install 'seqdown[dataset]'" in line, line


def test_the_dataset_command_fails_with_the_extra_named(tmp_path):
    result = _run(f"""
        from seqdown.cli import main
        raise SystemExit(main(["preprocess", {str(tmp_path)!r}, {str(tmp_path / "out")!r}]))
    """)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("seqdown preprocess: error: ")
    assert "pip install 'seqdown[dataset]'" in result.stderr
    assert not (tmp_path / "out").exists()

"""``seqdown merge`` refusals change nothing: a merged folder that is a shard however spelled,
and a damaged shard, which leaves the merged folder as it was so that the same command reruns."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from seqdown.cli import main
from seqdown.dataset.manifest import Record, read_jsonl
from seqdown.dataset.merging import merge
from seqdown.dataset.pipeline import preprocess
from seqdown.dataset.settings import Settings, UsageError
from tests.conftest import tree, write_audio


@pytest.fixture
def shards(tmp_path) -> list[Path]:
    """Shards 0 and 1 of 2 of two generated files, one utterance each."""
    corpus = tmp_path / "audio"
    write_audio(corpus / "stereo.wav", 0.7, 44100, channels=2, seed=1)
    write_audio(corpus / "sub" / "mono.wav", 0.4, 8000, seed=2)
    folders = [tmp_path / f"s{index}" for index in range(2)]
    for index, folder in enumerate(folders):
        preprocess(Settings.make(corpus, num_shards=2, shard_index=index), folder)
        assert len(read_jsonl(folder / "manifest.jsonl", Record)) == 1
    return folders


def snapshot(folder: Path) -> dict[str, str | None]:
    """Every entry below ``folder``, the lock file included: the SHA-256 of a file, None
    for a folder, the target of a link."""
    entries: dict[str, str | None] = {}
    for path in sorted(folder.rglob("*")):
        name = path.relative_to(folder).as_posix()
        if path.is_symlink():
            entries[name] = f"-> {os.readlink(path)}"
        elif path.is_dir():
            entries[name] = None
        else:
            entries[name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return entries


# The merged folder, from the shard folders s0 and s1 in tmp_path, and how it relates to s0.
SPELLINGS = {
    "symlink": (lambda s0, s1: s0.parent / "link0", "is"),
    "dotdot": (lambda s0, s1: Path(f"{s1}/../{s0.name}"), "is"),
    "inside": (lambda s0, s1: s0 / "merged", "lies inside"),
    "parent": (lambda s0, s1: s0.parent, "contains"),
}


@pytest.mark.parametrize("spelling", list(SPELLINGS), ids=list(SPELLINGS))
def test_a_merged_folder_at_a_shard_is_refused_and_the_shard_kept(shards, spelling, capsys):
    make, relation = SPELLINGS[spelling]
    s0, s1 = shards
    (s0.parent / "link0").symlink_to(s0.name)
    output = make(s0, s1)
    before = [snapshot(folder) for folder in shards]
    assert main(["merge", str(s0), str(s1), str(output), "--overwrite"]) == 2
    message = capsys.readouterr().err
    assert (f"the merged folder {os.fspath(output.absolute())!r} {relation} the shard "
            f"{os.fspath(s0)!r}") in message
    with pytest.raises(UsageError, match=f"{relation} the shard"):
        merge(shards, output, overwrite=True)
    assert [snapshot(folder) for folder in shards] == before
    assert not (s0 / "merged").exists()


@pytest.fixture
def reference(shards, tmp_path) -> dict[str, bytes]:
    """The files of a merge of the shards that never failed."""
    merge(shards, tmp_path / "reference")
    return tree(tmp_path / "reference")


@pytest.mark.parametrize("before", ["absent", "empty", "dataset"])
def test_a_damaged_shard_leaves_the_merged_folder_as_it_was(shards, reference, before,
                                                            tmp_path, capsys):
    merged = tmp_path / "m"
    options = ["--overwrite"] if before == "dataset" else []
    if before == "empty":
        merged.mkdir()
    elif before == "dataset":
        merge(shards, merged)
    state = snapshot(merged) if merged.exists() else None
    array = next((shards[1] / "features").glob("*.npy"))
    # Replaced, not written in place: the merged folders hold hard links to the shard's arrays.
    os.replace(array, tmp_path / "saved.npy")
    array.write_bytes((tmp_path / "saved.npy").read_bytes()[:-4] + b"\0\0\0\0")
    command = ["merge", *map(str, shards), str(merged), *options]
    assert main(command) == 2
    assert "does not match the sha256" in capsys.readouterr().err
    assert (snapshot(merged) if merged.exists() else None) == state
    os.replace(tmp_path / "saved.npy", array)
    assert main(command) == 0
    assert tree(merged) == reference
    assert main(command if options else [*command, "--overwrite"]) == 0
    assert tree(merged) == reference


def test_a_merged_folder_that_is_a_file_is_refused(shards, capsys):
    target = shards[0].parent / "a-file"
    target.write_text("kept")
    assert main(["merge", *map(str, shards), str(target)]) == 2
    assert f"MERGED_DIR must be a folder, got the file {str(target)!r}" in capsys.readouterr().err
    assert target.read_text() == "kept"

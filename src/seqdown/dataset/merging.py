"""``seqdown merge``: the shards of a sharded preprocessing run into one dataset.

Each shard folder must be complete (``dataset.json`` says so) and made with the
same settings except ``--shard-index``, and together the shards must be
``0 .. num_shards - 1``, each once; the merged folder must lie apart from them.
Every array of every shard is checked against the SHA-256 in its record before
anything is written, then hard-linked into the merged folder (copied where links
are impossible, e.g. across file systems; both atomically). Arrays are never
modified in place by seqdown, so shared links are safe.

The merged folder is what one unsharded run would have written: the same
``manifest.jsonl``, ``failures.jsonl``, arrays and ``dataset.json`` (with
``num_shards`` 1), and a journal, so ``seqdown preprocess`` can resume it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from seqdown.dataset.atomic import sha256_file, storage_errors
from seqdown.dataset.journal import Entry, Journal
from seqdown.dataset.manifest import (
    FAILURES_FILE,
    FEATURES_DIR,
    MANIFEST_FILE,
    Failure,
    Record,
    read_jsonl,
)
from seqdown.dataset.pipeline import (
    LOCK_FILE,
    clear_outputs,
    dataset_lock,
    finish_dataset,
    make_output_folder,
)
from seqdown.dataset.settings import (
    DATASET_FILE,
    Settings,
    SettingsMismatch,
    UsageError,
    differences,
    read_dataset_file,
)
from seqdown.dataset.trust import check_regular_file, confined_path

__all__ = ["MergeSummary", "merge"]


@dataclass(frozen=True)
class MergeSummary:
    """What a merge wrote: counts of the merged dataset."""

    output_dir: str
    shards: int
    utterances: int
    failed: int
    hours: float

    def line(self) -> str:
        """The one-line summary printed at the end."""
        failures = (f" (see {os.path.join(self.output_dir, FAILURES_FILE)})"
                    if self.failed else "")
        return (f"merged {self.shards} shards into {self.output_dir}: {self.utterances} "
                f"utterances, {self.failed} failed{failures}; {self.hours:.4f} h of audio")


def _read_shard(folder: Path) -> Settings:
    try:
        found = read_dataset_file(folder)
    except ValueError as error:
        raise UsageError(str(error)) from None
    if found is None:
        raise UsageError(f"{os.fspath(folder)!r} is not a seqdown dataset (no {DATASET_FILE})")
    description, settings = found
    if not description.get("complete"):
        raise UsageError(f"{os.fspath(folder)!r} is incomplete (its run was interrupted); run "
                         "the same seqdown preprocess command again to finish it")
    return settings


def _check_shards(folders: Sequence[Path]) -> Settings:
    """The common settings of complete, matching shards covering 0 .. num_shards - 1."""
    settings = [_read_shard(folder) for folder in folders]
    first = settings[0]
    for folder, other in zip(folders[1:], settings[1:], strict=True):
        changed = differences(first, other, ignore=("shard_index",))
        if changed:
            changed = [change.replace("this run", os.fspath(folder)) for change in changed]
            raise SettingsMismatch(f"shard {os.fspath(folders[0])!r} was made with "
                                   f"{'; '.join(changed)}; only shards of one run merge")
    indices = sorted(s.shard_index for s in settings)
    if indices != list(range(first.num_shards)):
        missing = sorted(set(range(first.num_shards)) - set(indices))
        repeated = sorted({i for i in indices if indices.count(i) > 1})
        raise UsageError(f"the shards must be --shard-index 0 to {first.num_shards - 1} of "
                         f"--num-shards {first.num_shards}, each once; missing {missing}, "
                         f"repeated {repeated}")
    return first.unsharded()


def _link_or_copy(source: Path, target: Path) -> None:
    """Places ``source`` at ``target`` atomically: a hard link, else a copy."""
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp",
                                         dir=target.parent)
    os.close(handle)
    try:
        os.unlink(temporary)
        try:
            os.link(source, temporary)
        except OSError:
            shutil.copyfile(source, temporary)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def _check_apart(output: Path, folders: Sequence[Path]) -> None:
    """Refuses a merged folder that is a shard, lies inside one or holds one, however spelled
    (a symbolic link, ``..``): an ``--overwrite`` would clear that shard's outputs."""
    place = output.resolve()
    for folder in folders:
        shard = folder.resolve()
        if place == shard:
            relation = "is"
        elif place.is_relative_to(shard):
            relation = "lies inside"
        elif shard.is_relative_to(place):
            relation = "contains"
        else:
            continue
        raise UsageError(f"the merged folder {os.fspath(output)!r} {relation} the shard "
                         f"{os.fspath(folder)!r}; choose a merged folder outside the shards")


def _check_arrays(folder: Path, output: Path, entries: dict[str, Entry],
                  failures: list[Failure], links: list[tuple[Path, Path]]) -> None:
    """Checks one shard's arrays; collects its entries, failures and (array, target) links.

    Reads only: every shard is checked before the merged folder is written, so that a
    damaged shard leaves it as it was.
    """
    journal = {entry.record.id: entry for entry in Journal(folder).load().values()}
    for record in read_jsonl(folder / MANIFEST_FILE, Record):
        if record.id in entries:
            raise UsageError(f"utterance {record.id!r} ({record.source}) is in two shards")
        what = f"utterance {record.id!r} of {os.fspath(folder / MANIFEST_FILE)!r}"
        try:
            array = confined_path(folder, record.feature_filepath, FEATURES_DIR, what)
            target = confined_path(output, record.feature_filepath, FEATURES_DIR, what)
            if array.exists():
                check_regular_file(array, what)
        except ValueError as error:
            raise UsageError(f"{error}; a shard's arrays must be in its features/ folder") from None
        if not array.exists() or sha256_file(array) != record.sha256:
            raise UsageError(f"{os.fspath(array)!r} is missing or does not match the sha256 in "
                             f"{os.fspath(folder / MANIFEST_FILE)}; rerun that shard")
        links.append((array, target))
        entry = journal.get(record.id)
        if entry is None or entry.record != record:
            # Without its journal line the source's state is unknown: a resume redoes it.
            entry = Entry(record, -1, -1, array.stat().st_size)
        entries[record.id] = entry
    failures.extend(read_jsonl(folder / FAILURES_FILE, Failure))


def merge(shards: Sequence[str | os.PathLike[str]], output_dir: str | os.PathLike[str],
                   *, overwrite: bool = False) -> MergeSummary:
    """Merges the shard folders of one ``seqdown preprocess`` run into ``output_dir``.

    Args:
        shards: the shard folders, in any order.
        output_dir: the merged folder: new, empty, or (with ``overwrite``) a
            dataset folder to replace.
        overwrite: replace a dataset already in ``output_dir``.

    Returns:
        A :class:`MergeSummary`.

    Raises:
        UsageError: a shard is missing, incomplete, repeated or damaged,
            ``output_dir`` is a shard, lies inside one or holds one, is not
            new/empty (and not an ``overwrite``-able dataset), or it refuses
            writes (read-only, no permission); nothing was changed.
        SettingsMismatch: the shards were made with different settings.
        StorageError: writing the merged folder failed (no room, an I/O error);
            seqdown's outputs are removed from it again, so the same call can be
            repeated.
    """
    folders = [Path(shard).absolute() for shard in shards]
    if not folders:
        raise UsageError("give at least one shard folder before the merged folder")
    output = Path(output_dir).absolute()
    _check_apart(output, folders)
    settings = _check_shards(folders)
    if output.exists() and not output.is_dir():
        raise UsageError(f"MERGED_DIR must be a folder, got the file {os.fspath(output)!r}")
    occupied = output.exists() and any(p.name != LOCK_FILE for p in output.iterdir())
    if occupied and not (overwrite and (output / DATASET_FILE).exists()):
        raise UsageError(f"{os.fspath(output)!r} is not empty; choose a new folder, or pass "
                         "--overwrite to replace a dataset there")
    entries: dict[str, Entry] = {}
    failures: list[Failure] = []
    links: list[tuple[Path, Path]] = []
    for folder in folders:
        _check_arrays(folder, output, entries, failures, links)
    make_output_folder(output, "MERGED_DIR")
    with dataset_lock(output):
        try:
            with storage_errors(output):
                clear_outputs(output)
                (output / FEATURES_DIR).mkdir()
            for array, target in links:
                with storage_errors(target):
                    _link_or_copy(array, target)
            counts = finish_dataset(output, settings, list(entries.values()), failures)
        except BaseException:
            # A merge does not resume: leave no half of one (no room, an interrupt), so
            # that the same command runs again.
            with contextlib.suppress(OSError):
                clear_outputs(output)
            raise
    return MergeSummary(os.fspath(output_dir), len(folders), counts["utterances"],
                        counts["failures"], counts["hours"])

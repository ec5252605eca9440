"""Transcripts for folder inputs: LibriSpeech-style ``id text`` files matched to audio files.

A transcripts file (``--transcripts FILE``, LibriSpeech's ``*.trans.txt``)
holds one utterance per line: an id, then the text, separated by a tab
(``id<TAB>text``: the text is everything after the first tab) or, in a line
without a tab, by the first run of spaces (``id text``, LibriSpeech's
format). Lines end at ``\n`` or ``\r\n`` (not at the Unicode line separators
a text may hold). Blank lines are skipped; the text keeps its inner spaces, and
loses those at its ends.

**Id rule.** The id of an audio file is its path relative to INPUT_DIR without
the extension (``digits/one_us`` for ``digits/one_us.flac``), or its base name
without the extension (``one_us``, as LibriSpeech's ids are). A transcript id
is matched first against the relative paths, then against the base names; a
base name shared by several files is ambiguous, and the transcript must use
the relative path.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterable, Sequence
from pathlib import Path

__all__ = ["audio_ids", "match_transcripts", "read_transcripts"]


def read_transcripts(paths: Sequence[str | os.PathLike[str]]) -> dict[str, str]:
    """The texts of ``paths`` by id (files read in order).

    Raises:
        ValueError: a file cannot be read or is not UTF-8, a line has no text
            separator, or an id appears twice; the message names the file and line.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "1089-134686.trans.txt"
        >>> _ = path.write_text("1089-134686-0000 HE HOPED THERE\\nclip_2\\tsee  you\\n")
        >>> read_transcripts([path])
        {'1089-134686-0000': 'HE HOPED THERE', 'clip_2': 'see  you'}
    """
    texts: dict[str, str] = {}
    where: dict[str, str] = {}
    for path in paths:
        try:
            content = Path(path).read_text(encoding="utf-8-sig")  # a BOM is not in the id
        except (OSError, UnicodeDecodeError) as error:
            raise ValueError(f"--transcripts {os.fspath(path)!r} cannot be read: {error}"
                             ) from None
        # Lines end at "\n" (or "\r\n") only, not at U+2028, U+2029 or U+0085 in a text.
        for number, line in enumerate(content.split("\n"), start=1):
            line = line.removesuffix("\r")
            if not line.strip():
                continue
            here = f"--transcripts {os.fspath(path)!r} line {number}"
            if "\t" in line:
                identifier, text = line.split("\t", 1)
            else:
                parts = line.strip().split(None, 1)
                if len(parts) < 2:
                    raise ValueError(f"{here} must be 'id<TAB>text' or 'id text', got "
                                     f"{line[:200]!r}")
                identifier, text = parts
            identifier = identifier.strip()
            if not identifier:
                raise ValueError(f"{here} has no id: {line[:200]!r}")
            if identifier in texts:
                raise ValueError(f"{here} repeats the id {identifier!r} of {where[identifier]}")
            texts[identifier] = text.strip()
            where[identifier] = f"line {number} of {os.fspath(path)!r}"
    return texts


def audio_ids(source: str) -> tuple[str, str]:
    """The two ids of the relative path ``source``: without extension, and its base name so.

    Example:
        >>> audio_ids("train/1089/1089-134686-0000.flac")
        ('train/1089/1089-134686-0000', '1089-134686-0000')
    """
    stem = posixpath.splitext(source)[0]
    return stem, posixpath.basename(stem)


def match_transcripts(sources: Iterable[str], texts: dict[str, str]) -> dict[str, str]:
    """The text of each source that has one (see the id rule above).

    Args:
        sources: audio paths relative to INPUT_DIR (all of them, not one shard's,
            so that every shard matches alike).
        texts: :func:`read_transcripts`.

    Returns:
        ``{source: text}`` for the sources with a transcript.

    Raises:
        ValueError: a transcript id is the base name of several files.

    Example:
        >>> match_transcripts(["a/x.wav", "b/x.wav", "b/y.wav"], {"a/x": "one", "y": "two"})
        {'a/x.wav': 'one', 'b/y.wav': 'two'}
    """
    by_path: dict[str, str] = {}
    by_name: dict[str, list[str]] = {}
    for source in sources:
        stem, name = audio_ids(source)
        by_path[stem] = source
        by_name.setdefault(name, []).append(source)
    found: dict[str, str] = {}
    for identifier, text in texts.items():
        if identifier in by_path:
            found[by_path[identifier]] = text
            continue
        named = by_name.get(identifier, [])
        if len(named) > 1:
            raise ValueError(f"the transcript id {identifier!r} is the name of "
                             f"{len(named)} files ({', '.join(named[:3])}); use the path "
                             "relative to INPUT_DIR without extension as its id")
        if named:
            found.setdefault(named[0], text)
    return found

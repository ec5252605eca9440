"""The options of ``seqdown preprocess``: names, choices and defaults, defined once.

This module imports nothing heavy, so that the command line can be built (and
``seqdown preprocess --help`` answered) without torch. :class:`Settings`, the
feature code and the CLI all take their defaults and spellings from here.
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = [
    "AUDIO_EXTENSIONS",
    "CHANNEL_MODES",
    "CONNECT_TIMEOUT",
    "DEFAULT_CHANNELS",
    "DEFAULT_FEATURES",
    "DEFAULT_FILE_TIMEOUT",
    "DEFAULT_FRONTEND",
    "DEFAULT_HOP_MS",
    "DEFAULT_N_MELS",
    "DEFAULT_N_MFCC",
    "DEFAULT_PROGRESS_INTERVAL",
    "DEFAULT_SAMPLE_RATE",
    "DEFAULT_VERIFY",
    "DEFAULT_WIN_MS",
    "FEATURE_KINDS",
    "OPTION_NAMES",
    "VERIFY_OPTION",
    "ChannelMode",
    "FeatureKind",
]

FeatureKind = Literal["wave", "logmel", "mfcc"]
FEATURE_KINDS: tuple[str, ...] = get_args(FeatureKind)
ChannelMode = Literal["mono", "keep"]
CHANNEL_MODES: tuple[str, ...] = get_args(ChannelMode)

DEFAULT_SAMPLE_RATE = 16000
DEFAULT_FEATURES: FeatureKind = "logmel"
DEFAULT_N_MELS = 80
DEFAULT_N_MFCC = 13
DEFAULT_WIN_MS = 25.0
DEFAULT_HOP_MS = 10.0
DEFAULT_FRONTEND = "none"
DEFAULT_CHANNELS: ChannelMode = "mono"

#: Seconds one file may take (--file-timeout): generous, an hour of audio takes well under a
#: minute, so only a hung decoder or a dead mount reaches it.
DEFAULT_FILE_TIMEOUT = 600.0
#: Seconds between plain progress lines when standard error is not a terminal (a batch log).
DEFAULT_PROGRESS_INTERVAL = 30.0
#: Seconds to wait for a Dask scheduler (and for its scheduler file to appear).
CONNECT_TIMEOUT = 30.0

#: Resume compares contents too (SHA-256 of each finished array and its source), not only
#: sizes and modification times: off by default, it reads every finished file again.
VERIFY_OPTION = "--verify"
DEFAULT_VERIFY = False

#: How each setting is spelled on the command line (the CLI registers these flags).
OPTION_NAMES = {
    "input_dir": "INPUT_DIR",
    "sample_rate": "--sample-rate",
    "features": "--features",
    "n_mels": "--n-mels",
    "n_mfcc": "--n-mfcc",
    "win_ms": "--win-ms",
    "hop_ms": "--hop-ms",
    "frontend": "--frontend",
    "channels": "--channels",
    "num_shards": "--num-shards",
    "shard_index": "--shard-index",
    "exclude": "--exclude",
    "manifest": "--manifest",
    "transcripts": "--transcripts",
    "require_text": "--require-text",
}

#: Extensions (lower case, no dot) of the containers libsndfile reads.
AUDIO_EXTENSIONS = frozenset({
    "wav", "wave", "bwf", "rf64", "w64", "flac", "ogg", "oga", "opus", "mp3",
    "aif", "aiff", "aifc", "au", "snd", "caf", "sph", "nist", "voc", "sd2", "htk",
})

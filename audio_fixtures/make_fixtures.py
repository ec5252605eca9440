"""Regenerate every audio test fixture in this folder from scratch.

Run from the repository root::

    python audio_fixtures/make_fixtures.py

Needs, to *make* the fixtures only (nothing at test time needs them):

* ``espeak-ng`` on ``PATH`` (Debian/Ubuntu: ``apt-get install -y espeak-ng``), for speech;
* Python packages ``numpy``, ``scipy`` and ``soundfile`` (libsndfile >= 1.1 for MP3/Opus).

``python audio_fixtures/make_fixtures.py --transcribed`` remakes only the transcribed set
(``digits/digits.trans.txt``, ``manifests/``, ``long/``) from the digit files on disk, without
espeak-ng.

The script deletes and rewrites ``digits/``, ``signals/``, ``formats/``, ``broken/``, ``long/``
and ``manifests/``,
writes ``notes.txt`` and ``.hidden.wav``, then rewrites the file table in ``README.md``
between its ``BEGIN/END GENERATED TABLE`` markers from what soundfile reports for each file.

Output is deterministic: noise comes from a seeded RNG, espeak-ng is deterministic, and the
two non-deterministic bytes libsndfile writes are pinned after encoding (the time stamp in
the PEAK chunk of float WAV/AIFF files, and the random Ogg stream serial number). Re-running
with the same versions of espeak-ng, libsndfile and its codecs gives byte-identical files.
"""

from __future__ import annotations

import functools
import io
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import scipy.signal
import soundfile as sf

ROOT = Path(__file__).resolve().parent
README = ROOT / "README.md"
GENERATED_DIRS = ("digits", "signals", "formats", "broken", "long", "manifests")
TABLE_BEGIN = "<!-- BEGIN GENERATED TABLE -->"
TABLE_END = "<!-- END GENERATED TABLE -->"
SEED = 20240601
ESPEAK_SAMPLE_RATE = 22050
PEAK = 0.9  # peak amplitude of every speech file after trimming and resampling

Samples = np.ndarray  # float64, shape (time,) or (time, channels), values in [-1, 1]
Source = Callable[[int], Samples]  # sample_rate -> samples


@dataclass(frozen=True)
class Voice:
    """An espeak-ng voice setting.

    Attributes:
        tag: Short name used in file names; must not contain an underscore.
        voice: espeak-ng voice, optionally with a ``+variant``.
        speed: Words per minute (espeak-ng ``-s``).
        pitch: Pitch 0..99 (espeak-ng ``-p``).
    """

    tag: str
    voice: str
    speed: int
    pitch: int


@dataclass(frozen=True)
class AudioFixture:
    """A decodable audio file.

    Attributes:
        path: Path relative to this folder.
        source: Makes the samples at a given sample rate.
        sample_rate: Sample rate of the file in Hz.
        format: soundfile major format, e.g. ``"WAV"``.
        subtype: soundfile subtype, e.g. ``"PCM_16"``.
        purpose: What the file is for, for the README table.
    """

    path: str
    source: Source
    sample_rate: int
    format: str
    subtype: str
    purpose: str


@dataclass(frozen=True)
class RawFixture:
    """A file written byte by byte (broken audio, non-audio files).

    Attributes:
        path: Path relative to this folder.
        content: Makes the file's bytes.
        purpose: What the file is for, for the README table.
    """

    path: str
    content: Callable[[], bytes]
    purpose: str


# ----------------------------------------------------------------------------- speech


@functools.cache
def speak(text: str, voice: Voice) -> Samples:
    """Synthesise ``text`` with espeak-ng at its native 22050 Hz.

    Args:
        text: What to say.
        voice: Voice, speed and pitch.

    Returns:
        Mono float64 samples at ``ESPEAK_SAMPLE_RATE``, shape ``(time,)``.

    Raises:
        RuntimeError: If espeak-ng is not installed or its output is not 22050 Hz mono.
    """
    if shutil.which("espeak-ng") is None:
        raise RuntimeError("espeak-ng not found on PATH; install it: apt-get install espeak-ng")
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        command = ["espeak-ng", "-w", str(wav), "-v", voice.voice,
                   "-s", str(voice.speed), "-p", str(voice.pitch), text]
        subprocess.run(command, check=True, capture_output=True)
        samples, sample_rate = sf.read(wav, dtype="float64")
    if sample_rate != ESPEAK_SAMPLE_RATE or samples.ndim != 1:
        raise RuntimeError(
            f"espeak-ng wrote {sample_rate} Hz with shape {samples.shape}, "
            f"expected {ESPEAK_SAMPLE_RATE} Hz mono"
        )
    return samples


def trim_silence(samples: Samples, sample_rate: int, threshold_db: float = -40.0,
                 margin: float = 0.01) -> Samples:
    """Cut leading and trailing samples quieter than ``threshold_db`` below the peak.

    Args:
        samples: Mono samples, shape ``(time,)``.
        sample_rate: Sample rate in Hz.
        threshold_db: Level relative to the peak below which a sample counts as silence.
        margin: Seconds of signal kept on each side of the loud part.

    Returns:
        The trimmed samples.
    """
    loud = np.flatnonzero(np.abs(samples) > np.abs(samples).max() * 10 ** (threshold_db / 20))
    keep = round(margin * sample_rate)
    return samples[max(loud[0] - keep, 0): loud[-1] + 1 + keep]


def resample(samples: Samples, from_rate: int, to_rate: int) -> Samples:
    """Resample along the first axis with scipy's polyphase filter.

    Args:
        samples: Samples, shape ``(time,)`` or ``(time, channels)``.
        from_rate: Sample rate of ``samples`` in Hz.
        to_rate: Wanted sample rate in Hz.

    Returns:
        The resampled samples.
    """
    ratio = Fraction(to_rate, from_rate)
    if ratio == 1:
        return samples
    return scipy.signal.resample_poly(samples, ratio.numerator, ratio.denominator, axis=0)


def speech(text: str, voice: Voice) -> Source:
    """Make a source of trimmed, peak-normalised speech.

    Args:
        text: What to say.
        voice: Voice, speed and pitch.

    Returns:
        A function from sample rate to mono samples.
    """

    def source(sample_rate: int) -> Samples:
        samples = trim_silence(speak(text, voice), ESPEAK_SAMPLE_RATE)
        samples = resample(samples, ESPEAK_SAMPLE_RATE, sample_rate)
        return PEAK * samples / np.abs(samples).max()

    return source


# ---------------------------------------------------------------------------- signals


def _time(sample_rate: int, duration: float) -> np.ndarray:
    return np.arange(round(sample_rate * duration)) / sample_rate


def tones(*frequencies: float, duration: float, amplitude: float = 0.5) -> Source:
    """Make a source of sine tones, one channel per frequency.

    Args:
        *frequencies: Frequency of each channel in Hz.
        duration: Length in seconds.
        amplitude: Peak amplitude.

    Returns:
        A function from sample rate to samples of shape ``(time, len(frequencies))``.
    """

    def source(sample_rate: int) -> Samples:
        t = _time(sample_rate, duration)[:, None]
        return amplitude * np.sin(2 * np.pi * np.asarray(frequencies) * t)

    return source


def chirp(start: float, stop: float, duration: float, method: str,
          amplitude: float = 0.5) -> Source:
    """Make a source of a frequency sweep (see ``scipy.signal.chirp``).

    Args:
        start: Frequency at time 0 in Hz.
        stop: Frequency at ``duration`` in Hz.
        duration: Length in seconds.
        method: ``"linear"`` or ``"logarithmic"``.
        amplitude: Peak amplitude.

    Returns:
        A function from sample rate to mono samples.
    """

    def source(sample_rate: int) -> Samples:
        t = _time(sample_rate, duration)
        return amplitude * scipy.signal.chirp(t, start, duration, stop, method=method)

    return source


def white_noise(duration: float, std: float = 0.25) -> Source:
    """Make a source of seeded Gaussian white noise, clipped to [-1, 1].

    Args:
        duration: Length in seconds.
        std: Standard deviation before clipping.

    Returns:
        A function from sample rate to mono samples.
    """

    def source(sample_rate: int) -> Samples:
        rng = np.random.default_rng(SEED)
        return np.clip(std * rng.standard_normal(round(sample_rate * duration)), -1.0, 1.0)

    return source


def with_values(source: Source, value: float, start: float, stop: float) -> Source:
    """Overwrite a stretch of another source with a constant such as NaN or +Inf.

    Args:
        source: The source to alter.
        value: The value written.
        start: Where the stretch starts, in seconds.
        stop: Where it stops, in seconds.

    Returns:
        A function from sample rate to the altered samples.
    """

    def altered(sample_rate: int) -> Samples:
        samples = np.array(source(sample_rate), dtype=np.float64)
        samples[round(start * sample_rate): round(stop * sample_rate)] = value
        return samples

    return altered


def silence(sample_rate: int) -> Samples:
    """A source with no samples at all."""
    return np.zeros(0)


# --------------------------------------------------------------------------- encoding


def _zero_peak_timestamp(data: bytes) -> bytes:
    """Zero the time stamp libsndfile puts in the PEAK chunk of float WAV and AIFF files.

    PEAK chunk body: version (uint32), time stamp (uint32, seconds since 1970), then the
    peak of each channel. WAV (RIFF) chunks are little-endian, AIFF (FORM) big-endian; both
    pad chunks to an even size.
    """
    byteorder = {b"RIFF": "little", b"FORM": "big"}.get(data[:4])
    if byteorder is None:
        return data
    out = bytearray(data)
    position = 12
    while position + 8 <= len(out):
        size = int.from_bytes(out[position + 4: position + 8], byteorder)
        if out[position: position + 4] == b"PEAK":
            out[position + 12: position + 16] = bytes(4)
        position += 8 + size + (size & 1)
    return bytes(out)


def _ogg_crc_table() -> tuple[int, ...]:
    # Ogg page checksum: CRC-32, polynomial 0x04C11DB7, not reflected, initial value 0.
    table = []
    for index in range(256):
        crc = index << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7 if crc & 0x80000000 else crc << 1) & 0xFFFFFFFF
        table.append(crc)
    return tuple(table)


_OGG_CRC = _ogg_crc_table()


def _ogg_checksum(page: bytes) -> int:
    crc = 0
    for byte in page:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _OGG_CRC[(crc >> 24) ^ byte]
    return crc


def _pin_ogg_serial(data: bytes, serial: int = SEED) -> bytes:
    """Replace the random stream serial number libsndfile gives an Ogg file.

    Each page: ``OggS``, version, flags, granule (8 bytes), serial (4, at offset 14),
    sequence (4), CRC (4, at offset 22), segment count (at 26), segment sizes, body. The CRC
    covers the whole page with its own field zeroed, so it is recomputed after the change.

    Raises:
        ValueError: If the data is not a single-stream Ogg file.
    """
    out = bytearray(data)
    serials = set()
    position = 0
    while position < len(out):
        if out[position: position + 4] != b"OggS":
            raise ValueError(f"no Ogg page at byte {position}")
        segments = out[position + 26]
        size = 27 + segments + sum(out[position + 27: position + 27 + segments])
        page = out[position: position + size]
        serials.add(bytes(page[14:18]))
        page[14:18] = serial.to_bytes(4, "little")
        page[22:26] = bytes(4)
        page[22:26] = _ogg_checksum(page).to_bytes(4, "little")
        out[position: position + size] = page
        position += size
    if len(serials) != 1:
        raise ValueError(f"expected one Ogg stream, found {len(serials)}")
    return bytes(out)


def encode(samples: Samples, sample_rate: int, format: str, subtype: str) -> bytes:
    """Encode samples with soundfile and pin the bytes libsndfile would randomise.

    Args:
        samples: Samples, shape ``(time,)`` or ``(time, channels)``.
        sample_rate: Sample rate in Hz.
        format: soundfile major format.
        subtype: soundfile subtype.

    Returns:
        The encoded file.
    """
    buffer = io.BytesIO()
    sf.write(buffer, samples, sample_rate, format=format, subtype=subtype)
    data = _zero_peak_timestamp(buffer.getvalue())
    return _pin_ogg_serial(data) if format == "OGG" else data


def encoded(fixture: AudioFixture) -> bytes:
    """Encode an audio fixture."""
    samples = fixture.source(fixture.sample_rate)
    return encode(samples, fixture.sample_rate, fixture.format, fixture.subtype)


# ----------------------------------------------------------------------------- tables

DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")

# (voice, sample rate): six speakers, at four sample rates so that loaders must resample.
SPEAKERS = (
    (Voice("us", "en-us", speed=150, pitch=50), 16000),
    (Voice("m3", "en+m3", speed=130, pitch=40), 16000),
    (Voice("f2", "en+f2", speed=170, pitch=60), 16000),
    (Voice("f4", "en+f4", speed=140, pitch=75), 8000),
    (Voice("gbm1", "en-gb+m1", speed=120, pitch=35), 22050),
    (Voice("klatt", "en-us+klatt", speed=185, pitch=55), 11025),
)

NARRATOR = Voice("us", "en-us", speed=160, pitch=50)
PHRASE = speech("hello world", NARRATOR)
SENTENCE = speech("the quick brown fox jumps over the lazy dog", NARRATOR)
SINE_1K = tones(1000.0, duration=1.0)

SIGNALS = (
    AudioFixture("signals/sine_1k_48k_float.wav", SINE_1K, 48000, "WAV", "FLOAT",
                 "1 kHz sine, amplitude 0.5: passes any low-pass with cutoff above 1 kHz"),
    AudioFixture("signals/chirp_linear_44k1_pcm24.wav", chirp(0.0, 22050.0, 1.0, "linear"),
                 44100, "WAV", "PCM_24",
                 "linear sweep 0 to 22.05 kHz (Nyquist), amplitude 0.5: aliasing demos"),
    AudioFixture("signals/chirp_log_16k.wav", chirp(20.0, 8000.0, 2.0, "logarithmic"),
                 16000, "WAV", "PCM_16", "logarithmic sweep 20 Hz to 8 kHz, amplitude 0.5"),
    AudioFixture("signals/two_tone_stereo_32k.wav", tones(440.0, 1000.0, duration=1.0),
                 32000, "WAV", "PCM_16",
                 "stereo: 440 Hz left, 1 kHz right, amplitude 0.5; channel order and layout"),
    AudioFixture("signals/white_noise_8k_u8.wav", white_noise(1.0), 8000, "WAV", "PCM_U8",
                 f"Gaussian white noise, std 0.25, seed {SEED}; unsigned 8-bit decoding"),
    AudioFixture("signals/speech_fox_22k.wav", SENTENCE, 22050, "WAV", "PCM_16",
                 "'the quick brown fox jumps over the lazy dog', espeak-ng en-us"),
)

# (name, format, subtype, sample rate): the same phrase in every container libsndfile writes.
FORMATS = (
    ("wav_pcm_u8.wav", "WAV", "PCM_U8", 16000),
    ("wav_pcm_16.wav", "WAV", "PCM_16", 16000),
    ("wav_pcm_24.wav", "WAV", "PCM_24", 16000),
    ("wav_float.wav", "WAV", "FLOAT", 16000),
    ("flac_pcm_16.flac", "FLAC", "PCM_16", 16000),
    ("ogg_vorbis.ogg", "OGG", "VORBIS", 16000),
    ("ogg_opus.opus", "OGG", "OPUS", 48000),
    ("mp3.mp3", "MP3", "MPEG_LAYER_III", 16000),
    ("aiff_pcm_16.aiff", "AIFF", "PCM_16", 16000),
    ("au_pcm_16.au", "AU", "PCM_16", 16000),
    ("caf_pcm_16.caf", "CAF", "PCM_16", 16000),
    ("grüße aus köln.wav", "WAV", "PCM_16", 16000),
    ("UPPER.WAV", "WAV", "PCM_16", 16000),
)

HIDDEN = AudioFixture(".hidden.wav", SINE_1K, 16000, "WAV", "PCM_16",
                      "valid WAV, but hidden: file discovery must skip it")

VALID_WAV = AudioFixture("", tones(440.0, duration=0.5), 16000, "WAV", "PCM_16", "")
NO_FRAMES_WAV = AudioFixture("", silence, 16000, "WAV", "PCM_16", "")
WAV_HEADER_BYTES = 44  # libsndfile's PCM WAV header: RIFF (12) + fmt chunk (24) + data header (8)


def _cut(fixture: AudioFixture, size: int) -> Callable[[], bytes]:
    return lambda: encoded(fixture)[:size]


def _constant(content: bytes) -> Callable[[], bytes]:
    return lambda: content


def _float_sine_with(value: float) -> AudioFixture:
    return AudioFixture("", with_values(SINE_1K, value, 0.25, 0.26), 16000, "WAV", "FLOAT", "")


BROKEN = (
    RawFixture("broken/empty.wav", _constant(b""), "0 bytes"),
    RawFixture("broken/truncated_data.wav", _cut(VALID_WAV, WAV_HEADER_BYTES + 5000),
               "PCM_16 WAV whose header claims 0.5 s (8000 frames) but whose data stops "
               "after 5000 bytes; soundfile does not raise, so a loader that must catch it "
               "compares frames with the header (libsndfile logs it in "
               "`SoundFile.extra_info` as `(should be ...)`)"),
    RawFixture("broken/truncated_header.wav", _cut(VALID_WAV, 28),
               "first 28 bytes of a WAV: cut in the middle of the `fmt ` chunk"),
    RawFixture("broken/not_audio.flac",
               _constant(b"This is a text file with an audio extension. It is not FLAC.\n"),
               "plain text named .flac"),
    RawFixture("broken/zero_samples.wav", lambda: encoded(NO_FRAMES_WAV),
               "valid 16 kHz PCM_16 WAV header, 0 frames"),
    RawFixture("broken/nan.wav", lambda: encoded(_float_sine_with(np.nan)),
               "32-bit float WAV, 1 kHz sine with NaN from 0.25 s to 0.26 s"),
    RawFixture("broken/inf.wav", lambda: encoded(_float_sine_with(np.inf)),
               "32-bit float WAV, 1 kHz sine with +Inf from 0.25 s to 0.26 s"),
)

NOTES = RawFixture(
    "notes.txt",
    _constant(b"Not audio. File discovery must ignore this file; see README.md.\n"),
    "text file: file discovery must ignore it",
)


# ------------------------------------------------------------------ transcribed set
# Made from the digit files on disk (no espeak-ng needed): `--transcribed` remakes only these.

#: The voice of the long recording, and the silence before it and after each word.
COUNTING_VOICE, COUNTING_LEAD, COUNTING_GAP = "us", 0.3, 0.2
COUNTING_RATE = 16000  # the rate of the `us` digits


def _digit_samples(digit: str, tag: str) -> tuple[np.ndarray, int]:
    """The int16 samples of ``digits/<digit>_<tag>.flac`` and its sample rate."""
    samples, sample_rate = sf.read(ROOT / f"digits/{digit}_{tag}.flac", dtype="int16")
    return samples, sample_rate


def _counting() -> tuple[np.ndarray, list[dict[str, object]]]:
    """The long recording ("zero" ... "nine", one voice) and its NeMo segment lines.

    The words are the samples of the digit files, unchanged, so a segment decodes
    to exactly the samples of its digit file.
    """
    lead, gap = (np.zeros(round(s * COUNTING_RATE), np.int16)
                 for s in (COUNTING_LEAD, COUNTING_GAP))
    pieces, lines, position = [lead], [], lead.size
    for digit in DIGITS:
        samples, sample_rate = _digit_samples(digit, COUNTING_VOICE)
        if sample_rate != COUNTING_RATE:
            raise ValueError(f"digits/{digit}_{COUNTING_VOICE}.flac is at {sample_rate} Hz, "
                             f"not {COUNTING_RATE}")
        lines.append({"audio_filepath": "counting.flac", "offset": position / COUNTING_RATE,
                      "duration": samples.size / COUNTING_RATE, "text": digit,
                      "speaker": COUNTING_VOICE})
        pieces += [samples, gap]
        position += samples.size + gap.size
    return np.concatenate(pieces), lines


def _flac_int16(samples: np.ndarray, sample_rate: int) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples, sample_rate, format="FLAC", subtype="PCM_16")
    return buffer.getvalue()


def _jsonl(lines: list[dict[str, object]]) -> bytes:
    return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode()


def _digit_lines() -> list[dict[str, object]]:
    """A NeMo manifest line per digit file, relative to ``manifests/``."""
    lines = []
    for path in sorted((ROOT / "digits").glob("*.flac")):
        digit, tag = path.stem.split("_", 1)
        info = sf.info(path)
        lines.append({"audio_filepath": f"../digits/{path.name}",
                      "duration": info.frames / info.samplerate, "text": digit, "speaker": tag})
    return lines


def _trans_txt() -> bytes:
    """LibriSpeech-style ``id text`` lines for the digit files (ids: base names)."""
    names = sorted(path.stem for path in (ROOT / "digits").glob("*.flac"))
    return "".join(f"{name} {name.split('_', 1)[0].upper()}\n" for name in names).encode()


def transcribed_fixtures() -> list[RawFixture]:
    """The transcribed set: a manifest and a trans.txt for the digits, a long recording."""
    return [
        RawFixture("digits/digits.trans.txt", _trans_txt,
                   "LibriSpeech-style transcripts of the digits: `<file name without "
                   "extension> <WORD>`"),
        RawFixture("manifests/digits.jsonl", lambda: _jsonl(_digit_lines()),
                   "NeMo manifest of the digits: `audio_filepath` (relative: `../digits/...`), "
                   "`duration`, `text`, and an extra key `speaker`"),
        RawFixture("long/counting.flac", lambda: _flac_int16(_counting()[0], COUNTING_RATE),
                   f"one long recording: \"zero\" ... \"nine\" (the samples of "
                   f"`digits/*_{COUNTING_VOICE}.flac`), {COUNTING_LEAD} s of silence before, "
                   f"{COUNTING_GAP} s after each word"),
        RawFixture("long/counting.jsonl", lambda: _jsonl(_counting()[1]),
                   "NeMo manifest of the ten words of `long/counting.flac` as `offset` "
                   "segments (exact sample positions), with `text` and `speaker`"),
    ]


def audio_fixtures() -> list[AudioFixture]:
    """All decodable fixtures: digits, signals, formats and the hidden file."""
    digits = [
        AudioFixture(f"digits/{digit}_{voice.tag}.flac", speech(digit, voice), sample_rate,
                     "FLAC", "PCM_16",
                     f"label `{digit}`; espeak-ng `{voice.voice}`, "
                     f"speed {voice.speed}, pitch {voice.pitch}")
        for voice, sample_rate in SPEAKERS
        for digit in DIGITS
    ]
    formats = [
        AudioFixture(f"formats/{name}", PHRASE, sample_rate, format, subtype,
                     f"'hello world' as {format}/{subtype}")
        for name, format, subtype, sample_rate in FORMATS
    ]
    return [*sorted(digits, key=lambda f: f.path), *SIGNALS, *formats, HIDDEN]


def raw_fixtures() -> list[RawFixture]:
    """All fixtures written byte by byte: the broken files and ``notes.txt``."""
    return [*BROKEN, NOTES]


# ----------------------------------------------------------------------------- README


def soundfile_outcome(path: Path) -> str:
    """Describe what ``soundfile.read`` does with a file, for the README."""
    try:
        samples, _ = sf.read(path, dtype="float32")
        with sf.SoundFile(path) as handle:
            log = [line.strip() for line in handle.extra_info.splitlines() if "should be" in line]
    except sf.LibsndfileError as error:
        return f"raises `LibsndfileError`: {error.error_string}"
    outcome = f"reads {len(samples)} frames"
    if samples.size and not np.isfinite(samples).all():
        outcome += (f", {np.isnan(samples).sum()} NaN and {np.isposinf(samples).sum()} +Inf "
                    f"samples")
    if log:
        outcome += ", no error; libsndfile log: " + "; ".join(f"`{line}`" for line in log)
    return outcome


def table_row(path: str, purpose: str, outcome: bool) -> str:
    """One README table row, filled in from what soundfile reports for the file."""
    columns = ["—"] * 5
    try:
        info = sf.info(ROOT / path)
        columns = [f"{info.format}/{info.subtype}", str(info.samplerate), str(info.channels),
                   str(info.frames), f"{info.frames / info.samplerate:.3f}"]
    except sf.LibsndfileError:
        pass
    if outcome:
        purpose = f"{purpose}. **soundfile:** {soundfile_outcome(ROOT / path)}"
    return "| " + " | ".join([f"`{path}`", *columns, purpose]) + " |"


def write_readme_table(audio: list[AudioFixture], raw: list[RawFixture]) -> None:
    """Replace the table between the README markers with one made from the files.

    Raises:
        ValueError: If README.md lacks the markers.
    """
    text = README.read_text(encoding="utf-8")
    if TABLE_BEGIN not in text or TABLE_END not in text:
        raise ValueError(f"{README} must contain {TABLE_BEGIN!r} and {TABLE_END!r}")
    header = ["| Path | Format/subtype | Sample rate (Hz) | Channels | Frames | Duration (s) "
              "| Purpose |", "|---|---|---:|---:|---:|---:|---|"]
    rows = [table_row(f.path, f.purpose, outcome=False) for f in audio]
    rows += [table_row(f.path, f.purpose, outcome=f.path.startswith("broken/")) for f in raw]
    before, rest = text.split(TABLE_BEGIN, 1)
    after = rest.split(TABLE_END, 1)[1]
    made_with = (f"Made with soundfile {sf.__version__}, "
                 f"libsndfile {sf.__libsndfile_version__}.\n")
    table = "\n".join([made_with, *header, *rows])
    README.write_text(f"{before}{TABLE_BEGIN}\n{table}\n{TABLE_END}{after}", encoding="utf-8")


# ------------------------------------------------------------------------------- main


def _write(contents: list[tuple[str, bytes]]) -> None:
    for path, data in contents:
        (ROOT / path).parent.mkdir(parents=True, exist_ok=True)
        (ROOT / path).write_bytes(data)


def main(transcribed_only: bool = False) -> None:
    """Delete the generated folders, write every fixture and refresh the README table.

    Args:
        transcribed_only: remake only the transcribed set, from the digit files
            already on disk (needs no espeak-ng).
    """
    audio, raw = audio_fixtures(), raw_fixtures()
    contents: list[tuple[str, bytes]] = []
    if not transcribed_only:
        for name in GENERATED_DIRS:
            shutil.rmtree(ROOT / name, ignore_errors=True)
        contents = [(f.path, encoded(f)) for f in audio] + [(f.path, f.content()) for f in raw]
        _write(contents)
    transcribed = transcribed_fixtures()  # made from the digit files just written
    made = [(f.path, f.content()) for f in transcribed]
    _write(made)
    write_readme_table(audio, raw + transcribed)
    total = sum(len(data) for _, data in contents + made)
    print(f"wrote {len(contents + made)} files, {total / 1e6:.2f} MB, and the table in "
          f"{README.name}")


if __name__ == "__main__":
    main(transcribed_only="--transcribed" in sys.argv[1:])

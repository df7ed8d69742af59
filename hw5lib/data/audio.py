"""Spoken digits: real recordings (AudioMNIST, FSDD), synthetic ones, and features.

Two real layouts are recognised from the folder itself:

* **FSDD** (Free Spoken Digit Dataset): ``recordings/{digit}_{speaker}_{index}.wav``, 8 kHz;
* **AudioMNIST**: ``data/NN/{digit}_{NN}_{repetition}.wav``, 48 kHz, one folder per speaker.

Where recordings come from (a folder, this machine's FSDD, the cache, a download) is
:func:`hw5lib.data.fetch.locate_digits`. With none, :func:`load_digits` uses the crowd of synthetic
speakers of :mod:`hw5lib.data.crowd` (several engines and voices, each speaker with its own
channel and room); :func:`synthesize_digits` keeps the earlier set of 12 espeak-ng voice variants,
for comparison (bench/synthetic_to_real.py). Both are deterministic and cached, made once per machine.

Every clip is checked as it is read, and a problem stops the load with one sentence naming the
file (a file that is not audio, empty or silent audio, several channels, an unparsable name),
unless ``skip_bad=True`` asks for such files to be reported and skipped. A clip at another rate
is resampled, and the load says so once.

Features (:func:`mfcc_sequence`, :func:`log_mel`, :func:`extract`) use 25 ms frames with a 10 ms
hop by default, and :func:`extract` caches each clip's features on disk, keyed by the clip's
samples and every parameter, so a second run reads them back.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tempfile
import warnings
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from hw5lib.io import atomic_write_bytes
from hw5lib.progress import progress as progress_bar

__all__ = [
    "AudioError", "Clip", "DigitSet", "find_clips", "load_audio", "load_digits", "synthesize_digits",
    "shared_fsdd", "mfcc_sequence", "log_mel", "extract", "cache_root", "SYNTHETIC_VOICES",
]

ROOT = Path(__file__).resolve().parents[2]
NAME = re.compile(r"^(?P<digit>\d)_(?P<speaker>[A-Za-z0-9-]+)_(?P<take>\d+)\.wav$", re.IGNORECASE)
SILENCE = 1e-4  # peak amplitude below which a clip counts as silent (full scale is 1)
FEATURE_VERSION = 1  # bump when a feature's computation changes, so cached features are recomputed


class AudioError(ValueError):
    """A data folder or an audio file cannot be used; the message names it and says what to do."""


def cache_root() -> Path:
    """Where made data and features are cached: $HW5LIB_CACHE, else ~/.cache/hw5lib."""
    root = os.environ.get("HW5LIB_CACHE")
    return Path(root) if root else Path.home() / ".cache" / "hw5lib"


def shared_fsdd() -> Path | None:
    """The FSDD recordings of this workplace, when present: $HW5LIB_DATA/fsdd, else
    ../shared/data/fsdd beside the project."""
    base = Path(os.environ["HW5LIB_DATA"]) if os.environ.get("HW5LIB_DATA") else ROOT.parent / "shared" / "data"
    folder = base / "fsdd" / "recordings"
    return folder if folder.is_dir() else None


# --- finding and reading clips ------------------------------------------------------------------

@dataclass(frozen=True)
class Clip:
    path: Path
    digit: int
    speaker: str
    take: int


def find_clips(folder, skip_bad: bool = False, report: Callable[[str], None] = print) -> tuple[str, list[Clip]]:
    """The layout ('fsdd' or 'audiomnist') and the clips under ``folder``, sorted.

    ``folder`` may be the dataset's root or its ``recordings/`` / ``data/`` folder."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise AudioError(f"The data folder {folder} does not exist; give the folder that holds FSDD's "
                         "recordings/ or AudioMNIST's data/.")
    wavs = sorted(p for p in folder.rglob("*") if p.suffix.lower() == ".wav" and p.is_file())
    if not wavs:
        raise AudioError(f"No .wav files under {folder}; expected FSDD ({{digit}}_{{speaker}}_{{index}}.wav) "
                         "or AudioMNIST (NN/{digit}_{NN}_{repetition}.wav).")
    clips = []
    for path in wavs:
        match = NAME.match(path.name)
        if match is None:
            message = (f"Cannot read a digit label from the file name {path}; expected "
                       "{digit}_{speaker}_{index}.wav, e.g. 7_jackson_12.wav.")
            if not skip_bad:
                raise AudioError(message)
            report(f"skipped: {message}")
            continue
        clips.append(Clip(path, int(match["digit"]), match["speaker"], int(match["take"])))
    if not clips:
        raise AudioError(f"None of the .wav files under {folder} is named like a spoken digit.")
    by_folder = all(c.path.parent.name == c.speaker and c.speaker.isdigit() for c in clips)
    return ("audiomnist" if by_folder else "fsdd"), clips


def load_audio(path, sample_rate: int, on_resample: Callable[[int], None] | None = None) -> np.ndarray:
    """One mono clip as float32 in [-1, 1] at ``sample_rate``, checked.

    Raises :class:`AudioError` for a file that is not audio, has several channels, is empty or is
    silent. A clip at another rate is resampled; ``on_resample(original_rate)`` is told."""
    import soundfile

    path = Path(path)
    try:
        audio, rate = soundfile.read(path, dtype="float32", always_2d=True)
    except Exception as exc:  # soundfile raises its own error types, and RuntimeError on old versions
        raise AudioError(f"{path} is not a readable audio file ({str(exc).strip() or type(exc).__name__}).") from exc
    if audio.shape[1] != 1:
        raise AudioError(f"{path} has {audio.shape[1]} channels; the clips must be mono "
                         f"(mix it down first, e.g. `sox {path.name} -c 1 mono.wav`).")
    audio = audio[:, 0]
    if audio.size == 0:
        raise AudioError(f"{path} holds no samples.")
    if np.max(np.abs(audio)) < SILENCE:
        raise AudioError(f"{path} is silent (peak below {SILENCE}); check the recording.")
    if rate != sample_rate:
        import librosa

        if on_resample is not None:
            on_resample(rate)
        audio = librosa.resample(audio, orig_sr=rate, target_sr=sample_rate).astype(np.float32)
    return audio


# --- a set of spoken digits ----------------------------------------------------------------------

@dataclass
class DigitSet:
    """Spoken digits at one rate: ``audio[i]`` says ``digits[i]``, spoken by ``speakers[i]``."""

    audio: list
    digits: np.ndarray
    speakers: np.ndarray
    sample_rate: int
    source: str  # "FSDD", "AudioMNIST" or "synthetic crowd (<engines>)"
    folder: Path | None
    synthetic: bool
    notes: list = field(default_factory=list)  # what the load changed or skipped, in sentences
    origin: dict = field(default_factory=dict)  # how it was found (hw5lib.data.fetch.Origin.describe)

    def __len__(self) -> int:
        return len(self.audio)

    @property
    def speaker_names(self) -> list[str]:
        return sorted(set(self.speakers.tolist()))

    def counts(self):
        """Clips per speaker (rows) and digit (columns), as a DataFrame."""
        import pandas as pd

        return pd.crosstab(pd.Series(self.speakers, name="speaker"), pd.Series(self.digits, name="digit"))

    def describe(self) -> dict:
        """Which data this is: name, size, rate, folder, whether synthetic, and how it was found
        (and, when synthetic, why no recordings were used)."""
        return {"source": self.source, "synthetic": self.synthetic, "clips": len(self),
                "speakers": len(self.speaker_names), "sample_rate": self.sample_rate,
                "folder": str(self.folder) if self.folder else None, **self.origin}


def _limit(clips: list[Clip], per_speaker_digit: int | None, max_speakers: int | None) -> list[Clip]:
    speakers = sorted({c.speaker for c in clips})
    if max_speakers is not None:
        speakers = speakers[:max_speakers]
    kept, seen = [], {}
    for clip in sorted(clips, key=lambda c: (c.speaker, c.digit, c.take)):
        if clip.speaker not in speakers:
            continue
        key = (clip.speaker, clip.digit)
        seen[key] = seen.get(key, 0) + 1
        if per_speaker_digit is None or seen[key] <= per_speaker_digit:
            kept.append(clip)
    return kept


def load_digits(data_dir=None, sample_rate: int = 8000, per_speaker_digit: int | None = None,
                max_speakers: int | None = None, skip_bad: bool = False, synthetic_speakers: int = 8,
                synthetic_takes: int = 10, seed: int = 0, progress: bool = True,
                report: Callable[[str], None] = print, synthetic_catalogue: str | None = None) -> DigitSet:
    """Load spoken digits.

    ``data_dir``: a folder in the FSDD or AudioMNIST layout; ``"fsdd"`` or ``"audiomnist"`` for
    that data set, found or downloaded and verified (:func:`hw5lib.data.fetch.locate_digits`);
    ``"auto"`` for FSDD when it can be had and synthetic digits otherwise; ``None`` or
    ``"synthetic"`` for synthetic digits: the first ``synthetic_speakers`` speakers of the crowd
    (:mod:`hw5lib.data.crowd`), ``synthetic_takes`` takes of each digit, its voices those of the
    catalogue ``synthetic_catalogue`` (every voice found when None). ``per_speaker_digit`` and
    ``max_speakers`` take a deterministic subset."""
    from hw5lib.data.fetch import locate_digits, resampled

    origin = locate_digits(data_dir, progress=progress, report=report)
    synthetic = origin.synthetic
    crowd = None
    if synthetic:  # the crowd of synthetic speakers: several engines, voices, channels and rooms
        from hw5lib.data.crowd import describe_crowd, synthesize_crowd

        folder = synthesize_crowd(synthetic_speakers, synthetic_takes, seed=seed, progress=progress, report=report,
                                  catalogue=synthetic_catalogue)
        crowd = describe_crowd(synthetic_speakers, seed, catalogue=synthetic_catalogue)
    elif origin.dataset == "AudioMNIST":  # 48 kHz: resampled to the chapters' rate once, into the cache
        folder = resampled(origin.folder.parent, origin.folder.name, sample_rate, progress) / origin.folder.name
    else:
        folder = origin.folder
    layout, clips = find_clips(folder, skip_bad=skip_bad, report=report)
    clips = _limit(clips, per_speaker_digit, max_speakers)
    source = (f"synthetic crowd ({', '.join(crowd['engines'])})" if synthetic
              else {"fsdd": "FSDD", "audiomnist": "AudioMNIST"}[layout])
    notes, rates, audio, kept = [], Counter(), [], []
    for clip in progress_bar(clips, progress, f"reading {source} clips"):
        try:
            audio.append(load_audio(clip.path, sample_rate, on_resample=lambda rate: rates.update([rate])))
            kept.append(clip)
        except AudioError as error:
            if not skip_bad:
                raise
            notes.append(f"skipped: {error}")
            report(f"skipped: {error}")
    if not kept:
        raise AudioError(f"No usable clips under {folder}.")
    for rate, count in sorted(rates.items()):
        note = f"resampled {count} clips from {rate} Hz to {sample_rate} Hz"
        notes.append(note)
        report(note)
    return DigitSet(audio, np.array([c.digit for c in kept]), np.array([c.speaker for c in kept]),
                    sample_rate, source, folder, synthetic, notes,
                    {**origin.describe(), **({"crowd": _crowd_record(crowd)} if crowd else {})})


def _crowd_record(crowd: dict) -> dict:
    """What a result records of the synthetic crowd it used: voices per engine, the voices its
    speakers speak with, what was skipped, the catalogue it was pinned to and the cache key of its voices."""
    return {"engines": {engine: len(voices) for engine, voices in crowd["engines"].items()},
            "voices_used": crowd["voices_used"], "skipped": crowd["skipped"], "catalogue": crowd.get("catalogue"),
            "catalogue_key": crowd["catalogue_key"], "version": crowd["version"]}


def _silent(message: str) -> None:
    """A report that says nothing."""


def load_sized_digits(data, speakers: int, clips_per_digit: int, seed: int = 0, progress: bool = False,
                      report: Callable[[str], None] | None = print) -> DigitSet:
    """:func:`load_digits` sized as the chapters size it: at most ``speakers`` speakers (as many
    speakers of the synthetic crowd, when synthetic) and ``clips_per_digit`` takes of each digit.
    ``report`` receives the notes on the clips read (resampled, skipped); None drops them."""
    if report is None:
        report = _silent
    return load_digits(data, per_speaker_digit=clips_per_digit, max_speakers=speakers,
                       synthetic_speakers=speakers, synthetic_takes=clips_per_digit,
                       seed=seed, progress=progress, report=report)


# --- synthetic digits ----------------------------------------------------------------------------

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
# (speaker name, espeak-ng voice+variant, base pitch 0-99, base rate in words per minute)
SYNTHETIC_VOICES = (
    ("adam", "en-us+m1", 45, 160), ("bella", "en-gb+f2", 62, 150), ("carl", "en-gb-scotland+m3", 35, 140),
    ("dina", "en-us+f4", 70, 170), ("emil", "en-029+m7", 50, 155), ("fay", "en-gb-x-rp+f1", 56, 145),
    ("gus", "en-us+croak", 30, 135), ("hana", "en-gb-x-gbclan+f3", 66, 165), ("ivan", "en-us+klatt", 40, 150),
    ("jade", "en-gb+f5", 76, 160), ("karl", "en-gb-x-gbcwmd+m5", 38, 175), ("lena", "en-us+f3", 58, 140),
)
SYNTHETIC_RATE = 8000


def espeak_program(instead: str = "give data, a folder of FSDD or AudioMNIST recordings") -> str:
    """The espeak-ng executable; an :class:`AudioError` that says how to get it (or what to give
    ``instead`` of synthetic speech) when it is missing."""
    program = shutil.which("espeak-ng")
    if program is None:
        raise AudioError("espeak-ng is not installed, and it makes the offline speech: install it "
                         f"(`apt-get install espeak-ng`; scripts/setup does) or {instead}.")
    return program


def speak(program: str, text: str, voice: str, rate: int, pitch: int, rng: np.random.Generator,
          sample_rate: int = SYNTHETIC_RATE, snr_db: tuple[float, float] = (18, 35)) -> np.ndarray:
    """``text`` spoken by espeak-ng's ``voice`` at ``rate`` words per minute and ``pitch`` (0-99),
    resampled to ``sample_rate``, trimmed, padded by up to 120 ms of silence each side, scaled to a
    random level, with white noise at a random SNR in ``snr_db``; float32 in [-1, 1]."""
    import librosa
    import soundfile

    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "take.wav"
        subprocess.run([program, "-v", voice, "-s", str(rate), "-p", str(pitch), "-w", str(out), text],
                       check=True, capture_output=True)
        audio, rate_read = soundfile.read(out, dtype="float32")
    audio = librosa.resample(audio, orig_sr=rate_read, target_sr=sample_rate)
    audio = np.trim_zeros(audio, "fb")
    pad = rng.integers(0, int(0.12 * sample_rate), size=2)
    audio = np.pad(audio, (pad[0], pad[1]))
    audio = audio / (np.max(np.abs(audio)) + 1e-9) * rng.uniform(0.4, 0.9)
    snr = rng.uniform(*snr_db)
    noise = rng.normal(0, 1, audio.size) * np.sqrt(np.mean(audio**2) / 10 ** (snr / 10))
    return np.clip(audio + noise, -1, 1).astype(np.float32)


def _synthesize_take(program: str, speaker: int, digit: int, take: int, seed: int) -> np.ndarray:
    name, voice, pitch, rate = SYNTHETIC_VOICES[speaker]
    rng = np.random.default_rng([seed, speaker, digit, take])
    speed = int(round(rate * rng.uniform(0.85, 1.15)))
    pitch = int(np.clip(pitch + rng.integers(-8, 9), 0, 99))
    return speak(program, DIGIT_WORDS[digit], voice, speed, pitch, rng)


def synthesize_digits(speakers: int = 8, takes: int = 10, seed: int = 0, folder=None,
                      progress: bool = True) -> Path:
    """Make (or find cached) ``takes`` takes of every digit by ``speakers`` synthetic speakers, as
    8 kHz wavs in the FSDD layout; return the folder. Deterministic for given arguments.

    Each clip depends only on (seed, speaker, digit, take), so clips are made once into a pool in
    the cache, and a set is a folder of links to them: the chapters ask for different sets (6
    speakers x 15 takes, 8 x 12, 8 x 10) and share every clip they have in common."""
    import soundfile

    if not 1 <= speakers <= len(SYNTHETIC_VOICES):
        raise AudioError(f"'speakers' must be between 1 and {len(SYNTHETIC_VOICES)}, got {speakers}.")
    if takes < 1:
        raise AudioError(f"'takes' must be at least 1, got {takes}.")
    program = espeak_program()
    pool_spec = {"voices": SYNTHETIC_VOICES, "seed": seed, "rate": SYNTHETIC_RATE, "v": 1}
    pool = cache_root() / "synthetic-digits" / f"clips-{_spec_key(pool_spec)}"
    spec = {"voices": SYNTHETIC_VOICES[:speakers], "takes": takes, "seed": seed, "rate": SYNTHETIC_RATE, "v": 1}
    folder = Path(folder) if folder is not None else cache_root() / "synthetic-digits" / _spec_key(spec)
    done = folder / "COMPLETE"
    if done.exists():
        return folder
    pool.mkdir(parents=True, exist_ok=True)
    folder.mkdir(parents=True, exist_ok=True)
    jobs = [(s, d, t) for s in range(speakers) for d in range(10) for t in range(takes)]

    def make(job):
        s, d, t = job
        name = f"{d}_{SYNTHETIC_VOICES[s][0]}_{t}.wav"
        if not (pool / name).exists():  # made by another set, or before a run was killed
            buffer = io.BytesIO()
            soundfile.write(buffer, _synthesize_take(program, s, d, t, seed), SYNTHETIC_RATE, format="WAV",
                            subtype="PCM_16")
            atomic_write_bytes(pool / name, buffer.getvalue())
        if not (folder / name).exists():
            try:
                os.link(pool / name, folder / name)
            except OSError:  # another file system, or one without hard links
                shutil.copyfile(pool / name, folder / name)

    with ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as pool_of_threads:
        for _ in progress_bar(pool_of_threads.map(make, jobs), progress, "synthesising spoken digits"):
            pass
    atomic_write_bytes(done, json.dumps(spec).encode())
    return folder


def _spec_key(spec: dict) -> str:
    return hashlib.sha256(json.dumps(spec).encode()).hexdigest()[:16]


# --- features ------------------------------------------------------------------------------------

def _frames(sample_rate: int, frame_ms: float, hop_ms: float) -> tuple[int, int, int]:
    if frame_ms <= 0 or hop_ms <= 0:
        raise AudioError(f"frame and hop must be positive, got {frame_ms} ms and {hop_ms} ms.")
    window = int(round(sample_rate * frame_ms / 1000))
    hop = int(round(sample_rate * hop_ms / 1000))
    return window, hop, 1 << (window - 1).bit_length()  # FFT size: the next power of two


def mfcc_sequence(audio, sample_rate: int, n_mfcc: int = 13, frame_ms: float = 25.0, hop_ms: float = 10.0,
                  n_mels: int = 40) -> np.ndarray:
    """MFCCs of one clip as (frames, n_mfcc): time first, coefficients second."""
    import librosa

    window, hop, n_fft = _frames(sample_rate, frame_ms, hop_ms)
    audio = np.asarray(audio, dtype=np.float32)
    mfcc = librosa.feature.mfcc(y=audio, sr=sample_rate, n_mfcc=n_mfcc, n_fft=n_fft, win_length=window,
                                hop_length=hop, n_mels=n_mels, fmax=sample_rate / 2)
    return mfcc.T.astype(np.float32)


def high_pass(audio, sample_rate: int, cutoff_hz: float, order: int = 6) -> np.ndarray:
    """One clip with everything under ``cutoff_hz`` removed: a Butterworth high-pass of ``order``,
    run forwards and backwards (no phase shift, twice the slope), as float32."""
    from scipy.signal import butter, sosfiltfilt

    if not 0 < cutoff_hz < sample_rate / 2:
        raise AudioError(f"A high-pass cut-off must lie between 0 and {sample_rate / 2:g} Hz, got {cutoff_hz:g} Hz.")
    audio = np.asarray(audio, dtype=np.float64)
    sos = butter(order, cutoff_hz, btype="highpass", fs=sample_rate, output="sos")
    padding = min(len(audio) - 1, 3 * (2 * len(sos) + 1))  # sosfiltfilt's own default, capped for very short clips
    return sosfiltfilt(sos, audio, padlen=max(padding, 0)).astype(np.float32)


def log_mel(audio, sample_rate: int, n_mels: int = 40, frame_ms: float = 25.0, hop_ms: float = 10.0) -> np.ndarray:
    """Log-mel spectrogram of one clip as (frames, n_mels), in decibels."""
    import librosa

    window, hop, n_fft = _frames(sample_rate, frame_ms, hop_ms)
    mel = librosa.feature.melspectrogram(y=np.asarray(audio, dtype=np.float32), sr=sample_rate, n_fft=n_fft,
                                         win_length=window, hop_length=hop, n_mels=n_mels, fmax=sample_rate / 2)
    return librosa.power_to_db(mel, ref=1.0, top_db=None).T.astype(np.float32)


FEATURES = {"mfcc": mfcc_sequence, "log_mel": log_mel}


def _band_frequencies(n_bands: int, fmax: float) -> np.ndarray:
    """Centre frequencies (Hz) of librosa's ``n_bands`` mel filters from 0 to ``fmax``, as
    :func:`hw5lib.data.audio.log_mel` uses them."""
    import librosa

    return librosa.mel_frequencies(n_bands + 2, fmin=0.0, fmax=fmax)[1:-1]


def warp_matrix(n_features: int, factor: float, kind: str = "log_mel", n_mels: int = 40,
                fmax: float = 4000.0) -> np.ndarray:
    """The linear map (n_features, n_features) that scales every frequency of a clip's features by
    ``factor`` (a vocal tract ``1/factor`` times as long): ``warped = frames @ warp_matrix(...).T``.

    For log-mel (``n_features`` mel bands up to ``fmax``), band ``k`` of the warped clip reads the
    original at frequency ``f_k / factor``, interpolated linearly between bands (clamped at the
    edges). MFCCs are the orthonormal DCT-II of ``n_mels`` log-mel bands, so their warp is the
    smoothed log-mel warp seen through the DCT: ``C W C^T`` with ``C`` the first ``n_features``
    DCT rows."""
    if not factor > 0:
        raise AudioError(f"A warp factor must be positive, got {factor}.")
    bands = n_features if kind == "log_mel" else n_mels
    centres = _band_frequencies(bands, fmax)
    source = np.interp(centres / factor, centres, np.arange(bands))  # fractional band read by each band
    low = np.floor(source).astype(int)
    high = np.minimum(low + 1, bands - 1)
    weight = source - low
    warp = np.zeros((bands, bands))
    warp[np.arange(bands), low] += 1 - weight
    warp[np.arange(bands), high] += weight
    if kind == "log_mel":
        return warp.astype(np.float32)
    if kind != "mfcc":
        raise AudioError(f"Cannot warp features of kind {kind!r}; choose log_mel or mfcc.")
    from scipy.fft import dct

    cosine = dct(np.eye(bands), type=2, norm="ortho", axis=0)[:n_features]  # (n_features, bands)
    return (cosine @ warp @ cosine.T).astype(np.float32)


def _feature_key(audio: np.ndarray, sample_rate: int, kind: str, params: dict) -> str:
    digest = hashlib.sha256(np.ascontiguousarray(audio, dtype=np.float32).tobytes())
    digest.update(json.dumps({"kind": kind, "rate": sample_rate, "params": params, "v": FEATURE_VERSION},
                             sort_keys=True).encode())
    return digest.hexdigest()


def load_cached_array(path: Path) -> np.ndarray | None:
    """A cached array, or None when it is absent or damaged (the caller recomputes it)."""
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        return None


def save_cached_array(path: Path, array: np.ndarray) -> None:
    """Write a cached array atomically (never half-written), without pickling."""
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    atomic_write_bytes(path, buffer.getvalue())


def extract(audio: Sequence[np.ndarray], sample_rate: int, kind: str = "mfcc", cache: bool = True,
            n_jobs: int = 1, progress: bool = True, **params) -> list[np.ndarray]:
    """Features of every clip (``kind``: 'mfcc' or 'log_mel', with that function's parameters),
    read from the on-disk cache where present, computed in ``n_jobs`` processes otherwise."""
    if kind not in FEATURES:
        raise AudioError(f"Unknown feature kind {kind!r}; choose one of {', '.join(FEATURES)}.")
    function = FEATURES[kind]
    folder = cache_root() / "features"
    keys = [_feature_key(a, sample_rate, kind, params) for a in audio]
    results: list = [load_cached_array(folder / k[:2] / f"{k}.npy") if cache else None for k in keys]
    missing = [i for i, r in enumerate(results) if r is None]
    if missing:
        if n_jobs == 1:
            computed = (function(audio[i], sample_rate, **params) for i in missing)
        else:
            from joblib import Parallel, delayed

            computed = Parallel(n_jobs=n_jobs, return_as="generator", batch_size=32)(
                delayed(function)(audio[i], sample_rate, **params) for i in missing)
        for i, features in zip(missing, progress_bar(computed, progress and len(missing) > 50,
                                                  f"{kind} features")):
            results[i] = features
            if cache:
                try:
                    save_cached_array(folder / keys[i][:2] / f"{keys[i]}.npy", features)
                except OSError as error:  # a read-only cache slows the next run; it does not stop this one
                    warnings.warn(f"feature cache not written: {error}", stacklevel=2)
                    cache = False
    return results

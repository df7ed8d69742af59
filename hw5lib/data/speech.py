"""Transcribed speech for the Whisper chapter: real folders, and a synthetic corpus made offline.

Two real layouts are read (:func:`load_transcribed`):

* **a folder with a table** (the report's own Persian set): audio files and one CSV or TSV file
  whose columns name each clip's audio file (``path``, ``file``, ``filename``, ``file_name``,
  ``audio`` or ``wav``) and its transcription (``sentence``, ``text``, ``transcription``,
  ``transcript`` or ``normalized_text``);
* **Common Voice**: ``clips/`` plus ``train.tsv`` / ``dev.tsv`` / ``test.tsv`` with ``path`` and
  ``sentence`` columns; the three files give the split.

With no data, :func:`synthesize_corpus` makes a deterministic one with espeak-ng: Persian
sentences generated from a small grammar (subject-verb agreement included) spoken by several voice
variants, plus Mandarin greetings paired with their English translations (the report's "translate"
task). Each voice is a speaker of the synthetic crowd (:mod:`hw5lib.data.crowd`): its own
vocal-tract length and recording channel (room, microphone band and colour, noise, level,
silences), varied again in every take with the rate and pitch. Sentences are split so that the test sentences are
never heard in training, and the report's own two sentences are always test sentences.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from hw5lib.data.audio import AudioError, cache_root, espeak_program, load_audio
from hw5lib.data.crowd import Channel, Voice, recorded, render
from hw5lib.io import atomic_write_bytes, atomic_write_text
from hw5lib.progress import progress as progress_bar

__all__ = [
    "Utterance", "REPORT_FA", "REPORT_ZH", "REPORT_ZH_EN", "persian_sentences", "chinese_pairs",
    "synthesize_corpus", "load_transcribed", "read_audio", "SAMPLE_RATE", "CorpusError",
]

SAMPLE_RATE = 16_000  # Whisper's rate
REPORT_FA = "سلام، من دیروز در کلاس پردازش گفتار دیجیتال شرکت کردم"
REPORT_ZH = "你好，近来怎么样？"
REPORT_ZH_EN = "Hello, how are you doing?"
PATH_COLUMNS = ("path", "file", "filename", "file_name", "audio", "wav")
TEXT_COLUMNS = ("sentence", "text", "transcription", "transcript", "normalized_text")
SPLITS = ("train", "validation", "test")
AUDIO_SUFFIXES = {".wav", ".flac", ".mp3", ".ogg", ".opus"}


class CorpusError(AudioError):
    """A transcribed-speech folder or table cannot be used; the message says which and why."""


@dataclass(frozen=True)
class Utterance:
    """One clip and what the model should write for it.

    ``language`` is the spoken language (a Whisper code), ``task`` 'transcribe' or 'translate',
    ``target`` the text to write (the transcription, or the English translation)."""
    path: Path
    target: str
    language: str = "fa"
    task: str = "transcribe"
    speaker: str = ""
    split: str = "train"
    synthetic: bool = False


# --- the Persian grammar --------------------------------------------------------------------------
# subjects with the person (0-5) their verb agrees with; past-tense verbs take the person's ending
SUBJECTS = (("من", 0), ("تو", 1), ("او", 2), ("ما", 3), ("شما", 4), ("آن‌ها", 5),
            ("علی", 2), ("مریم", 2), ("سارا", 2), ("رضا", 2))
ENDINGS = ("م", "ی", "", "یم", "ید", "ند")
TIMES = ("دیروز", "امروز", "دیشب", "صبح", "عصر", "هفته پیش")
PLACES = ("در کلاس", "در خانه", "در دانشگاه", "در کتابخانه", "در پارک", "در آزمایشگاه")
OBJECTS = ("کتاب", "نامه", "مقاله", "گزارش", "تمرین", "پیام", "عکس", "دفتر")
ADJECTIVES = ("", " جدید", " قدیمی", " کوتاه", " خوب")
OBJECT_VERBS = ("خواند", "نوشت", "دید", "خرید", "آورد", "فرستاد")
COURSES = ("پردازش گفتار", "پردازش گفتار دیجیتال", "یادگیری ماشین", "ریاضی", "فیزیک", "آمار")
DESTINATIONS = ("دانشگاه", "خانه", "کتابخانه", "پارک", "بازار", "کلاس")


def _persian_grammar() -> tuple[list[str], ...]:
    """Every sentence of the grammar's three templates (object, course, destination), in order."""
    objects = [f"{subject} {time} {place} {noun}{adjective} را {verb}{ENDINGS[person]}"
               for (subject, person), time, place, noun, adjective, verb in itertools.product(
                   SUBJECTS, TIMES, PLACES, OBJECTS, ADJECTIVES, OBJECT_VERBS)]
    courses = [f"{greeting}{subject} {time} در کلاس {course} شرکت کرد{ENDINGS[person]}"
               for greeting, (subject, person), time, course in itertools.product(
                   ("", "سلام، "), SUBJECTS, TIMES, COURSES)]
    trips = [f"{subject} {time} به {destination} رفت{ENDINGS[person]}"
             for (subject, person), time, destination in itertools.product(SUBJECTS, TIMES, DESTINATIONS)]
    return objects, courses, trips


def persian_sentences(count: int, seed: int = 0) -> list[str]:
    """``count`` different Persian sentences, the grammar's three templates taking turns
    (deterministic for ``seed``), never the report's own sentence, which is kept for testing."""
    rng = np.random.default_rng(seed)
    pools = [[s for s in rng.permutation(pool).tolist() if s != REPORT_FA] for pool in _persian_grammar()]
    total = sum(map(len, pools))
    if not 1 <= count <= total:
        raise CorpusError(f"The Persian grammar makes {total} sentences; asked for {count}.")
    chosen = []
    for round_ in itertools.zip_longest(*pools):
        chosen += [s for s in round_ if s is not None]
        if len(chosen) >= count:
            break
    return chosen[:count]


GREETINGS = (("你好", "Hello"), ("早上好", "Good morning"), ("晚上好", "Good evening"),
             ("大家好", "Hello everyone"), ("老师好", "Hello teacher"))
QUESTIONS = (("近来怎么样", "how are you doing"), ("你叫什么名字", "what is your name"),
             ("今天天气怎么样", "how is the weather today"), ("你要去哪里", "where are you going"),
             ("你吃饭了吗", "have you eaten"), ("你忙吗", "are you busy"))


def chinese_pairs() -> list[tuple[str, str]]:
    """Mandarin greeting-and-question sentences with their English translations; the report's
    sentence (你好，近来怎么样？) is one of them."""
    return [(f"{zh_g}，{zh_q}？", f"{en_g}, {en_q}?") for (zh_g, en_g), (zh_q, en_q) in
            itertools.product(GREETINGS, QUESTIONS)]


# --- synthesis ----------------------------------------------------------------------------------
# (name, espeak-ng voice, base pitch, base rate in words per minute)
# (rates are such that the longest sentence, slowed by 10%, fits the tiny model's 6 s window)
PERSIAN_VOICES = (("fa-m1", "fa+m1", 40, 165), ("fa-f2", "fa+f2", 65, 170), ("fa-m3", "fa+m3", 35, 160),
                  ("fa-f4", "fa+f4", 72, 175), ("fa-klatt", "fa+klatt", 48, 160), ("fa-m7", "fa+m7", 30, 170))
CHINESE_VOICES = (("zh-m1", "cmn+m1", 45, 160), ("zh-f2", "cmn+f2", 65, 160), ("zh-m3", "cmn+m3", 35, 150))


def _digest(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


@dataclass(frozen=True)
class Speaker:
    """How one voice of :data:`PERSIAN_VOICES` / :data:`CHINESE_VOICES` sounds as a person: a
    vocal-tract warp (formants scaled by ``warp``) and a recording channel, both fixed for the voice."""

    warp: float
    channel: Channel


def speaker_of(voice: tuple, seed: int) -> Speaker:
    """The speaker ``voice`` is in the corpus of ``seed``: a warp of 0.9-1.1 and a channel of the
    crowd's kind, wideband (a microphone's top at 3.4-7.6 kHz, heard at 16 kHz), SNR 10-45 dB."""
    rng = np.random.default_rng([seed, 3, _digest(voice[0])])
    factor = float(np.exp(rng.uniform(np.log(0.9), np.log(1.1))))
    return Speaker(factor, Channel.draw(rng, snr=(10.0, 45.0), top=(3400.0, 7600.0)))


def _take(text: str, voice: tuple, take: int, seed: int) -> np.ndarray:
    """``text`` said by ``voice`` as its :func:`speaker_of`: a rate and pitch varied per take, the
    vocal tract warped (the rate set so that the warp keeps the duration) and the channel applied."""
    name, espeak_voice, pitch, rate = voice
    person = speaker_of(voice, seed)
    rng = np.random.default_rng([seed, _digest(f"{name}|{text}"), take])
    factor = person.warp * float(rng.uniform(0.98, 1.02))
    # crowd.render speaks at 165 wpm x speed; the warp then divides the duration by ``factor``
    speed = rate * rng.uniform(0.9, 1.15) / factor / 165
    level = float(np.clip(pitch + rng.integers(-8, 9), 0, 99)) / 50  # and at espeak pitch 50 x level
    spoken = render(Voice("espeak-ng", espeak_voice), [(text, speed, level)])[0]
    return np.clip(recorded(spoken, factor, rng, person.channel, SAMPLE_RATE), -1, 1)


def synthesize_corpus(sentences: int = 400, voices: int = 4, test_share: float = 0.15,
                      chinese_voices: int = 3, seed: int = 0, folder=None, progress: bool = True) -> Path:
    """Make (or find cached) the synthetic corpus; return its folder, which holds ``clips/`` and
    one TSV per split (``train.tsv``, ``validation.tsv``, ``test.tsv``) with the columns
    ``path  sentence  language  task  speaker``: the table layout :func:`load_transcribed` reads.

    ``sentences`` Persian sentences are each spoken by every one of the first ``voices`` Persian
    voices; ``test_share`` of the sentences (and the report's sentence) are only in the test
    split, as many again only in validation. Every Mandarin pair is spoken by ``chinese_voices``
    voices with task 'translate'; the report's pair is a test sentence."""
    if not 1 <= voices <= len(PERSIAN_VOICES):
        raise CorpusError(f"'voices' must be between 1 and {len(PERSIAN_VOICES)}, got {voices}.")
    if not 0 <= chinese_voices <= len(CHINESE_VOICES):
        raise CorpusError(f"'chinese_voices' must be between 0 and {len(CHINESE_VOICES)}, got {chinese_voices}.")
    if not 0 < test_share < 0.5:
        raise CorpusError(f"'test_share' must be between 0 and 0.5, got {test_share}.")
    espeak_program("give data, a folder of transcribed recordings (see hw5lib.data.speech)")  # one sentence if none
    texts = persian_sentences(sentences, seed)
    held_out = max(1, int(round(test_share * sentences)))
    rows = []  # (split, text, target, language, task, voice)
    for index, text in enumerate(texts):
        split = "test" if index < held_out else "validation" if index < 2 * held_out else "train"
        rows += [(split, text, text, "fa", "transcribe", v) for v in PERSIAN_VOICES[:voices]]
    rows += [("test", REPORT_FA, REPORT_FA, "fa", "transcribe", v) for v in PERSIAN_VOICES[:voices]]
    for zh, en in chinese_pairs():
        split = "test" if zh == REPORT_ZH else "train"
        rows += [(split, zh, en, "zh", "translate", v) for v in CHINESE_VOICES[:chinese_voices]]
    spec = {"sentences": texts, "voices": PERSIAN_VOICES[:voices], "zh": CHINESE_VOICES[:chinese_voices],
            "test_share": test_share, "seed": seed, "rate": SAMPLE_RATE, "v": 2}  # v2: crowd speakers
    key = hashlib.sha256(json.dumps(spec, ensure_ascii=False).encode()).hexdigest()[:16]
    folder = Path(folder) if folder is not None else cache_root() / "synthetic-speech" / key
    if (folder / "COMPLETE").exists():
        return folder
    (folder / "clips").mkdir(parents=True, exist_ok=True)

    def name(row) -> str:
        split, text, target, language, task, voice = row
        digest = hashlib.sha256(f"{voice[0]}|{text}".encode()).hexdigest()[:12]
        return f"clips/{voice[0]}-{digest}.wav"

    def make(row):
        path = folder / name(row)
        if not path.exists():  # a run killed half-way resumes where it stopped
            import soundfile

            buffer = io.BytesIO()
            soundfile.write(buffer, _take(row[1], row[5], 0, seed), SAMPLE_RATE, format="WAV",
                            subtype="PCM_16")
            atomic_write_bytes(path, buffer.getvalue())

    with ThreadPoolExecutor(max_workers=4) as pool:
        for _ in progress_bar(pool.map(make, rows), progress, "synthesising Persian and Mandarin speech",
                              total=len(rows)):
            pass
    for split in SPLITS:
        table = io.StringIO()
        writer = csv.writer(table, delimiter="\t", lineterminator="\n")
        writer.writerow(["path", "sentence", "language", "task", "speaker"])
        writer.writerows([name(r), r[2], r[3], r[4], r[5][0]] for r in rows if r[0] == split)
        atomic_write_text(folder / f"{split}.tsv", table.getvalue())
    atomic_write_text(folder / "COMPLETE", json.dumps(spec, ensure_ascii=False))
    return folder


# --- loading ------------------------------------------------------------------------------------

def _read_table(path: Path) -> list[dict]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise CorpusError(f"The table {path} is not UTF-8 text (byte {error.object[error.start]:#04x} at position "
                          f"{error.start}); save it as UTF-8.") from None
    delimiter = "\t" if path.suffix.lower() == ".tsv" or text.split("\n", 1)[0].count("\t") else ","
    rows = list(csv.DictReader(io.StringIO(text), delimiter=delimiter, quoting=csv.QUOTE_NONE if delimiter == "\t"
                               else csv.QUOTE_MINIMAL))
    if not rows:
        raise CorpusError(f"The table {path} has no rows.")
    return rows


def _column(path: Path, rows: list[dict], choices: tuple[str, ...], what: str) -> str:
    names = {name.strip().lower(): name for name in rows[0] if name is not None}
    for choice in choices:
        if choice in names:
            return names[choice]
    raise CorpusError(f"The table {path} has no {what} column: its columns are {', '.join(map(repr, names))}; "
                      f"expected one of {', '.join(choices)}.")


def _rows_to_utterances(table: Path, rows: list[dict], base: Path, split: str, language: str,
                        synthetic: bool) -> list[Utterance]:
    path_column = _column(table, rows, PATH_COLUMNS, "audio path")
    text_column = _column(table, rows, TEXT_COLUMNS, "transcription")
    found = []
    for line, row in enumerate(rows, start=2):
        relative = (row.get(path_column) or "").strip()
        text = (row.get(text_column) or "").strip()
        if not relative or not text:
            missing = "audio path" if not relative else "transcription"
            raise CorpusError(f"Row {line} of {table} has an empty {missing}.")
        audio = next((p for p in (base / relative, base / "clips" / relative) if p.is_file()), None)
        if audio is None:
            raise CorpusError(f"Row {line} of {table} names {relative}, which is neither under {base} nor "
                              f"under {base / 'clips'}.")
        found.append(Utterance(audio, text, language=(row.get("language") or language).strip(),
                               task=(row.get("task") or "transcribe").strip(),
                               speaker=(row.get("speaker") or row.get("client_id") or "").strip(),
                               split=split, synthetic=synthetic))
    return found


def load_transcribed(folder, language: str = "fa", seed: int = 0,
                     shares: tuple[float, float] = (0.1, 0.2)) -> tuple[str, list[Utterance]]:
    """The layout ('common voice', 'split tables' or 'one table') and every utterance under ``folder``.

    Common Voice and the synthetic corpus give their own split (``dev`` is read as validation); a
    single table is split here, by sentence so that no test sentence is trained on, into
    validation and test ``shares`` (deterministic for ``seed``)."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise CorpusError(f"The data folder {folder} does not exist; give a folder of audio files with a CSV/TSV "
                          "of transcriptions, or a Common Voice language folder (clips/ and train/dev/test.tsv).")
    synthetic = (folder / "COMPLETE").exists()
    split_files = {"train": "train.tsv", "validation": "validation.tsv" if (folder / "validation.tsv").exists()
                   else "dev.tsv", "test": "test.tsv"}
    if all((folder / name).is_file() for name in split_files.values()):
        layout = "common voice" if (folder / "dev.tsv").is_file() else "split tables"
        utterances = []
        for split, name in split_files.items():
            utterances += _rows_to_utterances(folder / name, _read_table(folder / name), folder, split, language,
                                              synthetic)
        return layout, utterances
    tables = sorted(p for p in folder.iterdir() if p.suffix.lower() in {".csv", ".tsv"} and p.is_file())
    if len(tables) != 1:
        raise CorpusError(f"{folder} holds {len(tables)} CSV/TSV tables; expected exactly one (columns: audio path "
                          f"as one of {', '.join(PATH_COLUMNS)}; transcription as one of {', '.join(TEXT_COLUMNS)}), "
                          "or Common Voice's train.tsv, dev.tsv and test.tsv.")
    utterances = _rows_to_utterances(tables[0], _read_table(tables[0]), folder, "train", language, synthetic)
    sentences = sorted({u.target for u in utterances})
    order = np.random.default_rng(seed).permutation(len(sentences))
    n_val, n_test = (max(1, int(round(share * len(sentences)))) for share in shares)
    if n_val + n_test >= len(sentences):
        raise CorpusError(f"The table {tables[0]} has {len(sentences)} different sentences: too few to hold some "
                          "out for validation and testing (at least 3 are needed).")
    split_of = {sentences[i]: ("validation" if rank < n_val else "test" if rank < n_val + n_test else "train")
                for rank, i in enumerate(order)}
    return "one table", [replace(u, split=split_of[u.target]) for u in utterances]


def read_audio(utterances: list[Utterance], progress: bool = True) -> list[np.ndarray]:
    """Every utterance's samples at 16 kHz, mono, checked (see :func:`hw5lib.data.audio.load_audio`)."""
    return [load_audio(u.path, SAMPLE_RATE) for u in progress_bar(utterances, progress and len(utterances) > 100,
                                                                    "reading audio")]

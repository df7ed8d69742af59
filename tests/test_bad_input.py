"""Bad input at every public entry point: the exact kind of error, one sentence that names the
culprit (the file, folder, column or parameter) and says what to do, and nothing created or damaged.

Entry points: the audio loader, the spoken-digit folders, the Whisper data loader, the chapters'
parameters (as a notebook or papermill gives them), the Whisper model loader while offline, the
divergence functions, the file writer every result and cache goes through, and the command line
(through a real subprocess: no traceback reaches its user)."""

import errno
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

from hw5lib.data import audio, speech as speech_corpus
from hw5lib.publish import registry as chapters
from hw5lib.distances import divergences
from hw5lib import io
from hw5lib.whisper import model as W
from hw5lib.publish.profiles import ParameterError

RATE = speech_corpus.SAMPLE_RATE


def tone(seconds=0.5, rate=RATE, channels=1, amplitude=0.3):
    t = np.arange(int(seconds * rate)) / rate
    wave = (amplitude * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    return np.stack([wave] * channels, axis=1) if channels > 1 else wave


def write_wav(path: Path, samples, rate=RATE) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, samples, rate)
    return path


# --- one clip ---------------------------------------------------------------------------------

def corrupt(folder):
    path = folder / "corrupt.wav"
    path.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt garbage that is not audio")
    return path


def empty(folder):
    return write_wav(folder / "empty.wav", np.zeros(0, np.float32))


def silent(folder):
    return write_wav(folder / "silent.wav", np.zeros(RATE, np.float32))


def stereo(folder):
    return write_wav(folder / "stereo.wav", tone(channels=2))


def missing(folder):
    return folder / "not-there.wav"


@pytest.mark.parametrize("make, says", [
    (corrupt, "is not a readable audio file"),
    (empty, "holds no samples"),
    (silent, "is silent (peak below"),
    (stereo, "has 2 channels; the clips must be mono (mix it down first, e.g. `sox stereo.wav -c 1 mono.wav`)"),
    (missing, "is not a readable audio file"),
], ids=lambda value: getattr(value, "__name__", "")[:12])
def test_a_bad_clip_is_refused_by_name(tmp_path, make, says):
    path = make(tmp_path)
    with pytest.raises(audio.AudioError) as error:
        audio.load_audio(path, RATE)
    message = str(error.value)
    assert message.startswith(str(path)) and says in message and "\n" not in message


def test_another_sample_rate_is_resampled_and_reported_not_refused(tmp_path):
    """48 kHz where 16 kHz is expected is not an error: the clip is resampled (its pitch kept) and
    the caller is told, so a data set recorded at another rate still loads."""
    told = []
    loaded = audio.load_audio(write_wav(tmp_path / "hi.wav", tone(rate=48_000), 48_000), RATE, on_resample=told.append)
    assert told == [48_000] and len(loaded) == RATE // 2
    spectrum = np.abs(np.fft.rfft(loaded))
    assert abs(np.argmax(spectrum) * RATE / len(loaded) - 440) < 3


# --- folders of spoken digits -----------------------------------------------------------------

def digits_missing(folder):
    return folder / "nowhere"


def digits_without_wavs(folder):
    (folder / "notes.txt").write_text("no audio here")
    return folder


def digits_badly_named(folder):
    write_wav(folder / "recordings" / "hello.wav", tone())
    return folder


@pytest.mark.parametrize("make, says", [
    (digits_missing, "The data folder {folder} does not exist; give the folder that holds FSDD's recordings/"),
    (digits_without_wavs, "No .wav files under {folder}; expected FSDD"),
    (digits_badly_named, "Cannot read a digit label from the file name {folder}/recordings/hello.wav; expected "
                         "{{digit}}_{{speaker}}_{{index}}.wav"),
], ids=["missing", "no-wavs", "bad-names"])
def test_a_bad_digits_folder_is_refused_by_name(tmp_path, make, says):
    folder = make(tmp_path)
    with pytest.raises(audio.AudioError) as error:
        audio.load_digits(folder, progress=False)
    assert str(error.value).startswith(says.format(folder=folder)), str(error.value)


def test_a_bad_clip_in_a_digits_folder_is_named_or_skipped(tmp_path):
    write_wav(tmp_path / "recordings" / "3_ana_0.wav", tone())
    write_wav(tmp_path / "recordings" / "4_ana_0.wav", np.zeros(800, np.float32))
    with pytest.raises(audio.AudioError, match=r"4_ana_0.wav is silent"):
        audio.load_digits(tmp_path, progress=False)
    notes = []
    kept = audio.load_digits(tmp_path, progress=False, skip_bad=True, report=notes.append)
    assert len(kept) == 1 and notes[0].startswith("skipped: ") and "4_ana_0.wav is silent" in notes[0]


# --- transcribed speech (the Whisper chapter's data) --------------------------------------------

def speech_folder(folder, table="path,sentence\n", rows=4, encoding="utf-8", name="text.csv"):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(rows):
        write_wav(folder / f"{i}.wav", tone())
    body = table + "".join(f"{i}.wav,جمله شماره {i}\n" for i in range(rows))
    (folder / name).write_bytes(body.encode(encoding))
    return folder


@pytest.mark.parametrize("make, says", [
    (lambda f: f / "nowhere", "The data folder {folder} does not exist; give a folder of audio files with a CSV/TSV"),
    (lambda f: speech_folder(f, name="text.txt"), "{folder} holds 0 CSV/TSV tables; expected exactly one (columns:"),
    (lambda f: speech_folder(f, table="path,words\n"),
     "The table {folder}/text.csv has no transcription column: its columns are 'path', 'words'; expected one of"),
    (lambda f: speech_folder(f, encoding="cp1256"),
     "The table {folder}/text.csv is not UTF-8 text (byte 0x"),
    (lambda f: speech_folder(f, table="path,sentence\nghost.wav,سلام\n"),
     "Row 2 of {folder}/text.csv names ghost.wav, which is neither under {folder} nor under {folder}/clips."),
    (lambda f: speech_folder(f, rows=2), "The table {folder}/text.csv has 2 different sentences: too few"),
], ids=["missing", "no-table", "no-column", "not-utf8", "missing-clip", "too-few"])
def test_a_bad_speech_folder_is_refused_by_name(tmp_path, make, says):
    folder = make(tmp_path / "speech")
    with pytest.raises(speech_corpus.CorpusError) as error:
        speech_corpus.load_transcribed(folder)
    assert str(error.value).startswith(says.format(folder=folder)), str(error.value)
    assert "\n" not in str(error.value)


def test_a_corrupt_clip_named_by_a_table_is_refused_by_name(tmp_path):
    folder = speech_folder(tmp_path / "speech")
    corrupt(folder).rename(folder / "2.wav")
    _, utterances = speech_corpus.load_transcribed(folder)
    with pytest.raises(audio.AudioError, match=rf"^{folder}/2.wav is not a readable audio file"):
        speech_corpus.read_audio(utterances, progress=False)


# --- chapter parameters -----------------------------------------------------------------------

BAD_PARAMETERS = [
    ("q2", {"depth": "abc"}, "Parameter 'depth' must be an integer, got 'abc'."),
    ("q2", {"depth": 2.5}, "Parameter 'depth' must be an integer, got 2.5."),
    ("q2", {"depth": 1}, "Parameter 'depth' must be at least 2, got 1."),
    ("q2", {"colour": "red"}, "Unknown parameter 'colour'; this chapter takes: profile, "),
    ("q2", {"profile": "fast"}, "Parameter 'profile' must be one of smoke, quick, full, got 'fast'."),
    ("q4", {"epochs": -3}, "Parameter 'epochs' must be at least 1, got -3."),
    ("q4", {"learning_rate": "fast"}, "Parameter 'learning_rate' must be a number, got 'fast'."),
    ("q4", {"seed": True}, "Parameter 'seed' must be an integer, got True."),
    ("q4", {"device": "tpu"}, "Parameter 'device' "),
    ("q4", {"data": "{tmp}/nowhere"}, "Parameter 'data' must be auto, fsdd, audiomnist, synthetic or a folder of "
                                      "FSDD or AudioMNIST recordings, and '{tmp}/nowhere' is not a folder."),
    ("q4", {"data": "{tmp}"}, "Parameter 'data': No .wav files under {tmp}; expected FSDD"),
    ("whisper", {"data": "{tmp}"}, "Parameter 'data': {tmp} holds 0 CSV/TSV tables; expected exactly one"),
    ("whisper", {"model_name_or_path": "whisper base"}, "Parameter 'model_name_or_path' must be tiny (built here, "
                                                        "offline), auto (whisper-base where it can be had, else "
                                                        "tiny), a checkpoint folder or a hub id"),
    ("whisper", {"fa_audio": "{tmp}/mine.wav"}, "Parameter 'fa_audio' must be empty or an audio file, and "
                                                "'{tmp}/mine.wav' is not a file."),
    ("whisper", {"zh_audio": "{tmp}"},
     "Parameter 'zh_audio' must be empty or an audio file, and '{tmp}' is not a file."),
    ("kan", {"kan_grids": "3, x"}, "Parameter 'kan_grids' must be a non-empty list of integers, got '3, x'."),
    ("kan", {"kan_grids": [5, 3]}, "Parameter 'kan_grids' must be a list of increasing integers, got [5, 3]."),
    ("kan", {"mlp_widths": []}, "Parameter 'mlp_widths' must be a non-empty list of integers, got []."),
    ("automl", {"storage": "study.db"}, "Parameter 'storage' must be auto, memory or a storage URL such as "
                                        "sqlite:///study.db or journal:///study.log, got 'study.db'."),
]


@pytest.mark.parametrize("chapter, given, says", BAD_PARAMETERS,
                         ids=[f"{c}-{next(iter(g))}-{i}" for i, (c, g, _) in enumerate(BAD_PARAMETERS)])
def test_a_bad_parameter_is_refused_by_name(tmp_path, chapter, given, says):
    given = {name: (value.format(tmp=tmp_path) if isinstance(value, str) else value) for name, value in given.items()}
    with pytest.raises(ParameterError) as error:  # what papermill and `hw5lib run` check before starting
        chapters.get(chapter).resolve(given.pop("profile", "smoke"), given)
    assert str(error.value).startswith(says.format(tmp=tmp_path)), str(error.value)
    assert "\n" not in str(error.value)


# --- a model that is not here, offline --------------------------------------------------------

@pytest.mark.parametrize("name, says", [
    ("openai/whisper-nonexistent", "Cannot load the Whisper model 'openai/whisper-nonexistent': it is not in the "
                                   "Hugging Face cache and the hub cannot be reached from here (offline?)"),
    ("{tmp}", "{tmp} is not a Whisper checkpoint: a checkpoint is a folder with config.json"),
    ("../relative/path", "model_name_or_path '../relative/path' is neither a folder nor a hub id"),
], ids=["unknown-id", "not-a-checkpoint", "neither"])
def test_a_model_that_cannot_be_loaded_offline_is_named(tmp_path, monkeypatch, name, says):
    monkeypatch.setattr(W, "_hub_reachable", lambda *args, **kwargs: False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(W.WhisperError) as error:
        W.load_whisper(name.format(tmp=tmp_path))
    assert str(error.value).startswith(says.format(tmp=tmp_path)), str(error.value)


# --- divergences --------------------------------------------------------------------------------

@pytest.mark.parametrize("call, says", [
    (lambda: divergences.kl_divergence([0.5, 0.6], [0.5, 0.5]), "'p' sums to 1.1, not 1; normalise it"),
    (lambda: divergences.total_variation([0.5, 0.5], [1.2, -0.2]), "'q' has a negative entry (-0.2)"),
    (lambda: divergences.hellinger([0.5, np.nan], [0.5, 0.5]), "'p' contains nan or inf"),
    (lambda: divergences.chi_square([], []), "'p' is empty"),
    (lambda: divergences.jensen_shannon([1.0], [0.5, 0.5]), "'p' and 'q' must have the same shape, got (1,) and (2,)"),
    (lambda: divergences.mmd2(np.zeros((5, 2)), np.zeros((5, 3))), "'x' and 'y' must have the same dimension"),
    (lambda: divergences.kl_knn(np.random.rand(5, 1), np.random.rand(5, 1), k=9), "'k' must be between 1 and 4"),
    (lambda: divergences.wasserstein_1d([1.0], [1.0, 2.0]), "'x' must be samples of shape (n, d) with n >= 2"),
    (lambda: divergences.gaussian_kl([0, 0], np.eye(3), [0, 0], np.eye(2)),
     "'cov0' covariance must be 2x2, got shape (3, 3)"),
], ids=["not-normalised", "negative", "nan", "empty", "shapes", "dimensions", "k", "too-few", "covariance"])
def test_a_bad_distribution_is_refused_by_name(call, says):
    with pytest.raises(divergences.DistributionError) as error:
        call()
    assert str(error.value).startswith(says), str(error.value)


# --- a full disk: the earlier file survives -----------------------------------------------------

def test_a_failed_write_names_the_file_and_keeps_the_earlier_one(tmp_path, monkeypatch):
    target = io.atomic_write_text(tmp_path / "results.json", '{"earlier": true}')

    def no_space(descriptor):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(OSError) as error:
        io.atomic_write_text(target, '{"later": true}')
    assert str(error.value).startswith(f"Cannot write {target} (No space left on device)")
    assert target.read_text() == '{"earlier": true}'
    assert [path.name for path in tmp_path.iterdir()] == ["results.json"], "a partial file was left behind"


def test_a_damaged_cache_entry_is_recomputed_not_trusted(tmp_path):
    entry = tmp_path / "features.npy"
    audio.save_cached_array(entry, np.arange(6.0))
    entry.write_bytes(entry.read_bytes()[:40])  # cut short, as by a kill before the rename existed
    assert audio.load_cached_array(entry) is None
    audio.save_cached_array(entry, np.arange(6.0))
    assert audio.load_cached_array(entry).tolist() == list(range(6))


# --- the command line: one sentence, exit status 2, nothing started -----------------------------

def run_cli(*args, env=None, cwd=None):
    return subprocess.run([sys.executable, "-m", "hw5lib", *args], capture_output=True, text=True, timeout=600,
                          env={**os.environ, **(env or {})}, cwd=cwd)


@pytest.mark.parametrize("case", ["digits-folder", "speech-table", "stereo-clip", "environment-profile",
                                  "book-profile"])
def test_the_command_line_says_one_sentence_and_starts_nothing(tmp_path, case):
    runs = tmp_path / "runs"
    env = {}
    if case == "digits-folder":
        (tmp_path / "data").mkdir()
        args, says = ["run", "q4", "-p", "data", str(tmp_path / "data")], "Parameter 'data': No .wav files under"
    elif case == "speech-table":
        speech_folder(tmp_path / "speech", encoding="cp1256")
        args, says = ["run", "whisper", "-p", "data", str(tmp_path / "speech")], "is not UTF-8 text"
    elif case == "environment-profile":
        args, env = ["run", "q2"], {"HW5LIB_PROFILE": "big"}
        says = "The environment variable HW5LIB_PROFILE must be one of"
    elif case == "book-profile":
        args, says = ["book", "--profile", "big"], "Parameter 'profile' must be one of smoke, quick, full, got 'big'."
    else:
        args, says = ["run", "whisper", "-p", "fa_audio", str(stereo(tmp_path))], "stereo.wav has 2 channels"
    if case != "book-profile":
        args += ["--output", str(runs)]
    result = run_cli(*args, env=env, cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.startswith("hw5lib: "), result.stderr[-2000:]
    assert says in result.stderr and not runs.exists() and not (tmp_path / "_build").exists()
    assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.stderr, result.stderr

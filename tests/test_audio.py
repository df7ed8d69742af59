"""Loaders for both dataset layouts, the checks on every clip, synthetic digits and cached features."""

import shutil

import numpy as np
import pytest
import soundfile

from hw5lib.data import audio


def tone(seconds=0.5, rate=8000, frequency=440.0, amplitude=0.5):
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def write(path, samples, rate=8000):
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, samples, rate)
    return path


@pytest.fixture()
def fsdd(tmp_path):
    folder = tmp_path / "fsdd" / "recordings"
    for speaker in ("anna", "bob"):
        for digit in range(3):
            for take in range(2):
                write(folder / f"{digit}_{speaker}_{take}.wav", tone(frequency=200 + 50 * digit))
    return folder


@pytest.fixture()
def audiomnist(tmp_path):
    folder = tmp_path / "AudioMNIST" / "data"
    for speaker in ("01", "02"):
        for digit in range(2):
            write(folder / speaker / f"{digit}_{speaker}_{0}.wav", tone(rate=48000), rate=48000)
    (folder.parent / "audioMNIST_meta.txt").write_text("{}")
    return folder


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HW5LIB_CACHE", str(tmp_path / "cache"))


def test_fsdd_layout_is_recognised_and_loaded(fsdd):
    layout, clips = audio.find_clips(fsdd.parent)  # the dataset root works as well as recordings/
    assert layout == "fsdd" and len(clips) == 12
    digits = audio.load_digits(fsdd, progress=False)
    assert digits.source == "FSDD" and not digits.synthetic and len(digits) == 12
    assert digits.counts().loc["anna"].tolist() == [2, 2, 2]
    assert digits.notes == []


def test_audiomnist_layout_is_recognised_and_resampled_once(audiomnist, capsys):
    layout, clips = audio.find_clips(audiomnist)
    assert layout == "audiomnist" and {c.speaker for c in clips} == {"01", "02"}
    digits = audio.load_digits(audiomnist, sample_rate=8000, progress=False)
    assert digits.source == "AudioMNIST" and len(digits) == 4
    assert all(abs(len(a) - 4000) <= 2 for a in digits.audio)
    assert digits.notes == ["resampled 4 clips from 48000 Hz to 8000 Hz"]
    assert capsys.readouterr().out.count("resampled") == 1


def test_subset_is_deterministic(fsdd):
    digits = audio.load_digits(fsdd, per_speaker_digit=1, max_speakers=1, progress=False)
    assert digits.speaker_names == ["anna"] and len(digits) == 3


@pytest.mark.parametrize("make, words", [
    (lambda f: write(f / "5_eve_0.wav", np.zeros((4000, 2), np.float32) + 0.3), "2 channels"),
    (lambda f: write(f / "5_eve_0.wav", np.zeros(4000, np.float32)), "is silent"),
    (lambda f: write(f / "5_eve_0.wav", np.zeros(0, np.float32)), "holds no samples"),
    (lambda f: (f / "5_eve_0.wav").write_text("not audio"), "is not a readable audio file"),
    (lambda f: write(f / "five_eve.wav", tone()), "Cannot read a digit label"),
])
def test_a_bad_file_stops_the_load_with_its_name_or_is_skipped_on_request(fsdd, make, words):
    make(fsdd)
    with pytest.raises(audio.AudioError, match=words) as caught:
        audio.load_digits(fsdd, progress=False)
    assert ("5_eve_0.wav" in str(caught.value)) or ("five_eve.wav" in str(caught.value))
    reported = []
    digits = audio.load_digits(fsdd, skip_bad=True, progress=False, report=reported.append)
    assert len(digits) == 12 and len(reported) == 1 and words in reported[0]


def test_missing_and_empty_folders_say_what_to_give(tmp_path):
    with pytest.raises(audio.AudioError, match="does not exist"):
        audio.load_digits(tmp_path / "nowhere", progress=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(audio.AudioError, match="No .wav files"):
        audio.load_digits(tmp_path / "empty", progress=False)


def test_features_have_the_stated_frames():
    clip = tone(seconds=1.0)
    mfcc = audio.mfcc_sequence(clip, 8000)
    assert mfcc.shape == (101, 13)  # 10 ms hop over 1 s, centred frames
    assert audio.log_mel(clip, 8000, n_mels=40).shape == (101, 40)
    assert audio.mfcc_sequence(clip, 8000, hop_ms=20).shape == (51, 13)
    with pytest.raises(audio.AudioError, match="positive"):
        audio.mfcc_sequence(clip, 8000, hop_ms=0)


def test_features_are_cached_by_content_and_parameters(monkeypatch):
    clips = [tone(frequency=f) for f in (200.0, 300.0)]
    first = audio.extract(clips, 8000, progress=False)

    def refuse(*args, **kwargs):
        raise AssertionError("a cached feature was recomputed")

    monkeypatch.setitem(audio.FEATURES, "mfcc", refuse)
    again = audio.extract(clips, 8000, progress=False)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(AssertionError, match="recomputed"):
        audio.extract(clips, 8000, progress=False, n_mfcc=20)  # other parameters: not in the cache
    with pytest.raises(audio.AudioError, match="Unknown feature kind"):
        audio.extract(clips, 8000, kind="wavelets")


def test_a_damaged_cache_file_is_recomputed():
    clips = [tone()]
    first = audio.extract(clips, 8000, progress=False)
    for path in (audio.cache_root() / "features").rglob("*.npy"):
        path.write_bytes(b"damaged")
    np.testing.assert_array_equal(audio.extract(clips, 8000, progress=False)[0], first[0])


needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                  reason="espeak-ng is not installed (scripts/setup installs it)")


@needs_espeak
def test_synthetic_digits_are_deterministic_and_cached(tmp_path):
    one = audio.synthesize_digits(speakers=2, takes=1, folder=tmp_path / "one", progress=False)
    two = audio.synthesize_digits(speakers=2, takes=1, folder=tmp_path / "two", progress=False)
    names = sorted(p.name for p in one.glob("*.wav"))
    assert len(names) == 20 and names == sorted(p.name for p in two.glob("*.wav"))
    for name in names:
        assert (one / name).read_bytes() == (two / name).read_bytes()
    (one / names[0]).unlink()
    assert audio.synthesize_digits(speakers=2, takes=1, folder=tmp_path / "one", progress=False) == one
    assert not (one / names[0]).exists(), "a finished set is reused as it is"
    digits = audio.load_digits("synthetic", synthetic_speakers=2, synthetic_takes=1, progress=False)
    assert digits.synthetic and digits.source.startswith("synthetic crowd (espeak-ng") and len(digits) == 20
    assert len(digits.speaker_names) == 2 and digits.describe()["crowd"]["engines"]["espeak-ng"] > 10


@needs_espeak
def test_sets_of_synthetic_digits_share_their_clips(tmp_path, monkeypatch):
    """A set is made of clips that depend only on (seed, speaker, digit, take): a bigger set made
    after a smaller one synthesises only the clips the smaller one lacked, and every clip is the
    same bytes as in a cache made from nothing."""
    made = []
    synthesize_take = audio._synthesize_take

    def counting(program, speaker, digit, take, seed):
        made.append((speaker, digit, take))
        return synthesize_take(program, speaker, digit, take, seed)

    monkeypatch.setattr(audio, "_synthesize_take", counting)
    monkeypatch.setenv("HW5LIB_CACHE", str(tmp_path / "cache"))
    small = audio.synthesize_digits(speakers=1, takes=2, progress=False)
    assert len(made) == 20
    big = audio.synthesize_digits(speakers=2, takes=2, progress=False)
    assert len(made) == 40 and sorted(made[20:]) == [(1, d, t) for d in range(10) for t in range(2)]
    for path in small.glob("*.wav"):
        assert (big / path.name).read_bytes() == path.read_bytes()
    monkeypatch.setenv("HW5LIB_CACHE", str(tmp_path / "fresh"))
    again = audio.synthesize_digits(speakers=2, takes=2, progress=False)
    assert len(made) == 80 and again != big
    for path in big.glob("*.wav"):
        assert (again / path.name).read_bytes() == path.read_bytes()


def test_synthesis_without_espeak_says_how_to_get_it(monkeypatch):
    monkeypatch.setattr(audio.shutil, "which", lambda name: None)
    with pytest.raises(audio.AudioError, match="apt-get install espeak-ng"):
        audio.synthesize_digits(speakers=1, takes=1, progress=False)
    with pytest.raises(audio.AudioError, match="between 1 and"):
        audio.synthesize_digits(speakers=99)


@pytest.mark.skipif(audio.shared_fsdd() is None, reason="the FSDD recordings are not in ../shared/data/fsdd")
def test_the_real_fsdd_recordings_load():
    digits = audio.load_digits("auto", per_speaker_digit=2, progress=False)
    assert digits.source == "FSDD" and len(digits.speaker_names) == 5 and len(digits) == 100
    assert digits.sample_rate == 8000 and digits.notes == []
    assert set(digits.digits.tolist()) == set(range(10))


def test_high_pass_removes_a_hum_and_keeps_the_voice_band():
    rate = 8000
    t = np.arange(rate) / rate
    hum, voice = np.sin(2 * np.pi * 50 * t), np.sin(2 * np.pi * 1000 * t)
    out = audio.high_pass(hum + voice, rate, 120.0)
    assert out.dtype == np.float32 and out.shape == t.shape
    middle = slice(rate // 4, 3 * rate // 4)  # away from the ends' transients
    assert np.abs(out[middle] - voice[middle]).max() < 0.01  # the hum is gone, the 1 kHz tone untouched
    assert audio.high_pass(np.ones(3), rate, 120.0).shape == (3,)  # shorter than the filter's padding
    with pytest.raises(audio.AudioError, match="between 0 and 4000 Hz"):
        audio.high_pass(voice, rate, 5000.0)

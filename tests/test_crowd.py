"""The synthetic crowd (hw5lib.data.crowd): determinism, layout, what each effect does, missing
engines, the cache, and the command line's --test-data."""

import json
import math

import numpy as np
import pytest
import soundfile

from hw5lib.data import audio, crowd

RATE = 8000


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HW5LIB_CACHE", str(tmp_path / "cache"))


def tone(seconds=0.5, rate=RATE, freqs=(220, 440, 880), level=0.3):
    t = np.arange(int(seconds * rate)) / rate
    return (level * sum(np.sin(2 * np.pi * f * t) for f in freqs) / len(freqs)).astype(np.float32)


def power_db(x):
    return 10 * math.log10(np.mean(np.asarray(x, np.float64) ** 2) + 1e-20)


def band_power_db(x, rate, low, high):
    spectrum = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / rate)
    return 10 * math.log10(spectrum[(freqs >= low) & (freqs < high)].mean() + 1e-20)


def centroid(x, rate):
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2
    return float(np.sum(np.fft.rfftfreq(len(x), 1 / rate) * spectrum) / np.sum(spectrum))


def peak_hz(x, rate):
    return float(np.fft.rfftfreq(len(x), 1 / rate)[np.argmax(np.abs(np.fft.rfft(x * np.hanning(len(x)))))])


# --- the effects -----------------------------------------------------------------------------------

def test_reverb_lengthens_the_tail_and_a_longer_room_rings_longer():
    dry = tone(0.3)
    short = crowd.reverb(dry, RATE, np.random.default_rng(0), rt60=0.1, wet_db=-3)
    long = crowd.reverb(dry, RATE, np.random.default_rng(0), rt60=0.5, wet_db=-3)
    assert len(short) == len(dry) + int(0.1 * RATE) - 1 and len(long) == len(dry) + int(0.5 * RATE) - 1
    after = slice(len(dry) + int(0.05 * RATE), len(dry) + int(0.1 * RATE))  # 50-100 ms after the sound ends
    assert power_db(long[after]) > power_db(short[after]) + 10
    assert power_db(long[after]) > power_db(dry) - 35  # a real tail, not numerical dust
    np.testing.assert_allclose(short[:20], dry[:20], atol=1e-6)  # the direct sound comes first, unchanged


def test_room_response_decays_by_60_db_in_rt60():
    response = crowd.room_response(RATE, np.random.default_rng(1), rt60=0.4, wet_db=0.0)
    assert response[0] == 1.0
    assert np.sum(response[1:] ** 2) == pytest.approx(1.0, rel=1e-6)  # wet_db 0: as much energy as the direct sound
    early = power_db(response[int(0.01 * RATE):int(0.05 * RATE)])
    late = power_db(response[int(0.30 * RATE):int(0.34 * RATE)])
    assert early - late == pytest.approx(60 * 0.29 / 0.4, abs=4)


def test_band_limits_cut_energy_outside_the_band():
    noise = np.random.default_rng(2).normal(0, 0.1, 4 * RATE).astype(np.float32)
    out = crowd.band_limit(noise, RATE, 300, 3000)
    inside = band_power_db(out, RATE, 600, 2500)
    assert inside == pytest.approx(band_power_db(noise, RATE, 600, 2500), abs=1.0)
    assert band_power_db(out, RATE, 0, 100) < inside - 30
    assert band_power_db(out, RATE, 3700, 4000) < inside - 15
    assert np.array_equal(crowd.band_limit(noise, RATE, None, None), noise)


def test_equaliser_boosts_and_cuts_where_asked():
    t = np.arange(RATE) / RATE
    sine = np.sin(2 * np.pi * 1000 * t).astype(np.float32)
    boosted = crowd.equalise(sine, RATE, [(1000, 6.0, 1.0)])
    cut = crowd.equalise(sine, RATE, [(1000, -6.0, 1.0)])
    steady = slice(RATE // 2, None)
    assert power_db(boosted[steady]) - power_db(sine[steady]) == pytest.approx(6.0, abs=0.3)
    assert power_db(cut[steady]) - power_db(sine[steady]) == pytest.approx(-6.0, abs=0.3)
    far = np.sin(2 * np.pi * 150 * t).astype(np.float32)  # far from the band: nearly untouched
    assert abs(power_db(crowd.equalise(far, RATE, [(2500, 6.0, 2.0)])[steady]) - power_db(far[steady])) < 0.5


@pytest.mark.parametrize("snr,colour", [(5, 0.0), (20, 1.0), (35, 2.0)])
def test_noise_is_added_at_the_snr_asked(snr, colour):
    clean = crowd.pad(tone(0.4), RATE, 0.1, 0.1)
    noisy = crowd.add_noise(clean, np.random.default_rng(3), snr, colour)
    assert crowd.snr_db(clean, noisy) == pytest.approx(snr, abs=0.2)
    residual = noisy - clean
    low, high = band_power_db(residual, RATE, 50, 500), band_power_db(residual, RATE, 2000, 3500)
    assert (low - high > 8) if colour >= 1 else abs(low - high) < 2  # pink/brown noise is darker than white


def test_the_channel_puts_noise_at_an_snr_in_its_range_and_silence_either_side():
    speech = tone(0.4)
    for snr in (10.0, 30.0):
        spec = crowd.Channel(snr_range=(snr, snr), lead_range=(0.05, 0.05), trail_range=(0.1, 0.1),
                             level_range=(0.5, 0.5))
        out = crowd.channel(speech, RATE, np.random.default_rng(4), spec)
        assert len(out) == len(speech) + int(0.05 * RATE) + int(0.1 * RATE)
        assert np.max(np.abs(out)) == pytest.approx(0.5, abs=1e-4)
        lead = out[:int(0.05 * RATE)]
        body = out[int(0.05 * RATE):int(0.05 * RATE) + len(speech)]
        assert power_db(body) - power_db(lead) == pytest.approx(snr, abs=1.5)


def test_drawn_channels_stay_in_their_ranges():
    for i in range(50):
        spec = crowd.Channel.draw(np.random.default_rng(i), snr=(8, 45))
        assert 8 <= spec.snr_range[0] < spec.snr_range[1] <= 45
        assert 40 <= spec.low_hz <= 400 and (spec.high_hz is None or 2600 <= spec.high_hz <= 4000)
        assert spec.rt60 is None or 0.08 <= spec.rt60 <= 0.6
        assert 0.05 <= spec.level_range[0] <= spec.level_range[1] <= 0.9


def test_a_warp_above_one_shortens_the_clip_and_raises_its_spectrum():
    clip = tone(0.5, rate=16000, freqs=(200, 600, 1200, 1800))
    up = crowd.warp(clip, 16000, 1.2, out_rate=RATE)
    down = crowd.warp(clip, 16000, 0.85, out_rate=RATE)
    same = crowd.warp(clip, 16000, 1.0, out_rate=RATE)
    assert len(same) == pytest.approx(0.5 * RATE, abs=2)
    assert len(up) == pytest.approx(0.5 * RATE / 1.2, abs=2) and len(down) == pytest.approx(0.5 * RATE / 0.85, abs=2)
    assert centroid(up, RATE) == pytest.approx(1.2 * centroid(same, RATE), rel=0.03)
    assert centroid(down, RATE) == pytest.approx(0.85 * centroid(same, RATE), rel=0.03)
    sine = tone(1.0, rate=16000, freqs=(900,))
    assert peak_hz(crowd.warp(sine, 16000, 1.2, out_rate=RATE), RATE) == pytest.approx(1080, abs=3)
    assert peak_hz(crowd.warp(sine, 16000, 0.85, out_rate=RATE), RATE) == pytest.approx(765, abs=3)


def test_trim_and_pad():
    clip = tone(0.3)
    padded = crowd.pad(clip, RATE, 0.2, 0.1)
    assert len(padded) == len(clip) + int(0.2 * RATE) + int(0.1 * RATE)
    trimmed = crowd.trim(padded + np.random.default_rng(5).normal(0, 1e-4, len(padded)).astype(np.float32), RATE)
    assert len(clip) <= len(trimmed) <= len(clip) + 2 * int(0.005 * RATE)


# --- engines ---------------------------------------------------------------------------------------

def test_a_missing_engine_is_an_error_when_asked_for_and_a_note_otherwise(monkeypatch):
    real_which = crowd.shutil.which
    monkeypatch.setattr(crowd.shutil, "which", lambda name: None if name == "festival" else real_which(name))
    with pytest.raises(audio.AudioError, match=r"apt-get install festival festvox"):
        crowd.available_voices(["espeak-ng", "festival"])
    voices, notes = crowd.available_voices()
    assert not any(v.engine == "festival" for v in voices) and any(v.engine == "espeak-ng" for v in voices)
    assert any(n.startswith("skipped festival") and "apt-get install festival" in n for n in notes)
    described = crowd.describe_crowd(4)
    assert "festival" not in described["engines"] and any("festival" in n for n in described["skipped"])

    monkeypatch.setattr(crowd.shutil, "which", lambda name: None)
    with pytest.raises(audio.AudioError, match=r"espeak-ng.*apt-get install espeak-ng"):
        crowd.synthesize_crowd(1, 1, progress=False)


def test_piper_without_its_packages_is_a_note_that_says_what_to_install(monkeypatch):
    import importlib.util

    real_find = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "piper" else real_find(name, *a))
    voices, notes = crowd.available_voices()
    assert not any(v.engine == "piper" for v in voices)
    assert any(n.startswith("skipped piper: piper-tts is not installed") and "hw5lib[voices]" in n for n in notes)
    with pytest.raises(audio.AudioError, match=r"cannot use piper.*hw5lib\[voices\]"):
        crowd.available_voices(["espeak-ng", "piper"])


def _piper_installed() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(name) for name in ("piper", *crowd.PIPER_VOICES.values()))


@pytest.mark.skipif(not _piper_installed(), reason="the optional neural voice is not installed "
                                                   "(pip install 'hw5lib[voices]')")
def test_the_neural_voice_says_a_digit_the_same_on_every_run_at_the_speed_asked():
    voice = crowd.Voice("piper", "en_US-joe-medium")
    assert voice in crowd.available_voices(["espeak-ng", "piper"])[0] and voice.label == "pi-en-us-joe-medium"
    (normal, rate), (again, _), (faster, _) = crowd.render(voice, [("seven.", 1.0, 1.0), ("seven.", 1.0, 1.3),
                                                                   ("seven.", 1.4, 1.0)])
    assert rate == 22050 and 0.2 < len(normal) / rate < 1.5
    assert np.array_equal(normal, again)  # no sampling noise; the pitch is the warp's business, as festival's
    assert len(faster) < 0.85 * len(normal)


def test_a_catalogue_pins_the_crowd_whatever_else_is_installed(monkeypatch):
    setup = list(crowd.catalogue_voices("setup"))

    def machine(extra=(), without=()):
        def engine_voices(engine):  # the setup machine's voices, with some added or taken away
            voices = [v for v in setup if v.engine == engine] + [v for v in extra if v.engine == engine]
            if engine == "piper" and not voices:
                return [], "piper-tts is not installed"
            return [v for v in voices if v not in without], None
        monkeypatch.setattr(crowd, "_engine_voices", engine_voices)

    machine()
    assert crowd.available_voices(catalogue="setup") == (setup, [])
    pinned = crowd.describe_crowd(6, catalogue="setup")
    assert pinned["catalogue"] == "setup" and pinned["engines"]["festival"] == [
        "kal_diphone", "ked_diphone", "cmu_us_slt_arctic_hts"]
    machine(extra=[crowd.Voice("mbrola", "mb-us1"), crowd.Voice("festival", "rab_diphone"),
                   crowd.Voice("piper", "en_US-joe-medium")])
    assert crowd.available_voices(catalogue="setup") == (setup, [])  # the extras are left out...
    assert crowd.describe_crowd(6, catalogue="setup") == pinned
    assert crowd.describe_crowd(6)["catalogue_key"] != pinned["catalogue_key"]  # ...where unpinned they join
    machine(without=[crowd.Voice("flite", "slt"), crowd.Voice("festival", "kal_diphone")])
    voices, notes = crowd.available_voices(catalogue="setup")
    assert voices == [v for v in setup if v.name not in ("slt", "kal_diphone")] and len(voices) == len(setup) - 2
    assert notes == [f"catalogue 'setup': 2 of its {len(setup)} voices are missing here (festival:kal_diphone, "
                     "flite:slt), so this crowd differs from the catalogue's"]
    with pytest.raises(audio.AudioError, match="Unknown voice catalogue 'mine'; choose one of setup"):
        crowd.available_voices(catalogue="mine")
    with pytest.raises(audio.AudioError, match="engines or its voice catalogue, not both"):
        crowd.synthesize_crowd(1, 1, engines=["espeak-ng"], catalogue="setup", progress=False)


def test_the_voice_set_is_part_of_the_cache_key(monkeypatch):
    all_voices = crowd.describe_crowd(2)["catalogue_key"]
    assert crowd.describe_crowd(2, engines=["espeak-ng"])["catalogue_key"] != all_voices or \
        set(crowd.describe_crowd(2)["engines"]) == {"espeak-ng"}
    assert crowd.describe_crowd(2, seed=1)["catalogue_key"] != all_voices


def test_speakers_mix_engines_and_differ():
    voices = [crowd.Voice("espeak-ng", "en-us+m1"), crowd.Voice("espeak-ng", "en-gb+f2"), crowd.Voice("flite", "awb")]
    people = crowd.crowd_speakers(6, seed=0, voices=voices)
    assert [p.voice.engine for p in people].count("flite") == 3  # half of them use the recorded person
    assert len({p.name for p in people}) == 6 and all(audio.NAME.match(f"3_{p.name}_0.wav") for p in people)
    assert len({round(p.warp, 4) for p in people}) == 6
    assert crowd.crowd_speakers(4, seed=0, voices=voices) == people[:4]  # a small crowd is the start of a big one


# --- the crowd on disk -----------------------------------------------------------------------------------

def read_all(folder):
    return {p.name: soundfile.read(p, dtype="int16")[0] for p in sorted(folder.glob("*.wav"))}


def test_same_seed_same_samples_another_seed_others(tmp_path, monkeypatch):
    first = read_all(crowd.synthesize_crowd(2, 2, seed=0, engines=["espeak-ng"], progress=False))
    monkeypatch.setenv("HW5LIB_CACHE", str(tmp_path / "another-cache"))  # made again from scratch
    again = read_all(crowd.synthesize_crowd(2, 2, seed=0, engines=["espeak-ng"], progress=False))
    other = read_all(crowd.synthesize_crowd(2, 2, seed=1, engines=["espeak-ng"], progress=False))
    assert first.keys() == again.keys() and all(np.array_equal(first[k], again[k]) for k in first)
    assert first.keys() != other.keys() or not all(np.array_equal(first[k], other[k]) for k in first)


def test_layout_rates_and_marker():
    folder = crowd.synthesize_crowd(2, 3, seed=0, engines=["espeak-ng"], progress=False)
    layout, clips = audio.find_clips(folder)
    assert layout == "fsdd" and len(clips) == 2 * 10 * 3
    assert sorted({c.take for c in clips}) == [0, 1, 2] and sorted({c.digit for c in clips}) == list(range(10))
    for path in list(folder.glob("*.wav"))[:10]:
        info = soundfile.info(path)
        assert (info.samplerate, info.channels, info.subtype) == (8000, 1, "PCM_16")
        assert 0.15 < info.duration < 1.6
    marker = json.loads((folder / "COMPLETE").read_text())
    assert marker["synthetic"] and marker["takes"] == 3 and marker["engines"] == {"espeak-ng": marker["engines"]
                                                                                    ["espeak-ng"]}
    assert len(marker["speaker_list"]) == 2 and all(v.startswith("espeak-ng:") for v in marker["voices_used"])


def test_the_cache_is_reused_and_a_bigger_crowd_makes_only_its_new_speakers(monkeypatch):
    folder = crowd.synthesize_crowd(1, 2, seed=0, engines=["espeak-ng"], progress=False)
    rendered = []
    real_render = crowd.render

    def counting(voice, takes):
        rendered.append(len(takes))
        return real_render(voice, takes)

    monkeypatch.setattr(crowd, "render", counting)
    assert crowd.synthesize_crowd(1, 2, seed=0, engines=["espeak-ng"], progress=False) == folder
    assert rendered == []
    bigger = crowd.synthesize_crowd(2, 2, seed=0, engines=["espeak-ng"], progress=False)
    assert bigger != folder and rendered == [20]  # speaker 0's 20 clips came from the pool
    name = next(folder.glob("*.wav")).name
    assert (bigger / name).read_bytes() == (folder / name).read_bytes()


# --- the command line -------------------------------------------------------------------------------

def tone_folder(folder, speakers, rate=RATE):
    """FSDD layout: each digit a chord of its own, each speaker a little sharper, each take a little louder."""
    folder.mkdir(parents=True)
    t = np.arange(int(0.3 * rate)) / rate
    for s, speaker in enumerate(speakers):
        for digit in range(10):
            for take in range(3):
                f = 250 + 120 * digit + 6 * s
                clip = (0.2 + 0.05 * take) * (np.sin(2 * np.pi * f * t) + 0.5 * np.sin(4 * np.pi * f * t))
                soundfile.write(folder / f"{digit}_{speaker}_{take}.wav", clip, rate, subtype="PCM_16")
    return folder


def test_test_data_trains_on_one_folder_and_tests_on_another(tmp_path, capsys):
    from hw5lib.digits.__main__ import main

    train = tone_folder(tmp_path / "train", ["ann", "bob", "cy"])
    test = tone_folder(tmp_path / "test", ["dee", "eve"])
    out = tmp_path / "out.json"
    result = main(["--data", str(train), "--test-data", str(test), "--model", "mean_mlp", "--epochs", "40",
                   "--lr", "1e-2", "--normalisation", "global", "--device", "cpu", "--out", str(out)])
    assert json.loads(out.read_text())["per_speaker"] == result["per_speaker"]
    assert set(result["per_speaker"]) == {"dee", "eve"} and result["n_test"] == 60
    assert result["n_train"] == 80 and result["device"] == "cpu"  # one clip of each digit held out for the curves
    assert result["accuracy"] == pytest.approx(np.mean(list(result["per_speaker"].values())))
    assert result["accuracy"] >= 0.9, result["per_speaker"]  # the chords are easy: the split must be right
    assert sum(map(sum, result["confusion"])) == 60
    assert result["train_data"]["folder"] == str(train) and result["test_data"]["folder"] == str(test)


def test_the_command_line_rejects_an_unknown_device(tmp_path):
    from hw5lib.device import DeviceError
    from hw5lib.digits.__main__ import main

    with pytest.raises(DeviceError):
        main(["--data", str(tone_folder(tmp_path / "d", ["ann"])), "--device", "tpu"])

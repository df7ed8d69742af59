import pytest

from hw5lib.publish import registry as chapters
from hw5lib.publish import profiles
from hw5lib.device import pick_device
from hw5lib.publish.profiles import ParameterError


def test_profiles_set_the_defaults():
    q2 = chapters.get("q2")
    smoke, quick, full = (q2.resolve(profile, {}) for profile in profiles.PROFILES)
    assert smoke.depth < quick.depth < full.depth
    assert quick.profile == "quick" and quick.seed == 0
    assert quick.device == "cpu" or quick.device.startswith(("cuda", "mps"))


def test_given_values_override_and_are_converted():
    params = chapters.get("q2").resolve("smoke", {"depth": "12", "check_widths": "[2, 4]", "seed": 3.0})
    assert params.depth == 12 and params.check_widths == [2, 4] and params.seed == 3
    assert params.as_dict()["profile"] == "smoke"


def test_notebook_namespace_is_read():
    params = chapters.chapter_parameters("q2", {"profile": "smoke", "depth": None, "width": 8, "other": 1})
    assert params.width == 8 and params.depth == chapters.get("q2").resolve("smoke", {}).depth


@pytest.mark.parametrize("given, message", [
    ({"depth": "deep"}, "Parameter 'depth' must be an integer, got 'deep'."),
    ({"depth": 1}, "Parameter 'depth' must be at least 2, got 1."),
    ({"width": 10**9}, "Parameter 'width' must be at most 8192"),
    ({"check_widths": []}, "Parameter 'check_widths' must be a non-empty list of integers"),
    ({"check_widths": "2,x"}, "Parameter 'check_widths' must be a non-empty list of integers"),
    ({"seed": -1}, "Parameter 'seed' must be at least 0"),
    ({"depth": True}, "Parameter 'depth' must be an integer"),
    ({"widht": 3}, "Unknown parameter 'widht'; this chapter takes: profile, batch,"),
    ({"device": "tpu"}, "Parameter 'device' must be auto, cpu, cuda, cuda:N or mps, got 'tpu'."),
])
def test_bad_values_name_the_parameter(given, message):
    with pytest.raises(ParameterError) as error:
        chapters.get("q2").resolve("quick", given)
    assert str(error.value).startswith(message)
    assert str(error.value).count(".") >= 1 and "\n" not in str(error.value)


def test_unknown_profile_and_chapter():
    with pytest.raises(ParameterError, match="Parameter 'profile' must be one of smoke, quick, full, got 'fast'"):
        chapters.get("q2").resolve("fast", {})
    with pytest.raises(ParameterError, match=f"Unknown chapter 'q9'; the chapters are: {', '.join(chapters.NAMES)} "):
        chapters.get("q9")


def test_device_choice(monkeypatch):
    """auto prefers CUDA, then Apple MPS, then the CPU; asking for what is absent names it."""
    import torch

    from hw5lib.device import DeviceError

    assert pick_device("cpu") == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert pick_device("auto") == "cpu"
    with pytest.raises(DeviceError, match="no CUDA GPU is visible"):
        pick_device("cuda")
    with pytest.raises(ParameterError, match="Parameter 'device' asks for CUDA"):
        chapters.get("q2").resolve("smoke", {"device": "cuda"})
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert pick_device("auto") == "mps"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert pick_device("auto") == "cuda" and pick_device("cuda:0") == "cuda:0"
    with pytest.raises(DeviceError, match="only 1 CUDA GPU"):
        pick_device("cuda:1")


def test_networks_trained_at_once_follow_the_threads_on_a_cpu_and_are_one_on_an_accelerator(monkeypatch):
    import torch

    from hw5lib.device import trainings_at_once

    monkeypatch.setattr(torch, "get_num_threads", lambda: 3)
    assert trainings_at_once("cpu") == 3 and trainings_at_once("cuda") == 1 and trainings_at_once("mps") == 1


def test_the_whisper_chapter_checks_its_model_data_and_recordings_up_front(tmp_path):
    whisper = chapters.get("whisper")
    assert whisper.resolve("quick", {}).model_name_or_path == "auto"
    assert whisper.resolve("smoke", {}).model_name_or_path == "tiny"
    assert whisper.resolve("full", {}).model_name_or_path == "openai/whisper-base"
    (tmp_path / "checkpoint").mkdir()
    import numpy as np
    import soundfile

    soundfile.write(tmp_path / "mine.wav", np.random.default_rng(0).normal(0, 0.1, 8000), 16000)
    speech = tmp_path / "speech"  # one table naming its clips: read at validation, the audio later
    speech.mkdir()
    (speech / "text.csv").write_text("path,sentence\n" + "".join(f"{i}.wav,جملهٔ {i}\n" for i in range(4)))
    for i in range(4):
        (speech / f"{i}.wav").write_bytes(b"")
    given = {"model_name_or_path": str(tmp_path / "checkpoint"), "data": str(speech),
             "fa_audio": str(tmp_path / "mine.wav")}
    resolved = whisper.resolve("smoke", given)
    assert (resolved.model_name_or_path, resolved.data, resolved.fa_audio) == (
        str(tmp_path / "checkpoint"), str(speech), str(tmp_path / "mine.wav"))
    for given, message in [
        ({"model_name_or_path": "whisper base"}, "Parameter 'model_name_or_path' must be tiny (built here, offline), "
                                                  "auto (whisper-base where it can be had, else tiny), a checkpoint "
                                                  "folder or a hub id like openai/whisper-base"),
        ({"model_name_or_path": "a/b/c"}, "Parameter 'model_name_or_path' must be tiny"),
        ({"data": str(tmp_path / "nowhere")}, "Parameter 'data' must be synthetic or a folder of transcribed speech"),
        ({"zh_audio": str(tmp_path / "nowhere.wav")}, "Parameter 'zh_audio' must be empty or an audio file"),
        ({"voices": 5}, "Parameter 'voices' must be at most 4"),
    ]:
        with pytest.raises(ParameterError) as error:
            whisper.resolve("quick", given)
        assert str(error.value).startswith(message) and "\n" not in str(error.value)


def test_the_profile_left_at_none_comes_from_the_environment(monkeypatch):
    q2 = chapters.get("q2")
    monkeypatch.delenv("HW5LIB_PROFILE", raising=False)
    assert profiles.default_profile() == "quick" and q2.resolve(None, {}).profile == "quick"
    monkeypatch.setenv("HW5LIB_PROFILE", "smoke")
    assert chapters.chapter_parameters("q2", {"profile": None}).profile == "smoke"
    assert q2.resolve("full", {}).profile == "full"  # a profile given wins over the environment
    monkeypatch.setenv("HW5LIB_PROFILE", "fast")
    with pytest.raises(ParameterError, match="HW5LIB_PROFILE must be one of smoke, quick, full, got 'fast'"):
        q2.resolve(None, {})

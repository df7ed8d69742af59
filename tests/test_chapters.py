"""Every chapter executes end to end on the smoke profile, through the same CLI a user types."""

import json
import shutil
import subprocess
import sys

import pytest

from hw5lib.publish import registry as chapters

pytestmark = pytest.mark.slow


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "hw5lib", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=900)


TIMING = ("second", "time", "runtime", "created", "per_second")


def without_timings(value):
    """A results JSON with every timing (keys that name seconds, times or creation) left out:
    everything else must be the same when a chapter runs again with the same parameters and seed."""
    if isinstance(value, dict):
        return {key: without_timings(item) for key, item in value.items()
                if not any(word in str(key).lower() for word in TIMING)}
    if isinstance(value, list):
        return [without_timings(item) for item in value]
    return value


def metrics(run_dir):
    saved = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    return {metric["key"]: metric["value"] for metric in saved["metrics"]}, saved


@pytest.mark.parametrize("name", chapters.NAMES)
def test_chapter_runs_on_smoke_and_its_results_json_repeats(name, tmp_path):
    first = run_cli("run", name, "--profile", "smoke", "--quiet", "--output", str(tmp_path / "a"))
    assert first.returncode == 0, first.stderr[-3000:]
    second = run_cli("run", name, "--profile", "smoke", "--quiet", "--output", str(tmp_path / "b"))
    assert second.returncode == 0, second.stderr[-3000:]
    (run_a,), (run_b,) = (tmp_path / "a").iterdir(), (tmp_path / "b").iterdir()
    assert run_a.name.startswith(f"{name}-")
    values_a, saved = metrics(run_a)
    values_b, saved_b = metrics(run_b)
    assert values_a and values_a == values_b, "same parameters and seed must give the same numbers"
    assert without_timings(saved) == without_timings(saved_b), "the whole results JSON, timings aside"
    assert saved["parameters"]["profile"] == "smoke"
    assert saved["provenance"]["git"].keys() == {"commit", "dirty"}
    assert saved["provenance"]["seed"] == saved["parameters"]["seed"]
    assert (run_a / f"{name}.ipynb").exists() and not (run_a / f"{name}.source.ipynb").exists()
    assert list((run_a / "figures").glob("*.png")), "a chapter saves its figures into the run folder"
    executed = json.loads((run_a / f"{name}.ipynb").read_text(encoding="utf-8"))
    stderr = [output.get("text", "")[:300] for cell in executed["cells"] for output in cell.get("outputs", [])
              if output.get("name") == "stderr"]
    assert not stderr, f"the book treats a cell's stderr (a warning) as an error: {stderr}"
    glued = [output["metadata"]["scrapbook"]["name"] for cell in executed["cells"] for output in cell.get("outputs", [])
             if "scrapbook" in output.get("metadata", {})]
    repeated = sorted({name for name in glued if glued.count(name) > 1})
    assert glued and not repeated, f"glue names used twice (the later hides the earlier): {repeated}"
    tags = [cell.get("metadata", {}).get("tags", []) for cell in executed["cells"] if cell["cell_type"] == "code"]
    assert "parameters" in tags[0] and "injected-parameters" in tags[1]


def test_q2_headline_numbers_make_the_point(tmp_path):
    result = run_cli("run", "q2", "--profile", "smoke", "--quiet", "--output", str(tmp_path), "-p", "depth", "20",
                     "-p", "train_steps", "60")
    assert result.returncode == 0, result.stderr[-3000:]
    (run_dir,) = tmp_path.iterdir()
    values, saved = metrics(run_dir)
    assert saved["parameters"]["depth"] == 20
    assert values["steps_verified"] == "5/5"
    assert values["max_abs_error_vs_autograd"] < 1e-10
    assert values["grad_ratio_plain"] < 1e-3 < values["grad_ratio_residual"]


@pytest.mark.parametrize("args, message", [
    (["run", "q2", "-p", "depth", "abc"], "hw5lib: Parameter 'depth' must be an integer, got 'abc'."),
    (["run", "q2", "-p", "depth", "1"], "hw5lib: Parameter 'depth' must be at least 2, got 1."),
    (["run", "q2", "-p", "colour", "red"], "hw5lib: Unknown parameter 'colour'"),
    (["run", "q2", "--profile", "fast"], "hw5lib: Parameter 'profile' must be one of smoke, quick, full, got 'fast'."),
    (["run", "q2", "-p", "profile", "full"], "hw5lib: Give the profile with --profile, not -p profile."),
    (["run", "nope"], "hw5lib: Unknown chapter 'nope'; the chapters are:"),
    (["run", "q1", "-p", "data", "/nowhere/at/all"],
     "hw5lib: Parameter 'data' must be auto, fsdd, audiomnist, synthetic or a folder of FSDD or AudioMNIST recordings, "
     "and '/nowhere/at/all' is not a folder."),
])
def test_bad_input_is_one_sentence_and_starts_nothing(args, message, tmp_path):
    result = run_cli(*args, "--output", str(tmp_path / "runs"))
    assert result.returncode == 2
    assert result.stderr.startswith(message), result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert not (tmp_path / "runs").exists(), "nothing is created before the parameters are valid"


def test_unwritable_output_is_one_sentence(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = run_cli("run", "q2", "--profile", "smoke", "--output", str(blocker / "runs"))
    assert result.returncode == 2
    assert "Cannot create the run folder" in result.stderr and "Traceback" not in result.stderr


def test_chapters_listing_names_every_parameter():
    result = run_cli("chapters")
    assert result.returncode == 0
    for parameter in chapters.get("q2").all_parameters:
        assert f"    {parameter.name} (" in result.stdout


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed (scripts/setup installs it)")
def test_q1_on_synthetic_voices_measures_the_shift(tmp_path):
    result = run_cli("run", "q1", "--profile", "smoke", "--quiet", "--output", str(tmp_path), "-p", "data", "synthetic")
    assert result.returncode == 0, result.stderr[-3000:]
    (run_dir,) = tmp_path.iterdir()
    values, saved = metrics(run_dir)
    assert saved["data"]["source"].startswith("synthetic crowd (") and saved["data"]["synthetic"] is True
    assert saved["data"]["how"] == "synthetic" and "data=synthetic" in saved["data"]["reason"]
    assert values["within_speaker_accuracy"] > 50  # ten digits: chance is 10%
    assert values["drift_detection_delay"] is not None and 0 < values["drift_detection_delay"] < 1000
    assert values["drift_false_alarm_rate"] <= 5
    methods = (run_dir / "tables" / "q1_methods.csv").read_text()
    # header and eleven methods, matching by generation and VTLN too
    assert methods.count("\n") == 12 and "speed" in methods and "VTLN" in methods


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed (scripts/setup installs it)")
def test_q4_on_synthetic_digits_holds_every_model(tmp_path):
    from hw5lib import digits
    from hw5lib.chapters import q4_digits
    from hw5lib.chapters.common import MODEL_NAMES

    result = run_cli("run", "q4", "--profile", "smoke", "--quiet", "--output", str(tmp_path), "-p", "data", "synthetic",
                     "-p", "epochs", "12", "-p", "clips_per_digit", "6")
    assert result.returncode == 0, result.stderr[-3000:]
    (run_dir,) = tmp_path.iterdir()
    values, saved = metrics(run_dir)
    assert saved["data"]["synthetic"] is True and saved["parameters"]["epochs"] == 12
    reported = {metric["key"]: metric.get("reported") for metric in saved["metrics"]}
    for name in digits.MODELS:
        assert 0 <= values[f"our_recipe_{name}"] <= 100
    for name in q4_digits.RECURRENT:
        assert reported[f"report_recipe_{name}"] == pytest.approx(100 * q4_digits.REPORTED[name].value)
    steps = [key[len("ablation_"):] for key in values if key.startswith("ablation_")]
    assert steps[0] == "faithful" and steps[-1] == "recipe" and set(steps) <= {s.key for s in digits.ABLATION}
    assert reported["ablation_faithful"] == 40.0
    assert max(values[f"our_recipe_{name}"] for name in digits.MODELS) > 30  # ten digits: chance is 10%
    assert values["speaker_disjoint_best_model"]["en"] in {name["en"] for name in MODEL_NAMES.values()}
    for table in ("q4_per_speaker", "q4_splits", "q4_ablation", "q4_models", "q4_speaker_disjoint", "q4_levers"):
        assert (run_dir / "tables" / f"{table}.csv").exists(), table
    levers = (run_dir / "tables" / "q4_levers.csv").read_text().splitlines()
    assert len(levers) == 1 + 6 and levers[-1].startswith("all four levers")  # none, each alone, all together
    for key in ("loso_chapter_mean", "loso_chapter_worst", "loso_unheard_mean", "loso_unheard_worst"):
        assert 0 <= values[key] <= 100, key

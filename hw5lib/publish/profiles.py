"""Chapter parameters: one declared specification per chapter, three profiles of defaults.

``smoke`` runs a chapter in seconds (the tests execute every notebook with it), ``quick`` is
what ``jupyter-book build book/`` executes (the whole book in minutes on two CPU cores), and
``full`` is the report's own settings for a GPU machine with real data and weights. A chapter
whose ``profile`` is left at None takes ``$HW5LIB_PROFILE``, else ``quick``.

A parameter left at ``None`` in a notebook's parameters cell takes its profile's default; any
value given (in the cell, by papermill or by ``hw5lib run -p NAME VALUE``) is validated and
converted, and a bad one stops with one sentence that names the parameter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Mapping

PROFILES = ("smoke", "quick", "full")
DEFAULT_PROFILE = "quick"
PROFILE_ENV = "HW5LIB_PROFILE"  # the profile of a chapter whose ``profile`` is left at None


class ParameterError(ValueError):
    """A chapter parameter is unknown, of the wrong type, or out of range."""


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _to_int(name: str, value) -> int:
    if _is_int(value):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise ParameterError(f"Parameter '{name}' must be an integer, got {value!r}.")


def _to_float(name: str, value) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            pass
    raise ParameterError(f"Parameter '{name}' must be a number, got {value!r}.")


def _to_bool(name: str, value) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false", "yes", "no", "1", "0"}:
        return value.strip().lower() in {"true", "yes", "1"}
    raise ParameterError(f"Parameter '{name}' must be true or false, got {value!r}.")


def _to_str(name: str, value) -> str:
    if isinstance(value, str):
        return value
    raise ParameterError(f"Parameter '{name}' must be a string, got {value!r}.")


def _to_int_list(name: str, value) -> list[int]:
    given = value
    if isinstance(value, str):
        value = [part for part in value.replace("[", "").replace("]", "").split(",") if part.strip()]
    if not isinstance(value, (list, tuple)) or not value:
        raise ParameterError(f"Parameter '{name}' must be a non-empty list of integers, got {given!r}.")
    try:
        return [_to_int(name, item) for item in value]
    except ParameterError:
        raise ParameterError(f"Parameter '{name}' must be a non-empty list of integers, got {given!r}.") from None


def _to_increasing_int_list(name: str, value) -> list[int]:
    value = _to_int_list(name, value)
    if value != sorted(set(value)):
        raise ParameterError(f"Parameter '{name}' must be a list of increasing integers, got {value}.")
    return value


def _to_storage(name: str, value) -> str:
    """'auto', 'memory', or a URL (journal:///path, sqlite:///path, postgresql://...)."""
    value = _to_str(name, value).strip()
    if value in {"auto", "memory"} or ("://" in value and value.split("://", 1)[1]):
        return value
    raise ParameterError(f"Parameter '{name}' must be auto, memory or a storage URL such as sqlite:///study.db or "
                         f"journal:///study.log, got {value!r}.")


def _to_data_source(name: str, value) -> str:
    """'auto', 'fsdd', 'audiomnist', 'synthetic', or a folder of FSDD or AudioMNIST recordings (its
    file names are checked here, before anything runs; the audio itself when it is read)."""
    from hw5lib.data.audio import AudioError, find_clips

    value = _to_str(name, value).strip()
    if value in {"auto", "fsdd", "audiomnist", "synthetic"}:
        return value
    folder = Path(value).expanduser()
    if not folder.is_dir():
        raise ParameterError(f"Parameter '{name}' must be auto, fsdd, audiomnist, synthetic or a folder of FSDD or "
                             f"AudioMNIST recordings, and {value!r} is not a folder.")
    try:
        find_clips(folder, skip_bad=True, report=lambda message: None)
    except AudioError as error:
        raise ParameterError(f"Parameter '{name}': {error}") from None
    return str(folder)


def _to_speech_source(name: str, value) -> str:
    """'synthetic', or a folder of transcribed speech (its tables are checked here, before anything
    runs; the audio itself when it is read)."""
    from hw5lib.data.speech import CorpusError, load_transcribed

    value = _to_str(name, value).strip()
    if value == "synthetic":
        return value
    if not Path(value).expanduser().is_dir():
        raise ParameterError(f"Parameter '{name}' must be synthetic or a folder of transcribed speech (audio files "
                             f"with one CSV/TSV table, or a Common Voice language folder), and {value!r} is not a "
                             "folder.")
    try:
        load_transcribed(value)
    except CorpusError as error:
        raise ParameterError(f"Parameter '{name}': {error}") from None
    return str(Path(value).expanduser())


def _to_audio_file(name: str, value) -> str:
    """'' (none), or a readable mono recording that is not silent (checked here, before anything runs)."""
    from hw5lib.data.audio import AudioError, load_audio

    value = _to_str(name, value).strip()
    if not value:
        return ""
    path = Path(value).expanduser()
    if not path.is_file():
        raise ParameterError(f"Parameter '{name}' must be empty or an audio file, and {value!r} is not a file.")
    try:
        load_audio(path, 16_000)
    except AudioError as error:
        raise ParameterError(f"Parameter '{name}': {error}") from None
    return str(path)


def _to_model(name: str, value) -> str:
    """'tiny', 'auto', a folder that exists, or a hub id of the form owner/name."""
    value = _to_str(name, value).strip()
    if value in {"tiny", "auto"}:
        return value
    if Path(value).expanduser().is_dir():
        return str(Path(value).expanduser())
    owner, _, model = value.partition("/")
    if owner and model and "/" not in model and not value.startswith((".", "~")):
        return value
    raise ParameterError(f"Parameter '{name}' must be tiny (built here, offline), auto (whisper-base where it can "
                         f"be had, else tiny), a checkpoint folder or a hub id like openai/whisper-base, and "
                         f"{value!r} is none of those.")


_CONVERTERS: dict[str, Callable[[str, Any], Any]] = {
    "int": _to_int, "float": _to_float, "bool": _to_bool, "str": _to_str, "int_list": _to_int_list,
    "increasing_int_list": _to_increasing_int_list, "storage": _to_storage,
    "data_source": _to_data_source, "speech_source": _to_speech_source, "audio_file": _to_audio_file,
    "model": _to_model,
}


@dataclass(frozen=True)
class Parameter:
    """One chapter parameter. ``default`` is a value, or a mapping from profile to value."""

    name: str
    kind: str
    default: Any
    help: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple | None = None

    def __post_init__(self):
        if self.kind not in _CONVERTERS:
            raise ValueError(f"Unknown parameter kind {self.kind!r} for {self.name!r}.")

    def default_for(self, profile: str):
        if isinstance(self.default, Mapping):
            return self.default[profile]
        return self.default

    def validate(self, value):
        value = _CONVERTERS[self.kind](self.name, value)
        items = value if isinstance(value, list) else [value]
        for item in items:
            if self.choices is not None and item not in self.choices:
                options = ", ".join(repr(choice) for choice in self.choices)
                raise ParameterError(f"Parameter '{self.name}' must be one of {options}, got {item!r}.")
            if self.minimum is not None and item < self.minimum:
                raise ParameterError(f"Parameter '{self.name}' must be at least {self.minimum}, got {item!r}.")
            if self.maximum is not None and item > self.maximum:
                raise ParameterError(f"Parameter '{self.name}' must be at most {self.maximum}, got {item!r}.")
        return value


COMMON_PARAMETERS = (
    Parameter("seed", "int", 0, "random seed: the same seed and parameters give the same numbers", minimum=0),
    Parameter("device", "str", "auto", "auto (CUDA, else Apple MPS, else CPU), cpu, cuda, cuda:N or mps"),
)


@dataclass(frozen=True)
class Parameters(Mapping):
    """Validated parameters of one chapter run; read as attributes or as a mapping."""

    profile: str
    values: Mapping[str, Any] = field(default_factory=dict)

    def __getattr__(self, name):
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, name):
        return self.values[name]

    def __iter__(self):
        return iter(self.values)

    def __len__(self):
        return len(self.values)

    def as_dict(self) -> dict:
        return {"profile": self.profile, **self.values}


def default_profile() -> str:
    """$HW5LIB_PROFILE when set (so ``HW5LIB_PROFILE=smoke jupyter-book build book/`` builds the
    whole book on smoke), else ``quick``."""
    import os

    chosen = os.environ.get(PROFILE_ENV, "").strip()
    if chosen and chosen not in PROFILES:
        raise ParameterError(f"The environment variable {PROFILE_ENV} must be one of {', '.join(PROFILES)}, "
                             f"got {chosen!r}.")
    return chosen or DEFAULT_PROFILE


def check_profile(profile) -> str:
    if profile not in PROFILES:
        raise ParameterError(f"Parameter 'profile' must be one of {', '.join(PROFILES)}, got {profile!r}.")
    return profile


def resolve(parameters: tuple[Parameter, ...], profile: str, given: Mapping[str, Any]) -> Parameters:
    """Validate ``given`` (``None`` means "the profile's default") against ``parameters``."""
    profile = check_profile(default_profile() if profile is None else profile)
    known = {parameter.name: parameter for parameter in parameters}
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise ParameterError(
            f"Unknown parameter '{unknown[0]}'; this chapter takes: profile, {', '.join(sorted(known))}."
        )
    values = {}
    for name, parameter in known.items():
        value = given.get(name)
        values[name] = parameter.validate(parameter.default_for(profile) if value is None else value)
    if "device" in values:
        from hw5lib.device import DeviceError, pick_device

        try:
            values["device"] = pick_device(values["device"])
        except DeviceError as error:
            raise ParameterError(str(error)) from None
    return Parameters(profile, MappingProxyType(values))

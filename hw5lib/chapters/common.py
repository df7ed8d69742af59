"""What several chapters share: the spoken-digits data parameters."""

from __future__ import annotations

from hw5lib.publish.profiles import Parameter

# the data parameter of every chapter that works on spoken digits (hw5lib.data.audio.load_digits)
SPOKEN_DIGITS = Parameter("data", "data_source", "auto",
                          "spoken digits: auto (the FSDD recordings at $HW5LIB_DATA/fsdd or ../shared/data/fsdd "
                          "when present, else synthetic), synthetic, or a folder of FSDD or AudioMNIST recordings")


def spoken_digits(speakers: dict, clips_per_digit: dict) -> tuple[Parameter, ...]:
    """The data parameters of a chapter on spoken digits, with its profiles' sizes."""
    return (
        SPOKEN_DIGITS,
        Parameter("speakers", "int", speakers,
                  "at most this many speakers (and this many voices, up to 12, when synthetic)", minimum=2, maximum=1000),
        Parameter("clips_per_digit", "int", clips_per_digit, "at most this many takes of each digit per speaker",
                  minimum=2, maximum=10_000),
    )

"""What several chapters share: the spoken-digits data parameters, the digits' source and the
digit models' names, in both languages."""

from __future__ import annotations

from hw5lib.publish.profiles import Parameter

# the data parameter of every chapter that works on spoken digits (hw5lib.data.audio.load_digits)
SPOKEN_DIGITS = Parameter("data", "data_source", {"smoke": "auto", "quick": "auto", "full": "audiomnist"},
                          "spoken digits: auto (FSDD: $HW5LIB_DATA/fsdd or ../shared/data/fsdd, else the cache, "
                          "else downloaded and verified; synthetic speakers when none can be had), fsdd, audiomnist "
                          "(downloaded and verified; the full profile's), synthetic, or a folder of FSDD or "
                          "AudioMNIST recordings")


def spoken_digits(speakers: dict, clips_per_digit: dict) -> tuple[Parameter, ...]:
    """The data parameters of a chapter on spoken digits, with its profiles' sizes."""
    return (
        SPOKEN_DIGITS,
        Parameter("speakers", "int", speakers,
                  "at most this many speakers (and this many voices, up to 12, when synthetic)",
                  minimum=2, maximum=1000),
        Parameter("clips_per_digit", "int", clips_per_digit, "at most this many takes of each digit per speaker",
                  minimum=2, maximum=10_000),
    )


# the digit models of hw5lib.digits.MODELS, named in each language
MODEL_NAMES = {
    "lstm_2x64": {"fa": "LSTM دو لایهٔ ۶۴تایی", "en": "LSTM 2x64"},
    "lstm_1x128": {"fa": "LSTM یک لایهٔ ۱۲۸تایی", "en": "LSTM 1x128"},
    "bilstm_2x64": {"fa": "BiLSTM دو لایهٔ ۶۴تایی", "en": "BiLSTM 2x64"},
    "bilstm_1x128": {"fa": "BiLSTM یک لایهٔ ۱۲۸تایی", "en": "BiLSTM 1x128"},
    "cnn": {"fa": "CNN روی طیف‌نگار log-mel", "en": "CNN on log-mel"},
    "mean_mlp": {"fa": "میانگین MFCC و شبکهٔ چگال", "en": "mean MFCC + dense"},
    "resnet": {"fa": "ResNet کوچک روی log-mel با ادغام آماری", "en": "small ResNet on log-mel, statistics pooling"},
}


_REAL_FA = {"FSDD": "FSDD (ضبط‌های واقعی)", "AudioMNIST": "AudioMNIST (ضبط‌های واقعی)"}


def source_words(source: str) -> dict[str, str]:
    """The spoken digits' source (``DigitSet.source``) in both languages, for ``glue_value``."""
    if source in _REAL_FA:
        return {"fa": _REAL_FA[source], "en": source}
    engines = source[source.find("(") + 1:source.rfind(")")] if "(" in source else "espeak-ng"
    return {"fa": f"جمعیت گوینده‌های ساختگی ({engines})", "en": source}


"""Where a page's recordings came from, in both languages: the admonition near the top of every
chapter that works on recordings (glued by :meth:`hw5lib.publish.results.ChapterResults.publish`
as ``data_notice`` / ``data_notice_fa`` and pasted with ``{glue:md}`` and ``:format: myst``)."""

from __future__ import annotations

from hw5lib.publish.i18n import counted, localise_number

_HOW = {
    "given": {"en": "read from the folder given as `data`", "fa": "از پوشه‌ای که با `data` داده شد"},
    "workplace": {"en": "read from this machine's copy ($HW5LIB_DATA/fsdd or ../shared/data/fsdd)",
                  "fa": "از نسخهٔ همین ماشین ($HW5LIB_DATA/fsdd یا ../shared/data/fsdd)"},
    "cache": {"en": "downloaded earlier into the cache", "fa": "پیش‌تر در حافظهٔ نهان بارگیری شده"},
    "downloaded": {"en": "downloaded for this run", "fa": "برای همین اجرا بارگیری شده"},
}
_GET_REAL = {
    "digits": {
        "en": "To run it on recordings of people, run it again on a machine with a network (FSDD is then "
              "downloaded and checked file by file by itself), set `HW5LIB_FSDD_URL` to a mirror of FSDD's archive, "
              "or give a folder of FSDD or AudioMNIST recordings with `-p data /path/to/recordings`.",
        "fa": "برای اجرا روی صدای آدم‌ها، آن را روی ماشینی با دسترسی به شبکه دوباره اجرا کنید (FSDD خودش بارگیری "
              "و پرونده‌به‌پرونده وارسی می‌شود)، `HW5LIB_FSDD_URL` را به نشانی نسخه‌ای از بایگانی FSDD بدهید، یا "
              "پوشه‌ای از ضبط‌های FSDD یا AudioMNIST را با `-p data /path/to/recordings` بدهید.",
    },
    "speech": {
        "en": "To run it on recordings of people, give a folder of transcribed recordings (a Common Voice language "
              "folder, or audio files with a CSV of their transcriptions) with `-p data /path/to/folder`.",
        "fa": "برای اجرا روی صدای آدم‌ها، پوشه‌ای از ضبط‌های رونویسی‌شده (پوشهٔ یک زبان Common Voice، یا "
              "پرونده‌های صوتی با یک CSV از رونوشت‌هایشان) را با `-p data /path/to/folder` بدهید.",
    },
}


# the reasons a chapter falls back to synthetic speakers, told in Persian (by a phrase their English message
# holds); any other reason is shown as the program's own English message, set as code
_REASON_FA = (
    ("were asked for", "گوینده‌های ساختگی خواسته شده بود"),
    ("no folder of transcribed recordings", "پوشه‌ای از ضبط‌های رونویسی‌شده داده نشد"),
    ("HW5LIB_OFFLINE is set", "داده در حافظهٔ نهان نبود و بارگیری با HW5LIB_OFFLINE خاموش است"),
    ("no network?", "شبکه در دسترس نبود"),
)


def reason_fa(reason: str) -> str:
    """Why synthetic speakers were used, for a Persian page: a Persian sentence where the reason is one of the
    known ones, followed by the program's English message as code (it names hosts, URLs and variables)."""
    said = next((fa for phrase, fa in _REASON_FA if phrase in reason), None)
    detail = f"`{reason.strip()}`"
    return f"{said} ({detail})." if said else detail + ("" if reason.rstrip()[-1:] in ".?!" else ".")


def data_notice(described: dict, part: bool = False) -> dict[str, str]:
    """A MyST admonition in each language saying where a page's recordings came from (a
    ``DigitSet.describe()`` or a Whisper ``SpeechData.describe()``): real ones with their source,
    size and check; synthetic ones as a warning with the reason no recordings were used and how to
    get real ones (on a Persian page the Latin name of the synthetic source is quoted «...», which the page's
    finish isolates, so that its parentheses stay in place). ``part``: the recordings are one part of the page
    (its spoken digits), not all of it."""
    kind = described.get("kind", "digits")
    clips, speakers = f"{described['clips']:,}", described["speakers"]
    if described["synthetic"]:
        reason = described.get("reason") or ("no folder of transcribed recordings was given" if kind == "speech"
                                             else "synthetic speakers were asked for")
        stop = "" if reason.rstrip()[-1:] in ".?!" else "."
        voices = counted(speakers, "machine voice")
        subject = {"en": "This page's numbers on spoken digits" if part else "These numbers",
                   "fa": "عددهای این صفحه دربارهٔ ارقام گفته‌شده" if part else "عددهای این صفحه"}
        en = (f"{subject['en']} come from {clips} clips of {voices}, {described['source']}, not from "
              f"recordings of people, because: {reason.strip()}{stop} Machine voices are easier to tell apart and to "
              f"recognise than people are, so read them as a check that the code works. "
              f"{_GET_REAL[kind]['en']}")
        fa = (f"{subject['fa']} از {localise_number(clips, 'fa')} گفتهٔ {localise_number(str(speakers), 'fa')} صدای "
              f"ماشینی، «{described['source']}»، آمده‌اند، نه از صدای ضبط‌شدهٔ آدم‌ها؛ دلیلش: {reason_fa(reason)} "
              "صداهای ماشینی را آسان‌تر از صدای آدم‌ها می‌شود از هم جدا کرد و بازشناخت، پس این عددها را نشانهٔ "
              f"درست کار کردن کد بخوانید، نه کیفیت مدل‌ها. {_GET_REAL[kind]['fa']}")
        return {"en": _admonition("warning", "Synthetic speakers", en),
                "fa": _admonition("warning", "گوینده‌های ساختگی", fa)}
    how = described.get("how")
    check = described.get("checked")
    origin = {lang: (f", {_HOW[how][lang]}" if how in _HOW else "") for lang in ("en", "fa")}
    pinned = f" of commit `{described['commit'][:7]}`" if described.get("commit") else ""
    people = f"{speakers} {'people' if speakers != 1 else 'person'}"
    en = f"{clips} recordings of {people} from {described['source']}{origin['en']}"
    fa = (f"{localise_number(clips, 'fa')} ضبط از {localise_number(str(speakers), 'fa')} گوینده از "
          f"{described['source']}{origin['fa'].replace(', ', '، ')}")
    if check and check.startswith("manifest"):
        en += f"; each file checked against the {check}{pinned}, digest `{described['digest'][:12]}`"
        fa += f"؛ هر پرونده با فهرست اندازه‌ها و sha256 وارسی شد ({check}؛ چکیده `{described['digest'][:12]}`)"
    elif check and not check.startswith("failed"):
        en += f"; checked for its {check}{pinned}, digest `{described['digest'][:12]}`"
        fa += f"؛ چینش و شمار پرونده‌ها وارسی شد (چکیده `{described['digest'][:12]}`)"
    elif check:
        en += f"; the check against the manifest {check}"
        fa += f"؛ وارسی با فهرست: `{check}`"
    return {"en": _admonition("note", "Data", f"{en}."), "fa": _admonition("note", "داده", f"{fa}.")}


def _admonition(kind: str, title: str, text: str) -> str:
    return f":::{{admonition}} {title}\n:class: {kind}\n{text}\n:::\n"

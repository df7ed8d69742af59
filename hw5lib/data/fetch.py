"""Real spoken digits fetched when the network is there: FSDD and AudioMNIST at pinned commits.

Each data set is the GitHub archive of one upstream commit (or a mirror of it, a ``.tar.gz`` or
``.zip`` holding the data set's folder at any depth, named by an environment variable). It is
downloaded with pooch through :class:`ResumableDownloader` (a progress bar; an interrupted
download leaves a ``.part`` file that the next attempt continues with an HTTP range request),
unpacked into a hidden staging folder, checked, and only then renamed into the cache with a
``VERIFIED`` record. A failed, cut or tampered download therefore never leaves a folder that looks
complete, and a tampered archive is deleted, so nothing of it is cached.

* **FSDD** is checked file by file against the manifest shipped in this package
  (``fsdd-manifest.tsv``: every one of the 3,000 recordings of commit 26eb9aa with its size and
  sha256; an archive's own bytes are not stable across GitHub's re-packings, its files are).
* **AudioMNIST** (no manifest ships) is checked for its layout and count: 60 speakers' folders
  ``data/NN/`` of 500 clips each, ``{digit}_{NN}_{repetition}.wav``. The digest of every file is
  recorded, so results can say exactly which files they came from.

Without a network the attempt fails within seconds (a short connect timeout, no retries), and
``HW5LIB_OFFLINE=1`` skips it altogether. :func:`locate_digits` is the order ``data=auto`` follows.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tarfile
import tempfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Mapping

from hw5lib.data.audio import AudioError, cache_root, load_audio, shared_fsdd
from hw5lib.io import atomic_write_bytes, atomic_write_text
from hw5lib.progress import byte_progress, progress as progress_bar

__all__ = ["Dataset", "FSDD", "AUDIOMNIST", "AUDIOMNIST_FOLDS", "FetchError", "Origin", "ResumableDownloader",
           "fetch", "read_manifest", "verify", "locate_digits", "resampled", "offline"]

VERIFIED = "VERIFIED"
MANIFEST = Path(__file__).with_name("fsdd-manifest.tsv")
CONNECT_TIMEOUT = 5.0   # seconds to reach a server: no network fails this fast, not after minutes
READ_TIMEOUT = 30.0     # seconds of silence from a server that answered, before giving up
CHUNK = 1 << 16


class FetchError(AudioError):
    """A data set could not be downloaded or failed its check; the message says which and why."""


def read_manifest(path: Path = MANIFEST) -> dict[str, tuple[int, str]]:
    """``{relative path: (bytes, sha256)}`` from a manifest (a TSV with the columns path, bytes, sha256)."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    if not lines or lines[0].split("\t") != ["path", "bytes", "sha256"]:
        raise FetchError(f"The manifest {path} does not start with the header 'path<TAB>bytes<TAB>sha256'.")
    rows = {}
    for number, line in enumerate(lines[1:], start=2):
        parts = line.split("\t")
        if len(parts) != 3 or not parts[1].isdigit() or len(parts[2]) != 64:
            raise FetchError(f"Line {number} of the manifest {path} is not 'path<TAB>bytes<TAB>sha256': {line!r}.")
        rows[parts[0]] = (int(parts[1]), parts[2])
    return rows


def fsdd_manifest() -> dict[str, tuple[int, str]]:
    """The manifest FSDD downloads are checked against: the shipped one, or, for a mirror that holds
    part of FSDD, ``$HW5LIB_FSDD_MANIFEST``, whose every row must be a row of the shipped one (it can
    narrow which files are expected, never change what a file must be)."""
    shipped = read_manifest()
    narrowed = os.environ.get("HW5LIB_FSDD_MANIFEST", "").strip()
    if not narrowed:
        return shipped
    rows = read_manifest(Path(narrowed).expanduser())
    foreign = [path for path, row in rows.items() if shipped.get(path) != row]
    if foreign:
        raise FetchError(f"HW5LIB_FSDD_MANIFEST ({narrowed}) lists {foreign[0]} with a size or sha256 that FSDD's "
                         f"manifest of commit {FSDD.commit[:7]} does not have ({len(foreign)} such rows).")
    return rows


@dataclass(frozen=True)
class Dataset:
    """One upstream data set at one commit, and how to check what was downloaded."""
    key: str          # "fsdd": the cache folder's and the downloads' name
    title: str        # "FSDD"
    repository: str   # owner/name on GitHub
    commit: str
    mirror_env: str   # the environment variable that names a mirror's URL
    folder: str       # the data set's folder inside the archive, at any depth
    clips: int
    speakers: int
    licence: str
    manifest: Mapping[str, tuple[int, str]] | None = field(default=None, compare=False, repr=False)

    def url(self) -> str:
        """The mirror's URL when ``mirror_env`` is set, else GitHub's archive of the pinned commit."""
        mirror = os.environ.get(self.mirror_env, "").strip()
        return mirror or f"https://github.com/{self.repository}/archive/{self.commit}.tar.gz"

    def home(self) -> Path:
        """Where the verified data set lives in the cache."""
        return cache_root() / "datasets" / f"{self.key}-{self.commit[:12]}"

    def cached(self) -> Path | None:
        """The verified copy in the cache, or None."""
        home = self.home()
        return home if (home / VERIFIED).is_file() else None

    def record(self) -> dict:
        """What a verified copy says of itself (its ``VERIFIED`` record), or {}."""
        home = self.cached()
        return json.loads((home / VERIFIED).read_text()) if home else {}


FSDD = Dataset("fsdd", "FSDD", "Jakobovski/free-spoken-digit-dataset", "26eb9aaf76e81b692f806f9140c2d2777410d7a1",
               "HW5LIB_FSDD_URL", "recordings", clips=3000, speakers=6, licence="CC BY-SA 4.0")
AUDIOMNIST = Dataset("audiomnist", "AudioMNIST", "soerenab/AudioMNIST", "3c9ed8cfcdee9de04c1f61658dbc0883b5b7d781",
                     "HW5LIB_AUDIOMNIST_URL", "data", clips=30_000, speakers=60, licence="MIT")

# AudioMNIST's own speaker-disjoint folds for digits (upstream audiomnist/train/splits.py): five
# folds of 36 training, 12 validation and 12 test speakers; speaker numbers as in data/NN/.
_GROUPS = ((28, 56, 7, 19, 35, 1, 6, 16, 23, 34, 46, 53), (36, 57, 9, 24, 37, 2, 8, 17, 29, 39, 48, 54),
           (43, 58, 14, 25, 38, 3, 10, 20, 30, 40, 49, 55), (12, 47, 59, 15, 27, 41, 4, 11, 21, 31, 44, 50),
           (26, 52, 60, 18, 32, 42, 5, 13, 22, 33, 45, 51))
AUDIOMNIST_FOLDS = tuple({"train": _GROUPS[i] + _GROUPS[(i + 1) % 5] + _GROUPS[(i + 2) % 5],
                          "validation": _GROUPS[(i + 3) % 5], "test": _GROUPS[(i + 4) % 5]} for i in range(5))


def offline() -> bool:
    """True when ``HW5LIB_OFFLINE`` asks for no download at all (as ``HF_HUB_OFFLINE`` does for the hub)."""
    return os.environ.get("HW5LIB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def _timeouts() -> tuple[float, float]:
    connect = float(os.environ.get("HW5LIB_FETCH_TIMEOUT", CONNECT_TIMEOUT))
    return connect, max(connect, READ_TIMEOUT)


# --- downloading ---------------------------------------------------------------------------------

class ResumableDownloader:
    """A pooch downloader that continues an interrupted download.

    Bytes go to ``part`` (kept when the transfer breaks); the next call asks the server for the
    rest with ``Range: bytes=N-`` and appends (a server that ignores the range sends it all again,
    and the part restarts). Only a complete transfer is moved to pooch's output file. ``file://``
    URLs are copied, for archives already on disk."""

    def __init__(self, part: Path, description: str = "downloading", progress: bool = True):
        self.part, self.description, self.progress = Path(part), description, progress

    def __call__(self, url: str, output_file, pooch=None, check_only: bool = False):
        if url.startswith("file://"):
            source = Path(url[len("file://"):])
            if check_only:
                return source.is_file()
            if not source.is_file():
                raise FetchError(f"The archive {source} (from {url}) does not exist.")
            shutil.copyfile(source, output_file)
            return None
        import requests

        connect, read = _timeouts()
        if check_only:
            return requests.head(url, timeout=(connect, read), allow_redirects=True).status_code == 200
        self.part.parent.mkdir(parents=True, exist_ok=True)
        done = self.part.stat().st_size if self.part.exists() else 0
        try:
            response = requests.get(url, stream=True, timeout=(connect, read),
                                    headers={"Range": f"bytes={done}-"} if done else {})
            if response.status_code == 416:  # the part is no prefix of what the server has now: start again
                response.close()
                self.part.unlink()
                done = 0
                response = requests.get(url, stream=True, timeout=(connect, read))
            with response:
                if response.status_code not in (200, 206):
                    raise FetchError(f"{url} answered HTTP {response.status_code} {response.reason}: check the URL "
                                     "(a mirror is named by HW5LIB_FSDD_URL or HW5LIB_AUDIOMNIST_URL).")
                if response.status_code == 200:
                    done = 0
                length = response.headers.get("content-length")
                total = done + int(length) if length and length.isdigit() else None
                with open(self.part, "ab" if done else "wb") as stream, _byte_bar(
                        total, done, self.description, self.progress) as bar:
                    for chunk in response.iter_content(CHUNK):
                        stream.write(chunk)
                        bar.update(len(chunk))
        except requests.exceptions.ConnectTimeout:
            raise FetchError(f"{_host(url)} did not answer within {connect:g} s: no network?") from None
        except (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError) as error:
            if self.part.exists() and self.part.stat().st_size > done:
                raise FetchError(f"The download of {url} was cut after {self.part.stat().st_size:,} bytes; run "
                                 "again to resume it.") from None
            raise FetchError(f"Cannot reach {_host(url)} ({_reason(error)}): no network?") from None
        except requests.exceptions.Timeout:
            raise FetchError(f"{_host(url)} stopped sending for {read:g} s; the download of {url} was cut after "
                             f"{self.part.stat().st_size:,} bytes; run again to resume it.") from None
        except requests.exceptions.RequestException as error:
            raise FetchError(f"The download of {url} failed ({_reason(error)}); run again to resume it.") from None
        size = self.part.stat().st_size
        if total is not None and size != total:
            raise FetchError(f"The download of {url} was cut after {size:,} of {total:,} bytes; run again to "
                             "resume it.")
        shutil.move(self.part, output_file)
        return None


def _host(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).netloc or url


def _reason(error: Exception) -> str:
    text = str(error)
    for marker in ("Name or service not known", "Temporary failure in name resolution", "Connection refused",
                   "No route to host", "Network is unreachable"):
        if marker in text:
            return marker.lower()
    return type(error).__name__


@contextlib.contextmanager
def _byte_bar(total, initial: int, description: str, enabled: bool):
    bar = byte_progress(total, initial, description, enabled)
    try:
        yield bar
    finally:
        bar.close()


@contextlib.contextmanager
def _lock(path: Path):
    """One process at a time fetches a data set (parallel chapters share the cache)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock, the staging folders still keep the cache whole
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _download(dataset: Dataset, url: str, progress: bool) -> Path:
    import pooch

    downloads = cache_root() / "downloads"
    suffix = ".zip" if url.split("?")[0].lower().endswith(".zip") else ".tar.gz"
    name = f"{dataset.key}-{hashlib.sha256(url.encode()).hexdigest()[:10]}{suffix}"
    downloader = ResumableDownloader(downloads / f"{name}.part", f"downloading {dataset.title}", progress)
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel("WARNING")  # pooch logs every unhashed download's sha256; the files are checked instead
    try:
        return Path(pooch.retrieve(url, known_hash=None, fname=name, path=downloads, downloader=downloader))
    finally:
        logger.setLevel(level)


# --- unpacking and checking ----------------------------------------------------------------------

def _members(names: list[str], folder: str) -> tuple[str, list[str]]:
    """The archive's prefix up to and including the shallowest ``folder`` that holds .wav files,
    and the .wav members under it."""
    prefixes = set()
    for name in names:
        parts = PurePosixPath(name).parts
        if name.lower().endswith(".wav") and folder in parts[:-1]:
            prefixes.add("/".join(parts[:parts.index(folder) + 1]))
    if not prefixes:
        raise FetchError(f"The archive holds no folder '{folder}/' with .wav files in it; is it the right data set?")
    prefix = min(prefixes, key=lambda p: (p.count("/"), p))
    return prefix, [n for n in names if n.startswith(prefix + "/") and n.lower().endswith(".wav")]


def _unpack(archive: Path, target: Path, folder: str, progress: bool) -> Path:
    """The data set's ``folder`` from ``archive`` (a .tar.gz or .zip) as ``target / folder``."""
    out = target / folder
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as bundle:
            prefix, members = _members(bundle.namelist(), folder)
            for name in progress_bar(members, progress, "unpacking"):
                relative = _safe(name[len(prefix) + 1:])
                (out / relative).parent.mkdir(parents=True, exist_ok=True)
                with bundle.open(name) as source, open(out / relative, "wb") as sink:
                    shutil.copyfileobj(source, sink)
        return out
    try:
        bundle = tarfile.open(archive)
    except tarfile.TarError:
        raise FetchError(f"The download {archive.name} is neither a .tar.gz nor a .zip archive.") from None
    with bundle:
        entries = {m.name: m for m in bundle.getmembers() if m.isfile()}
        prefix, members = _members(list(entries), folder)
        for name in progress_bar(members, progress, "unpacking"):
            relative = _safe(name[len(prefix) + 1:])
            (out / relative).parent.mkdir(parents=True, exist_ok=True)
            with bundle.extractfile(entries[name]) as source, open(out / relative, "wb") as sink:
                shutil.copyfileobj(source, sink)
    return out


def _safe(relative: str) -> str:
    parts = PurePosixPath(relative).parts
    if not parts or relative.startswith("/") or ".." in parts:
        raise FetchError(f"The archive holds an unsafe path {relative!r}; it was not unpacked.")
    return relative


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _files(root: Path, folder: str) -> dict[str, Path]:
    return {p.relative_to(root).as_posix(): p for p in sorted((root / folder).rglob("*")) if p.is_file()}


def _digest(rows: Mapping[str, tuple[int, str]]) -> str:
    """One sha256 for a set of files: of the sorted 'path<TAB>bytes<TAB>sha256' lines."""
    lines = "".join(f"{path}\t{size}\t{sha}\n" for path, (size, sha) in sorted(rows.items()))
    return hashlib.sha256(lines.encode()).hexdigest()


def verify(dataset: Dataset, root: Path, complete: bool = True, progress: bool = False) -> dict:
    """Check the files under ``root / dataset.folder``; return the record of what was checked.

    With a manifest, every file must be one of its rows with its size and sha256, and (when
    ``complete``) every row must be there; without one, the layout and count are checked. Raises
    :class:`FetchError` naming the first file that fails, in one sentence."""
    files = _files(Path(root), dataset.folder)
    with ThreadPoolExecutor(max_workers=4) as pool:
        hashes = dict(zip(files, progress_bar(pool.map(_sha256, files.values()), progress, "checking files",
                                              total=len(files))))
    rows = {path: (files[path].stat().st_size, hashes[path]) for path in files}
    if dataset.manifest is not None:
        for path, (size, sha) in rows.items():
            if path not in dataset.manifest:
                raise FetchError(f"{path} is not in {dataset.title}'s manifest of commit {dataset.commit[:7]}: the "
                                 "download is not that commit's data set.")
            want_size, want_sha = dataset.manifest[path]
            if (size, sha) != (want_size, want_sha):
                raise FetchError(f"{path} does not match {dataset.title}'s manifest ({size:,} bytes, sha256 "
                                 f"{sha[:12]}…; expected {want_size:,} bytes, {want_sha[:12]}…): the download is "
                                 "damaged or has been tampered with, and nothing of it was cached.")
        missing = sorted(set(dataset.manifest) - set(rows)) if complete else []
        if missing:
            raise FetchError(f"{len(missing)} of {dataset.title}'s {len(dataset.manifest):,} recordings are missing "
                             f"from the download (the first: {missing[0]}).")
    else:
        _check_layout(dataset, list(rows))
    speakers = sorted({PurePosixPath(p).name.split("_")[1] for p in rows})
    return {"dataset": dataset.title, "repository": dataset.repository, "commit": dataset.commit,
            "licence": dataset.licence, "clips": len(rows), "speakers": len(speakers), "speaker_names": speakers,
            "digest": _digest(rows), "checked": "manifest" if dataset.manifest is not None else "layout and count"}


def _check_layout(dataset: Dataset, paths: list[str]) -> None:
    import re

    pattern = re.compile(rf"^{re.escape(dataset.folder)}/(\d\d)/(\d)_(\d\d)_(\d+)\.wav$")
    for path in paths:
        match = pattern.match(path)
        if match is None or match[1] != match[3]:
            raise FetchError(f"{path} does not follow AudioMNIST's layout {dataset.folder}/NN/{{digit}}_{{NN}}_"
                             "{repetition}.wav.")
    speakers = {PurePosixPath(p).parent.name for p in paths}
    if len(paths) != dataset.clips or len(speakers) != dataset.speakers:
        raise FetchError(f"The download holds {len(paths):,} clips of {len(speakers)} speakers; {dataset.title} has "
                         f"{dataset.clips:,} clips of {dataset.speakers} speakers.")


def fetch(dataset: Dataset, progress: bool = True) -> Path:
    """The verified data set in the cache (a folder holding ``dataset.folder``), downloaded first if
    needed. Raises :class:`FetchError`, saying why, when it cannot be had."""
    home = dataset.cached()
    if home is not None:
        return home
    if offline():
        raise FetchError(f"{dataset.title} is not in the cache and HW5LIB_OFFLINE is set, so it was not downloaded.")
    if dataset.manifest is None and dataset.key == FSDD.key:
        dataset = replace(dataset, manifest=fsdd_manifest())
    home = dataset.home()
    with _lock(cache_root() / "downloads" / f"{dataset.key}.lock"):
        if dataset.cached() is not None:  # another process fetched it while this one waited
            return home
        url = dataset.url()
        archive = _download(dataset, url, progress)
        home.parent.mkdir(parents=True, exist_ok=True)
        for stale in home.parent.glob(f".{home.name}-*"):  # a staging folder of a run that was killed
            shutil.rmtree(stale, ignore_errors=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{home.name}-", dir=home.parent))
        try:
            _unpack(archive, staging, dataset.folder, progress)
            record = verify(dataset, staging, progress=progress)
        except FetchError:
            shutil.rmtree(staging, ignore_errors=True)
            archive.unlink(missing_ok=True)  # a bad archive is not kept to be unpacked again
            raise
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        record["url"] = url
        atomic_write_text(staging / VERIFIED, json.dumps(record, indent=1))
        if home.exists():
            shutil.rmtree(home)
        os.replace(staging, home)
        archive.unlink(missing_ok=True)
    return home


# --- resampled once ------------------------------------------------------------------------------

def resampled(home: Path, folder: str, sample_rate: int, progress: bool = True) -> Path:
    """A copy of the clips under ``home / folder`` at ``sample_rate`` (same layout, PCM 16), made
    once into the cache beside ``home``; AudioMNIST's 48 kHz clips are read at the chapters' rate."""
    import soundfile

    target = home.with_name(f"{home.name}-{sample_rate}Hz")
    if (target / "COMPLETE").is_file():
        return target
    sources = sorted((home / folder).rglob("*.wav"))

    def make(source: Path) -> None:
        out = target / source.relative_to(home)
        if out.exists():  # a run killed half-way resumes where it stopped
            return
        import io

        buffer = io.BytesIO()
        soundfile.write(buffer, load_audio(source, sample_rate), sample_rate, format="WAV", subtype="PCM_16")
        atomic_write_bytes(out, buffer.getvalue())

    with ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as pool:
        for _ in progress_bar(pool.map(make, sources), progress, f"resampling to {sample_rate} Hz", total=len(sources)):
            pass
    atomic_write_text(target / "COMPLETE", json.dumps({"from": str(home), "rate": sample_rate,
                                                        "clips": len(sources)}))
    return target


# --- where spoken digits come from ---------------------------------------------------------------

@dataclass(frozen=True)
class Origin:
    """Where a set of spoken digits came from: ``how`` is 'given' (a folder the user named),
    'workplace' ($HW5LIB_DATA/fsdd or ../shared/data/fsdd), 'cache' (downloaded earlier),
    'downloaded' (now) or 'synthetic', in which case ``reason`` says why no recordings were used."""
    how: str
    folder: Path | None = None
    dataset: str | None = None
    reason: str = ""
    record: dict = field(default_factory=dict)

    @property
    def synthetic(self) -> bool:
        return self.how == "synthetic"

    def describe(self) -> dict:
        out = {"how": self.how}
        if self.reason:
            out["reason"] = self.reason
        for key in ("repository", "commit", "digest", "checked", "url", "licence"):
            if key in self.record:
                out[key] = self.record[key]
        return out


def _workplace_record(folder: Path) -> dict:
    """The workplace's FSDD checked against the manifest (it holds 5 of the 6 speakers)."""
    dataset = replace(FSDD, manifest=read_manifest())
    record = verify(dataset, folder.parent, complete=False)
    record["checked"] = f"manifest ({record['clips']:,} of its {len(dataset.manifest):,} files)"
    return record


def _fetched(dataset: Dataset, progress: bool) -> Origin:
    was_cached = dataset.cached() is not None
    home = fetch(dataset, progress=progress)
    return Origin("cache" if was_cached else "downloaded", home / dataset.folder, dataset.title,
                  record=json.loads((home / VERIFIED).read_text()))


def locate_digits(data, progress: bool = True, report=print) -> Origin:
    """Where spoken digits are read from, for ``data``:

    * a folder: that folder ('given');
    * ``"fsdd"``: $HW5LIB_DATA/fsdd or ../shared/data/fsdd, else the cache, else a download;
    * ``"audiomnist"``: the cache, else a download;
    * ``"auto"``: as ``"fsdd"``, and synthetic speakers when none of that works (``reason`` says why);
    * ``None`` or ``"synthetic"``: synthetic speakers.

    ``"fsdd"`` and ``"audiomnist"`` raise :class:`FetchError` when the data cannot be had."""
    if data is None or data in {"synthetic", "crowd"}:
        return Origin("synthetic", reason="synthetic speakers were asked for (data=synthetic)")
    if data == "audiomnist":
        return _fetched(AUDIOMNIST, progress)
    if data not in {"auto", "fsdd"}:
        return Origin("given", Path(data).expanduser())
    workplace = shared_fsdd()
    if workplace is not None:
        try:
            return Origin("workplace", workplace, "FSDD", record=_workplace_record(workplace))
        except FetchError as error:  # a changed workplace copy is still read, and the record says so
            report(f"note: {error}")
            return Origin("workplace", workplace, "FSDD", record={"checked": f"failed: {error}"})
    try:
        return _fetched(FSDD, progress)
    except FetchError as error:
        if data == "fsdd":
            raise
        reason = str(error)
    report(f"No FSDD recordings: {reason} Using synthetic speakers instead.")
    return Origin("synthetic", reason=reason)

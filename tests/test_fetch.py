"""Fetching real recordings (hw5lib.data.fetch) against a local HTTP server on the loopback interface.

The server serves archives these tests build from the workplace's FSDD recordings
(../shared/data/fsdd, 5 of FSDD's 6 speakers), so a download is checked against the manifest rows
of the files it serves. Nothing here reaches outside the machine.
"""

from __future__ import annotations

import hashlib
import io
import socket
import tarfile
import threading
import time
import zipfile
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import soundfile

from hw5lib.data import audio, fetch

WORKPLACE_FSDD = Path(__file__).resolve().parents[2] / "shared" / "data" / "fsdd" / "recordings"
needs_fsdd = pytest.mark.skipif(not WORKPLACE_FSDD.is_dir(), reason="the workplace's FSDD (../shared/data/fsdd) "
                                "is absent; these tests serve archives made from it")


class Server:
    """Serves ``routes`` (path -> bytes), honours ``Range: bytes=N-``, can cut the first response
    of a path after ``cut[path]`` bytes, and records every request's path and Range header."""

    def __init__(self):
        self.routes: dict[str, bytes] = {}
        self.cut: dict[str, int] = {}
        self.requests: list[tuple[str, str | None]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append((self.path, self.headers.get("Range")))
                body = server.routes.get(self.path)
                if body is None:
                    self.send_error(404, "Not Found")
                    return
                start = 0
                if self.headers.get("Range", "").startswith("bytes="):
                    start = int(self.headers["Range"][6:].split("-")[0])
                    if start >= len(body):
                        self.send_response(416)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                cut = server.cut.pop(self.path, None)
                if cut is not None:  # send part of it, then drop the connection
                    self.wfile.write(body[start:cut])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(body[start:])

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    served = Server()
    yield served
    served.close()


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    """Each test its own empty cache, no workplace data, and downloads allowed (conftest forbids them)."""
    monkeypatch.setenv("HW5LIB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HW5LIB_DATA", str(tmp_path / "no-workplace-data"))
    monkeypatch.delenv("HW5LIB_OFFLINE", raising=False)
    for name in ("HW5LIB_FSDD_URL", "HW5LIB_AUDIOMNIST_URL", "HW5LIB_FSDD_MANIFEST"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "cache"


def fsdd_files(speakers=None, takes=None) -> dict[str, bytes]:
    """'recordings/<name>' -> bytes of the workplace's FSDD files (optionally a subset)."""
    files = {}
    for path in sorted(WORKPLACE_FSDD.glob("*.wav")):
        digit, speaker, take = path.stem.split("_")
        if (speakers is None or speaker in speakers) and (takes is None or int(take) < takes):
            files[f"recordings/{path.name}"] = path.read_bytes()
    return files


def tar_gz(files: dict[str, bytes], top: str = "free-spoken-digit-dataset-26eb9aa") -> bytes:
    """A .tar.gz like GitHub's archive of a commit: everything under one top folder, with other
    files beside the recordings."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as bundle:
        for name, data in {**files, "README.md": b"# FSDD\n", "utils/spectrogramer.py": b"print()\n"}.items():
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size = len(data)
            bundle.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def manifest_of(files: dict[str, bytes]) -> dict[str, tuple[int, str]]:
    return {name: (len(data), hashlib.sha256(data).hexdigest()) for name, data in files.items()}


def small_fsdd(files: dict[str, bytes]) -> fetch.Dataset:
    """FSDD checked against the manifest rows of the files served (all of them rows of the shipped manifest)."""
    shipped = fetch.read_manifest()
    rows = {name: shipped[name] for name in files}
    assert rows == manifest_of(files), "the workplace's files differ from the shipped manifest"
    return replace(fetch.FSDD, manifest=rows, clips=len(rows))


def leftovers(cache: Path) -> list[str]:
    """What a failed fetch left in the cache, besides the lock file."""
    return sorted(str(p.relative_to(cache)) for p in cache.rglob("*") if p.is_file() and p.suffix != ".lock")


# --- the manifest ----------------------------------------------------------------------------------

def test_the_shipped_manifest_lists_all_3000_recordings_of_six_speakers():
    rows = fetch.read_manifest()
    assert len(rows) == 3000
    speakers = {Path(name).stem.split("_")[1] for name in rows}
    assert speakers == {"george", "jackson", "lucas", "nicolas", "theo", "yweweler"}
    assert all(name.startswith("recordings/") and len(sha) == 64 and size > 44 for name, (size, sha) in rows.items())
    digits = np.bincount([int(Path(name).name[0]) for name in rows])
    assert digits.tolist() == [300] * 10


def test_a_manifest_without_its_header_or_with_a_bad_row_is_refused(tmp_path):
    bad = tmp_path / "m.tsv"
    bad.write_text("name\tsize\n")
    with pytest.raises(fetch.FetchError, match="header"):
        fetch.read_manifest(bad)
    bad.write_text("path\tbytes\tsha256\nrecordings/0_a_0.wav\tten\tabc\n")
    with pytest.raises(fetch.FetchError, match="Line 2"):
        fetch.read_manifest(bad)


@needs_fsdd
def test_verify_checks_every_file_against_the_manifest(tmp_path):
    files = fsdd_files(speakers={"theo"}, takes=2)
    for name, data in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    dataset = small_fsdd(files)
    record = fetch.verify(dataset, tmp_path)
    assert record["clips"] == 20 and record["speaker_names"] == ["theo"] and record["checked"] == "manifest"
    # one byte changed: named, and refused
    victim = tmp_path / "recordings" / "7_theo_1.wav"
    data = bytearray(victim.read_bytes())
    data[-1] ^= 0xFF
    victim.write_bytes(bytes(data))
    with pytest.raises(fetch.FetchError, match=r"recordings/7_theo_1\.wav does not match"):
        fetch.verify(dataset, tmp_path)
    victim.unlink()
    with pytest.raises(fetch.FetchError, match="1 of FSDD's 20 recordings are missing"):
        fetch.verify(dataset, tmp_path)
    assert fetch.verify(dataset, tmp_path, complete=False)["clips"] == 19


def test_a_narrowing_manifest_may_only_list_rows_of_the_shipped_one(tmp_path, monkeypatch):
    shipped = fetch.read_manifest()
    name, (size, sha) = next(iter(shipped.items()))
    narrowed = tmp_path / "part.tsv"
    narrowed.write_text(f"path\tbytes\tsha256\n{name}\t{size}\t{sha}\n")
    monkeypatch.setenv("HW5LIB_FSDD_MANIFEST", str(narrowed))
    assert fetch.fsdd_manifest() == {name: (size, sha)}
    narrowed.write_text(f"path\tbytes\tsha256\n{name}\t{size}\t{'0' * 64}\n")
    with pytest.raises(fetch.FetchError, match="does not have"):
        fetch.fsdd_manifest()


# --- downloads -------------------------------------------------------------------------------------

@needs_fsdd
def test_a_clean_download_is_verified_cached_and_not_fetched_again(server, cache, monkeypatch):
    files = fsdd_files()  # all 2,500 recordings of the workplace
    server.routes["/fsdd.tar.gz"] = tar_gz(files)
    monkeypatch.setenv("HW5LIB_FSDD_URL", server.url("/fsdd.tar.gz"))
    dataset = small_fsdd(files)
    home = fetch.fetch(dataset, progress=False)
    assert home == dataset.home() and (home / "VERIFIED").is_file()
    assert sorted(p.name for p in (home / "recordings").iterdir()) == sorted(Path(n).name for n in files)
    record = dataset.record()
    assert record["clips"] == 2500 and record["speakers"] == 5 and record["url"] == server.url("/fsdd.tar.gz")
    assert record["digest"] == fetch._digest(manifest_of(files))
    assert not list((cache / "downloads").glob("*.tar.gz*")), "the archive is not kept once unpacked"
    assert not [p for p in home.parent.iterdir() if p.name.startswith(".")], "no staging folder is left"
    requests_before = len(server.requests)
    assert fetch.fetch(dataset, progress=False) == home
    assert len(server.requests) == requests_before, "a cached data set is not downloaded again"


@needs_fsdd
def test_data_auto_downloads_fsdd_from_a_mirror_and_says_so(server, cache, monkeypatch, tmp_path):
    files = fsdd_files(speakers={"jackson", "lucas"}, takes=3)
    server.routes["/mirror/fsdd.zip"] = _zip(files)
    narrowed = tmp_path / "mirror.tsv"
    shipped = fetch.read_manifest()
    narrowed.write_text("path\tbytes\tsha256\n" + "".join(f"{n}\t{shipped[n][0]}\t{shipped[n][1]}\n" for n in files))
    monkeypatch.setenv("HW5LIB_FSDD_URL", server.url("/mirror/fsdd.zip"))
    monkeypatch.setenv("HW5LIB_FSDD_MANIFEST", str(narrowed))
    digits = audio.load_digits("auto", progress=False, report=lambda message: None)
    described = digits.describe()
    assert described["source"] == "FSDD" and described["synthetic"] is False and described["how"] == "downloaded"
    assert described["clips"] == 60 and described["speakers"] == 2
    assert described["commit"] == fetch.FSDD.commit and described["checked"] == "manifest"
    again = audio.load_digits("auto", progress=False, report=lambda message: None).describe()
    assert again["how"] == "cache" and again["digest"] == described["digest"]


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for name, data in files.items():
            bundle.writestr(f"fsdd-main/{name}", data)
    return buffer.getvalue()


@needs_fsdd
def test_a_tampered_file_is_named_and_nothing_is_cached(server, cache, monkeypatch):
    files = fsdd_files(speakers={"george"}, takes=2)
    dataset = small_fsdd(files)
    tampered = dict(files)
    data = bytearray(tampered["recordings/3_george_1.wav"])
    data[100] ^= 0x01
    tampered["recordings/3_george_1.wav"] = bytes(data)
    server.routes["/fsdd.tar.gz"] = tar_gz(tampered)
    monkeypatch.setenv("HW5LIB_FSDD_URL", server.url("/fsdd.tar.gz"))
    with pytest.raises(fetch.FetchError) as error:
        fetch.fetch(dataset, progress=False)
    message = str(error.value)
    assert "recordings/3_george_1.wav does not match FSDD's manifest" in message
    assert "nothing of it was cached" in message
    assert message.count(". ") == 0 and message.endswith("."), "one sentence"
    assert dataset.cached() is None and not dataset.home().exists()
    assert leftovers(cache) == [], "neither the archive nor any unpacked file is kept"


@needs_fsdd
def test_a_download_cut_halfway_resumes_where_it_stopped(server, cache, monkeypatch):
    files = fsdd_files(speakers={"yweweler"}, takes=5)
    dataset = small_fsdd(files)
    body = tar_gz(files)
    server.routes["/fsdd.tar.gz"] = body
    server.cut["/fsdd.tar.gz"] = len(body) // 2
    monkeypatch.setenv("HW5LIB_FSDD_URL", server.url("/fsdd.tar.gz"))
    with pytest.raises(fetch.FetchError, match="cut after .* run again to resume"):
        fetch.fetch(dataset, progress=False)
    assert dataset.cached() is None and not dataset.home().exists()
    parts = list((cache / "downloads").glob("*.part"))
    kept = parts[0].stat().st_size if len(parts) == 1 else 0
    assert 0 < kept <= len(body) // 2, "what arrived before the cut is kept (whole chunks of it)"
    home = fetch.fetch(dataset, progress=False)
    assert server.requests[-1] == ("/fsdd.tar.gz", f"bytes={kept}-"), "the rest was asked for, not all"
    assert dataset.record()["clips"] == 50 and (home / "recordings" / "9_yweweler_4.wav").read_bytes() == \
        files["recordings/9_yweweler_4.wav"]
    assert not list((cache / "downloads").glob("*.part"))


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed once the probe is: a connection is refused at once


def test_without_a_network_auto_falls_back_to_synthetic_within_seconds(monkeypatch):
    monkeypatch.setenv("HW5LIB_FSDD_URL", f"http://127.0.0.1:{_closed_port()}/fsdd.tar.gz")
    notes = []
    started = time.monotonic()
    origin = fetch.locate_digits("auto", progress=False, report=notes.append)
    assert time.monotonic() - started < 5
    assert origin.synthetic and "Cannot reach 127.0.0.1" in origin.reason and "no network" in origin.reason
    assert notes and "Using synthetic speakers" in notes[0]
    with pytest.raises(fetch.FetchError, match="Cannot reach"):
        fetch.locate_digits("fsdd", progress=False, report=notes.append)


def test_offline_mode_tries_no_download(server, monkeypatch):
    monkeypatch.setenv("HW5LIB_OFFLINE", "1")
    monkeypatch.setenv("HW5LIB_FSDD_URL", server.url("/fsdd.tar.gz"))
    origin = fetch.locate_digits("auto", progress=False, report=lambda message: None)
    assert origin.synthetic and "HW5LIB_OFFLINE" in origin.reason and server.requests == []


def test_a_wrong_mirror_url_says_what_the_server_answered(server, cache, monkeypatch):
    monkeypatch.setenv("HW5LIB_FSDD_URL", server.url("/no/such/archive.tar.gz"))
    with pytest.raises(fetch.FetchError, match="answered HTTP 404"):
        fetch.locate_digits("fsdd", progress=False)
    origin = fetch.locate_digits("auto", progress=False, report=lambda message: None)
    assert origin.synthetic and "HTTP 404" in origin.reason
    assert leftovers(cache) == []


def test_a_mirror_that_is_not_an_archive_or_not_fsdd_is_refused(server, cache, monkeypatch):
    server.routes["/page.tar.gz"] = b"<html>a login page</html>"
    server.routes["/other.tar.gz"] = tar_gz({"pictures/cat.png": b"png"})
    for path, words in (("/page.tar.gz", "neither a .tar.gz nor a .zip"), ("/other.tar.gz", "no folder 'recordings/'")):
        monkeypatch.setenv("HW5LIB_FSDD_URL", server.url(path))
        with pytest.raises(fetch.FetchError, match=words):
            fetch.fetch(fetch.FSDD, progress=False)
        assert leftovers(cache) == []


# --- AudioMNIST --------------------------------------------------------------------------------------

def audiomnist_files(speakers: int, reps: int) -> dict[str, bytes]:
    """A tiny AudioMNIST: data/NN/{digit}_{NN}_{rep}.wav at 48 kHz (a tone per digit)."""
    files = {}
    for speaker in range(1, speakers + 1):
        for digit in range(10):
            for rep in range(reps):
                t = np.arange(2400) / 48000
                tone = (0.3 * np.sin(2 * np.pi * (300 + 50 * digit + 7 * speaker) * t)).astype(np.float32)
                buffer = io.BytesIO()
                soundfile.write(buffer, tone, 48000, format="WAV", subtype="PCM_16")
                files[f"data/{speaker:02d}/{digit}_{speaker:02d}_{rep}.wav"] = buffer.getvalue()
    return files


def test_audiomnist_is_fetched_checked_for_its_layout_and_resampled_once(server, cache, monkeypatch):
    files = audiomnist_files(speakers=3, reps=2)
    server.routes["/audiomnist.tar.gz"] = tar_gz({**files, "audiomnist/train/splits.py": b"splits = {}\n"},
                                                 top="AudioMNIST-3c9ed8c")
    monkeypatch.setenv("HW5LIB_AUDIOMNIST_URL", server.url("/audiomnist.tar.gz"))
    monkeypatch.setattr(fetch, "AUDIOMNIST", replace(fetch.AUDIOMNIST, clips=60, speakers=3))
    digits = audio.load_digits("audiomnist", sample_rate=8000, progress=False, report=lambda message: None)
    described = digits.describe()
    assert described["source"] == "AudioMNIST" and described["how"] == "downloaded"
    assert described["checked"] == "layout and count" and described["clips"] == 60 and described["speakers"] == 3
    assert described["digest"] == fetch._digest(manifest_of(files))
    assert digits.sample_rate == 8000 and all(len(clip) == 400 for clip in digits.audio)
    assert digits.notes == [], "the clips were resampled once into the cache, not on every read"
    resampled = fetch.AUDIOMNIST.home().with_name(fetch.AUDIOMNIST.home().name + "-8000Hz")
    assert (resampled / "COMPLETE").is_file() and len(list(resampled.rglob("*.wav"))) == 60
    again = audio.load_digits("audiomnist", sample_rate=8000, progress=False).describe()
    assert again["how"] == "cache" and again["digest"] == described["digest"]


def test_an_audiomnist_download_with_a_clip_missing_is_refused(server, cache, monkeypatch):
    files = audiomnist_files(speakers=3, reps=2)
    del files["data/02/5_02_1.wav"]
    server.routes["/audiomnist.tar.gz"] = tar_gz(files)
    monkeypatch.setenv("HW5LIB_AUDIOMNIST_URL", server.url("/audiomnist.tar.gz"))
    dataset = replace(fetch.AUDIOMNIST, clips=60, speakers=3)
    with pytest.raises(fetch.FetchError, match="holds 59 clips of 3 speakers; AudioMNIST has 60 clips"):
        fetch.fetch(dataset, progress=False)
    assert leftovers(cache) == []


def test_audiomnist_folds_are_speaker_disjoint_and_test_every_speaker_once():
    assert len(fetch.AUDIOMNIST_FOLDS) == 5
    for fold in fetch.AUDIOMNIST_FOLDS:
        train, validation, test = (set(fold[part]) for part in ("train", "validation", "test"))
        assert (len(train), len(validation), len(test)) == (36, 12, 12)
        assert train | validation | test == set(range(1, 61)) and not (train & test or train & validation)
    tested = [speaker for fold in fetch.AUDIOMNIST_FOLDS for speaker in fold["test"]]
    assert sorted(tested) == list(range(1, 61))


@needs_fsdd
def test_the_data_command_fetches_and_reports(server, cache, monkeypatch, capsys, tmp_path):
    from hw5lib.publish import cli

    files = fsdd_files(speakers={"theo"}, takes=1)
    server.routes["/fsdd.tar.gz"] = tar_gz(files)
    narrowed = tmp_path / "mirror.tsv"
    narrowed.write_text("path\tbytes\tsha256\n" + "".join(f"{n}\t{len(d)}\t{hashlib.sha256(d).hexdigest()}\n"
                                                          for n, d in files.items()))
    monkeypatch.setenv("HW5LIB_FSDD_MANIFEST", str(narrowed))
    assert cli.main(["data", "status"]) == 0
    assert "FSDD: not in the cache" in capsys.readouterr().out
    monkeypatch.setenv("HW5LIB_FSDD_URL", f"http://127.0.0.1:{_closed_port()}/fsdd.tar.gz")
    assert cli.main(["data", "fetch", "--quiet"]) == 2
    assert "hw5lib: Cannot reach 127.0.0.1" in capsys.readouterr().err
    monkeypatch.setenv("HW5LIB_FSDD_URL", server.url("/fsdd.tar.gz"))
    assert cli.main(["data", "fetch", "fsdd", "--quiet"]) == 0
    assert "FSDD: 10 clips of 1 speaker at" in capsys.readouterr().out
    assert cli.main(["data", "fetch", "cifar"]) == 2
    assert "Unknown data set 'cifar'" in capsys.readouterr().err


@pytest.mark.slow
@needs_fsdd
def test_a_chapter_run_downloads_fsdd_from_a_mirror_and_records_it(server, cache, monkeypatch, tmp_path):
    """End to end, through the command a user types: no workplace data, an empty cache, FSDD on a mirror."""
    import json
    import subprocess
    import sys

    files = fsdd_files(speakers={"george", "jackson", "theo"}, takes=12)
    server.routes["/fsdd.tar.gz"] = tar_gz(files)
    narrowed = tmp_path / "mirror.tsv"
    narrowed.write_text("path\tbytes\tsha256\n" + "".join(f"{n}\t{len(d)}\t{hashlib.sha256(d).hexdigest()}\n"
                                                          for n, d in files.items()))
    monkeypatch.setenv("HW5LIB_FSDD_URL", server.url("/fsdd.tar.gz"))
    monkeypatch.setenv("HW5LIB_FSDD_MANIFEST", str(narrowed))
    run = subprocess.run([sys.executable, "-m", "hw5lib", "run", "q1_automl", "--profile", "smoke", "--quiet",
                          "--output", str(tmp_path / "runs")], capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    (run_dir,) = (tmp_path / "runs").iterdir()
    saved = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    assert saved["data"]["source"] == "FSDD" and saved["data"]["how"] == "downloaded"
    assert saved["data"]["synthetic"] is False and saved["data"]["digest"] == fetch._digest(manifest_of(files))
    executed = (run_dir / "q1_automl.ipynb").read_text(encoding="utf-8")
    assert "downloaded for this run" in executed, "the page's data box says where its recordings came from"
    assert server.requests and server.requests[0][0] == "/fsdd.tar.gz"

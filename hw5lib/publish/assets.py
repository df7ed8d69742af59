"""Offline web assets for the book: MathJax and the Vazirmatn font, from the npm registry.

They are fetched once (pinned versions, checked against the registry's sha512 integrity),
trimmed to what a page loads, and kept in a cache folder that the Sphinx extension adds to
the static path. The built book then needs no network: nothing is loaded from a CDN.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REGISTRY = os.environ.get("NPM_CONFIG_REGISTRY", "https://registry.npmjs.org").rstrip("/")


@dataclass(frozen=True)
class NpmAsset:
    name: str
    version: str
    integrity: str  # sha512, as the registry publishes it
    keep: tuple[str, ...]  # paths under package/ to keep (prefixes)

    @property
    def url(self) -> str:
        return f"{REGISTRY}/{self.name}/-/{self.name}-{self.version}.tgz"

    @property
    def folder(self) -> str:
        return f"{self.name}-{self.version}"


MATHJAX = NpmAsset(
    "mathjax", "3.2.2",
    "sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw==",
    ("es5/tex-chtml.js", "es5/output/chtml/fonts/woff-v2/", "es5/input/tex/extensions/",
     "es5/a11y/", "es5/ui/", "LICENSE"),
)
VAZIRMATN = NpmAsset(
    "vazirmatn", "33.0.3",
    "sha512-fbjNc0CMjazZpIegWzz9OHGzI1APFboT+x7ZecXlUCtDe/nkyx7gtCTZnWS/+eeXG7fbfXymCPKJI8EsnM3iqw==",
    # static weights only: Chromium embeds a variable font in a PDF as Type 3 glyphs
    ("fonts/webfonts/Vazirmatn-Regular.woff2", "fonts/webfonts/Vazirmatn-Bold.woff2", "OFL.txt"),
)
ASSETS = (MATHJAX, VAZIRMATN)


class AssetError(RuntimeError):
    """An asset could not be fetched or failed its integrity check."""


def assets_dir() -> Path:
    """Where assets live: $HW5LIB_ASSETS, else ~/.cache/hw5lib/assets."""
    root = os.environ.get("HW5LIB_ASSETS")
    return Path(root) if root else Path.home() / ".cache" / "hw5lib" / "assets"


def _check_integrity(data: bytes, asset: NpmAsset) -> None:
    algorithm, expected = asset.integrity.split("-", 1)
    got = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
    if got != expected:
        raise AssetError(
            f"{asset.url} does not match its pinned {algorithm} integrity; the download is corrupt "
            "or the registry serves another file. Delete it and try again."
        )


def ensure(asset: NpmAsset, root: Path | None = None, log=print) -> Path:
    """Return the folder of ``asset``, fetching and unpacking it first if it is missing.

    Unpacks into a temporary folder and renames it into place, so an interrupted fetch never
    leaves a half-filled asset folder behind.
    """
    root = root or assets_dir()
    target = root / asset.folder
    if target.is_dir():
        return target
    log(f"hw5lib: fetching {asset.name}@{asset.version} from {REGISTRY} (once) ...")
    try:
        with urllib.request.urlopen(asset.url, timeout=60) as response:
            data = response.read()
    except OSError as exc:
        raise AssetError(
            f"Could not fetch {asset.url} ({exc}); the book's offline assets need the npm registry once. "
            f"Run the setup on a machine with access, or copy {target} from one."
        ) from exc
    _check_integrity(data, asset)
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{asset.folder}-", dir=root))
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            for member in archive.getmembers():
                relative = member.name.split("/", 1)[-1]
                if member.isfile() and relative.startswith(asset.keep):
                    member.name = relative
                    archive.extract(member, staging, filter="data")
        staging.rename(target)
    except FileExistsError:  # another process got there first: theirs is complete
        shutil.rmtree(staging, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def ensure_all(root: Path | None = None, log=print) -> dict[str, Path]:
    return {asset.name: ensure(asset, root, log) for asset in ASSETS}

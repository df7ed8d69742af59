"""What produced a number: code version, packages, hardware, data and seed."""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path

PACKAGES = ("hw5lib", "torch", "numpy", "sympy", "scipy", "scikit-learn", "librosa", "transformers",
            "jupyter-book", "myst-nb", "papermill")
ROOT = Path(__file__).resolve().parents[2]


def git_commit(root: Path = ROOT) -> dict:
    def git(*args):
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10)

    try:
        head = git("rev-parse", "HEAD")
        if head.returncode != 0:
            return {"commit": None, "dirty": None}
        dirty = bool(git("status", "--porcelain", "--untracked-files=no").stdout.strip())
        return {"commit": head.stdout.strip(), "dirty": dirty}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def package_versions(names=PACKAGES) -> dict:
    versions = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def hardware() -> dict:
    info = {"machine": platform.machine(), "processor": platform.processor() or None,
            "cpu_count": os.cpu_count(), "system": platform.system()}
    try:
        import torch

        if torch.cuda.is_available():
            info["gpu"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
            info["cuda"] = torch.version.cuda
    except ImportError:
        pass
    return info


def collect(seed=None, data: dict | None = None) -> dict:
    """Everything needed to say where a result came from."""
    return {
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "git": git_commit(),
        "python": platform.python_version(),
        "packages": package_versions(),
        "hardware": hardware(),
        "seed": seed,
        "data": data or {},
    }

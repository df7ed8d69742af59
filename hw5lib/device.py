"""Where the work runs: CUDA when present, else Apple MPS, else the CPU."""

from __future__ import annotations

import re

import torch


class DeviceError(ValueError):
    """The device asked for is not a device name, or is not present on this machine."""


def pick_device(requested: str = "auto") -> str:
    """Return a torch device string for ``requested`` (auto, cpu, cuda, cuda:N or mps)."""
    requested = str(requested).strip().lower()
    mps = getattr(torch.backends, "mps", None)
    mps_available = bool(mps and mps.is_available())
    if requested == "auto":
        if torch.cuda.is_available():
            return "cuda"
        return "mps" if mps_available else "cpu"
    if requested == "cpu":
        return "cpu"
    if re.fullmatch(r"cuda(:\d+)?", requested):
        if not torch.cuda.is_available():
            raise DeviceError("Parameter 'device' asks for CUDA, but no CUDA GPU is visible; use device=auto or cpu.")
        index = int(requested.split(":")[1]) if ":" in requested else 0
        if index >= torch.cuda.device_count():
            raise DeviceError(
                f"Parameter 'device' asks for {requested}, but only {torch.cuda.device_count()} CUDA GPU(s) exist."
            )
        return requested
    if requested == "mps":
        if not mps_available:
            raise DeviceError("Parameter 'device' asks for Apple MPS, which is not available here; use auto or cpu.")
        return "mps"
    raise DeviceError(f"Parameter 'device' must be auto, cpu, cuda, cuda:N or mps, got {requested!r}.")


def trainings_at_once(device: str) -> int:
    """How many small networks to train at once on ``device``: on the CPU one per thread this
    process may use (each in a process of its own with one thread, which keeps a core busier than
    one network's small operations spread over several threads do), on an accelerator one."""
    return max(1, torch.get_num_threads()) if device == "cpu" else 1

"""One way to show progress on long work: tqdm.auto (a widget in Jupyter, a bar in a terminal)."""

from __future__ import annotations

import warnings
from typing import Iterable

with warnings.catch_warnings():
    # In a kernel without ipywidgets, tqdm.auto warns once and falls back to a text bar, which is
    # what the book wants; librosa's pooch imports it too, and the book treats that warning (on
    # stderr) as an error. Imported here once, quietly, it does not warn again.
    warnings.filterwarnings("ignore", message="IProgress not found")
    from tqdm.auto import tqdm as _tqdm


def progress(items: Iterable, enabled: bool = True, description: str = "", total: int | None = None,
             leave: bool = False) -> Iterable:
    """``items`` wrapped in a progress bar when ``enabled``, unchanged otherwise."""
    if not enabled:
        return items
    return _tqdm(items, desc=description, total=total, leave=leave)


def byte_progress(total: int | None, initial: int = 0, description: str = "", enabled: bool = True):
    """A bar counting bytes (a download: ``initial`` bytes were there before); call ``update(n)``
    and ``close()``. Disabled, it does nothing."""
    return _tqdm(total=total, initial=initial, desc=description, unit="B", unit_scale=True, unit_divisor=1024,
                 disable=not enabled, leave=False)

"""One way to show progress on long work: tqdm.auto (a widget in Jupyter, a bar in a terminal)."""

from __future__ import annotations

from typing import Iterable


def progress(items: Iterable, enabled: bool = True, description: str = "", total: int | None = None,
             leave: bool = False) -> Iterable:
    """``items`` wrapped in a progress bar when ``enabled``, unchanged otherwise."""
    if not enabled:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc=description, total=total, leave=leave)

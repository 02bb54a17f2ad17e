"""Helpers the CLI-level test layers share (core, manage, resilience)."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: ``run(*args) -> (exit code, stdout, stderr)``: the CLI against the emulator (fixture in
#: ``tests/conftest.py``).
Run = Callable[..., tuple[int, str, str]]


def write_project(root: Path, files: dict[str, str]) -> Path:
    """A project folder with these files (paths relative to it, text dedented)."""
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def stored(emulator: Any, object_type: str) -> list[dict[str, Any]]:
    """What the emulator holds of one object type (archived records left out)."""
    return list(emulator.records(object_type))

from __future__ import annotations

import textwrap
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import pytest

from reconciler.loading import load_project
from reconciler.model import DesiredState
from tests.helpers import write_project
from tests.schema.portal import PROJECT, SPEC

REFERENCE = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)

Load = Callable[[str], DesiredState]


@pytest.fixture
def load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Load:
    """``load(spec_text) -> DesiredState``: one spec.yaml in a fresh project."""
    monkeypatch.chdir(tmp_path)

    def loaded(spec: str) -> DesiredState:
        (tmp_path / "reconciler.yaml").write_text("name: demo\nid: demo-1\n", encoding="utf-8")
        (tmp_path / "spec.yaml").write_text(textwrap.dedent(spec), encoding="utf-8")
        return load_project(".", reference_time=REFERENCE, use_cache=False)

    return loaded


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project with ``SPEC`` (target ``local``, or ``production``: protected)."""
    return write_project(tmp_path / "proj", {"reconciler.yaml": PROJECT, "spec.yaml": SPEC})

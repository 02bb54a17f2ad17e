"""Hostile ``schema:`` sections the loader refuses, located, before anything is sent (H3)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.schema.test_loader import _problems


@pytest.fixture(autouse=True)
def _in_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # (files are shown relative to where the command runs)


def test_more_options_than_hubspot_takes_is_refused_at_load(tmp_path: Path) -> None:
    # (validate said OK; apply failed half-way on HubSpot's 400 "at most 5000 options")
    options = "".join(f"          - {{value: v{i}, label: V{i}}}\n" for i in range(5001))
    spec = ("schema:\n  properties:\n    companies:\n      many:\n        label: Many\n"
            f"        type: enumeration\n        options:\n{options}")
    assert _problems(tmp_path, spec) == [
        "spec.yaml:7:9: schema.properties.companies.many.options: 5001 options; HubSpot takes "
        "at most 5000 on a property"]

"""Every folder in tests/data/bad_specs fails with exactly the lines in its expected.txt."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.errors import SpecError
from reconciler.loading.project import load_project

from .conftest import BAD_SPECS, REFERENCE

CASES = sorted(p.name for p in BAD_SPECS.iterdir() if (p / "expected.txt").is_file())


def test_the_corpus_is_big_enough() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", CASES)
def test_bad_spec_reports_exactly(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(BAD_SPECS)
    expected = (BAD_SPECS / case / "expected.txt").read_text(encoding="utf-8").splitlines()
    with pytest.raises(SpecError) as caught:
        load_project(case, reference_time=REFERENCE, use_cache=False)
    assert [issue.render() for issue in caught.value.issues] == expected
    assert not (Path(case) / ".reconciler").exists()

"""Every generator problem is a located error, found before anything is sent.

The cases live in the bad-spec corpus (tests/data/bad_specs/gen-*), with the exact lines
``reconciler validate`` prints; this runs them with the generator tests.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.errors import ConfigError, SpecError
from reconciler.loading.project import load_project

from .conftest import REFERENCE, load

BAD_SPECS = Path(__file__).resolve().parents[1] / "data" / "bad_specs"
CASES = sorted(p.name for p in BAD_SPECS.iterdir() if p.name.startswith("gen-"))


def test_every_error_class_has_a_case() -> None:
    assert len(CASES) >= 13


@pytest.mark.parametrize("case", CASES)
def test_generator_problem_reports_exactly(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(BAD_SPECS)
    expected = (BAD_SPECS / case / "expected.txt").read_text(encoding="utf-8").splitlines()
    with pytest.raises(SpecError) as caught:
        load_project(case, reference_time=REFERENCE, use_cache=False)
    assert [issue.render() for issue in caught.value.issues] == expected


def test_an_unknown_var_on_the_command_line_is_refused(gen_project) -> None:  # type: ignore[no-untyped-def]
    root = gen_project()
    with pytest.raises(ConfigError, match=r"--var acounts=3: unknown variable 'acounts'; did you mean 'accounts'\?"):
        load(root, variables=[("acounts", "3")])
    with pytest.raises(ConfigError, match=r"--var accounts=x: 'x' is not a whole number \(accounts is integer\)"):
        load(root, variables=[("accounts", "x")])


def test_a_target_s_vars_are_used(gen_project) -> None:  # type: ignore[no-untyped-def]
    from .conftest import PROJECT

    root = gen_project(project=PROJECT + "targets:\n  sandbox:\n    vars: {accounts: 1}\n")
    companies = [a for a in load(root, target="sandbox").records if a.startswith("companies/")]
    assert companies == ["companies/acct-001"]
    assert len([a for a in load(root).records if a.startswith("companies/")]) == 4

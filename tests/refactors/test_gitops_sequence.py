"""The GitOps example, driven as its workflow runs it: every job starts from a fresh
checkout (no state file survives between jobs), rebuilds its state from the portal, and
runs the workflow's own `reconciler` commands. Two portals (sandbox, and production:
protected, taking only accounts/northwind.yaml), search lag on, both on one fake clock
(``tests/helpers.FakeClock``) with the CLI: the lag and the grace are waited out in no time.

The sequence: a pull request's plan, the merge's applies, a merge with nothing new, a
`moved:` pull request, a record removed with `removed:` (on the protected target too:
never stuck), and a `state mv` run locally followed by a stateless CI apply.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.cli.base import main
from reconciler.emulator.config import EmulatorConfig
from reconciler.emulator.embedded import Emulator, start_emulator
from reconciler.loading.project_settings import load_project_settings
from tests.helpers import stored
from tests.manage.test_gitops import GITOPS, WORKFLOW, _shell_commands, _yaml
from tests.refactors.conftest import PRODUCTION_PORTAL, PRODUCTION_TOKEN

pytestmark = pytest.mark.fake_clock

LAG = 0.5
TYPES = ("companies", "contacts", "deals", "meetings", "calls")
Ci = Callable[..., list[tuple[list[str], int, str, str]]]


def _ids(emulator: Any) -> dict[str, str]:
    """reconciler_key → id of every record carrying a marker; each marker on one record."""
    found: dict[str, str] = {}
    for object_type in TYPES:
        for record in stored(emulator, object_type):
            key = record["properties"].get("reconciler_key")
            if key:
                assert key not in found, f"{key} is carried by two records"
                found[key] = str(record["id"])
    return found


def _count(emulator: Any) -> int:
    return sum(len(stored(emulator, t)) for t in TYPES)


@pytest.fixture
def production(emulator: Emulator) -> Iterator[Emulator]:
    """The production portal, on the sandbox's clock (the CLI runs on that one clock)."""
    config = EmulatorConfig(token=PRODUCTION_TOKEN, portal_id=PRODUCTION_PORTAL)
    with start_emulator(config, host="127.0.0.1", port=0, clock=emulator.clock) as emu:
        yield emu


@pytest.fixture
def repo(tmp_path: Path, emulator: Any, production: Any, monkeypatch: pytest.MonkeyPatch,
         capsys: pytest.CaptureFixture[str]) -> Path:
    """A copy of examples/gitops after its documented first step, `reconciler init`; its
    portals are the two emulators (the one edit a real repo does not need)."""
    root = tmp_path / "repo"
    shutil.copytree(GITOPS, root, ignore=shutil.ignore_patterns(".reconciler"))
    assert main(["init", str(root)]) == 0
    capsys.readouterr()
    project_file = root / "reconciler.yaml"
    text = project_file.read_text()
    text = text.replace("portal_id: 24681357", f"portal_id: {emulator.config.portal_id}\n"
                        f"    base_url: {emulator.base_url}")
    text = text.replace(f"portal_id: {PRODUCTION_PORTAL}", f"portal_id: {PRODUCTION_PORTAL}\n"
                        f"    base_url: {production.base_url}")
    project_file.write_text(text)
    monkeypatch.setenv("HUBSPOT_SANDBOX_TOKEN", emulator.token)
    monkeypatch.setenv("HUBSPOT_PRODUCTION_TOKEN", production.token)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("HUBSPOT_BASE_URL", raising=False)
    monkeypatch.chdir(root)  # the workflow runs in the checkout, without --project
    for emu in (emulator, production):
        emu.set_config(search_lag_seconds=LAG)
    return root


@pytest.fixture
def ci(repo: Path, emulator: Emulator, capsys: pytest.CaptureFixture[str]) -> Ci:
    """Run one job of the workflow: its `reconciler` commands, in order, from a checkout
    with no state file. Returns (argv, exit code, stdout, stderr) per command."""
    workflow = _yaml(WORKFLOW)

    def job(name: str, target: str | None = None) -> list[tuple[list[str], int, str, str]]:
        shutil.rmtree(repo / ".reconciler" / "state", ignore_errors=True)  # a fresh runner
        emulator.clock.sleep(LAG)  # one job starts after the last one ended, later than the lag
        ran = []
        for step in workflow["jobs"][name]["steps"]:
            script = step.get("run", "")
            if target is not None:
                script = script.replace("${{ matrix.target }}", target)
            for argv in _shell_commands(script):
                if argv[0] != "reconciler":
                    continue
                code = main(argv[1:], clock=emulator.clock)
                captured = capsys.readouterr()
                ran.append((argv, code, captured.out, captured.err))
                if code not in (0, 2):
                    raise AssertionError(f"{' '.join(argv)} exited {code}:\n"
                                         f"{captured.out}{captured.err}")
        return ran

    return job


def _merge(ci: Ci) -> tuple[str, str]:
    """The push to main: apply to sandbox, then (approved) to production."""
    sandbox = "".join(out for *_, out, _ in ci("apply"))
    production = "".join(out for *_, out, _ in ci("apply-production"))
    return sandbox, production


def _edit(repo: Path, name: str, edit: Callable[[str], str]) -> None:
    path = repo / "accounts" / name
    path.write_text(edit(path.read_text()))


def test_the_gitops_example_through_pull_requests_and_merges(
    repo: Path, ci: Ci, emulator: Any, production: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert load_project_settings(repo).id is not None  # what `reconciler init` gave it

    # 1. a pull request: validate, plan both targets (markdown for the comment, full plan)
    ci("validate")
    for target in ("sandbox", "production"):
        plan_md = next(out for argv, _, out, _ in ci("plan", target) if "markdown" in argv)
        assert "to create" in plan_md
    assert _count(emulator) == 0 and _count(production) == 0  # plans write nothing

    # 2. the merge: everything to sandbox, the showcase account to production
    sandbox, prod = _merge(ci)
    assert "15 created" in sandbox and "7 created" in prod, sandbox + prod
    sandbox_ids, production_ids = _ids(emulator), _ids(production)
    assert len(sandbox_ids) == 15 and len(production_ids) == 7

    # 3. another merge with nothing new: no duplicate, nothing undone
    sandbox, prod = _merge(ci)
    assert "created" not in sandbox and "created" not in prod, sandbox + prod
    assert _ids(emulator) == sandbox_ids and _ids(production) == production_ids

    # 4. a pull request renames a key, with a moved: entry: kept, not re-created
    _edit(repo, "northwind.yaml", lambda t: t.replace("nw-jane-doe", "nw-jane") + (
        "\nmoved:\n  - from: contacts/nw-jane-doe\n    to: contacts/nw-jane\n"))
    plan_txt = "".join(out for argv, _, out, _ in ci("plan", "production"))
    assert "contacts/nw-jane" in plan_txt and "1 to move" in plan_txt
    assert "0 to create" in plan_txt and "0 to archive" in plan_txt
    sandbox, prod = _merge(ci)
    assert "1 moved" in sandbox and "1 moved" in prod, sandbox + prod
    project_id = load_project_settings(repo).marker_id
    for emu, before in ((emulator, sandbox_ids), (production, production_ids)):
        after = _ids(emu)
        old, new = f"{project_id}:contacts/nw-jane-doe", f"{project_id}:contacts/nw-jane"
        assert after[new] == before[old] and old not in after
        assert set(after.values()) == set(before.values())  # the same records
    sandbox_ids, production_ids = _ids(emulator), _ids(production)
    sandbox, prod = _merge(ci)  # the entry stays in the spec: nothing more to do
    assert "Apply complete" not in sandbox + prod, sandbox + prod
    assert _ids(emulator) == sandbox_ids and _ids(production) == production_ids

    # 5. a record removed from the spec with removed:, on the protected target too
    call = f"{project_id}:calls/northwind-intro-call"
    call_ids = (sandbox_ids[call], production_ids[call])
    _edit(repo, "northwind.yaml", lambda t: t[: t.index("calls:")] + t[t.index("\nmoved:"):]
          + "removed: [calls/northwind-intro-call]\n")
    sandbox, prod = _merge(ci)
    assert "1 released" in sandbox and "1 released" in prod, sandbox + prod
    for emu, call_id in zip((emulator, production), call_ids, strict=True):
        assert call not in _ids(emu)
        assert call_id in {str(r["id"]) for r in stored(emu, "calls")}  # never archived
    for _ in range(2):  # and later merges to the protected target keep working
        sandbox, prod = _merge(ci)
        assert "Apply complete" not in sandbox + prod, sandbox + prod

    # 6. a key renamed without an entry, and `state mv` run locally (portal and state)
    sandbox_ids, production_ids = _ids(emulator), _ids(production)
    _edit(repo, "northwind.yaml", lambda t: t.replace("northwind-kickoff", "nw-kickoff"))
    for target in ("sandbox", "production"):
        assert main(["state", "rebuild", "--target", target], clock=emulator.clock) == 0
        assert main(["state", "mv", "meetings/northwind-kickoff", "meetings/nw-kickoff",
                     "--target", target, "--auto-approve"], clock=emulator.clock) == 0
    local = capsys.readouterr().out
    assert local.count("1 moved") == 2, local
    sandbox, prod = _merge(ci)  # the next stateless CI apply: nothing to do
    assert "Apply complete" not in sandbox + prod, sandbox + prod
    for emu, before in ((emulator, sandbox_ids), (production, production_ids)):
        after = _ids(emu)
        assert set(after.values()) == set(before.values())
        assert after[f"{project_id}:meetings/nw-kickoff"] == (
            before[f"{project_id}:meetings/northwind-kickoff"]
        )
    assert _count(emulator) == 15 and _count(production) == 7

"""The GitOps example, driven as GitHub runs its workflow (``tests.targets.actions_runner``):
every job starts from a fresh checkout (no state file survives between jobs), rebuilds its
state from the portal, and runs the workflow's own steps. Two portals (sandbox, and
production: protected, taking only accounts/northwind.yaml), search lag on, both on one
fake clock (``tests/helpers.FakeClock``) with the CLI: the lag and the grace are waited out
in no time.

The sequence, each change a pull request (read-only plans) and its merge (the reviewed
plans applied), each followed by a push that plans again and finds nothing to do: the
first seed, a `moved:` pull request, a record removed with `removed:` (on the protected
target too: never stuck), and a `state mv` run locally.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from itertools import count
from pathlib import Path
from typing import Any

import pytest

from reconciler.cli.base import main
from reconciler.emulator.config import EmulatorConfig
from reconciler.emulator.embedded import Emulator, start_emulator
from reconciler.loading.project_settings import load_project_settings
from tests.helpers import stored
from tests.manage.test_gitops import GITOPS
from tests.refactors.conftest import PRODUCTION_PORTAL, PRODUCTION_TOKEN
from tests.targets.actions_runner import Actions
from tests.targets.github_fake import FakeGitHub

pytestmark = pytest.mark.fake_clock

LAG = 0.5
TYPES = ("companies", "contacts", "deals", "meetings", "calls")
#: a private app with read scopes only (the workflow's <TARGET>_READ_TOKEN)
READ_SCOPES = ("crm.objects.contacts.read", "crm.objects.companies.read",
               "crm.objects.deals.read", "crm.objects.owners.read", "oauth")


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
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("HUBSPOT_BASE_URL", raising=False)
    for emu in (emulator, production):
        emu.set_config(search_lag_seconds=LAG)
    return root


@pytest.fixture
def ci(repo: Path, emulator: Emulator, production: Emulator,
       tmp_path: Path) -> Iterator[Callable[..., tuple[str, str, dict[str, str]]]]:
    """A pull request with the repo as it is now (its plans made with read-only tokens),
    then its merge; or, with ``reviewed=False``, a push to main without one (which plans
    again, and waits for approval if there is anything to apply). Returns what the push's
    apply jobs printed (sandbox, production) and the pull request's comments."""
    github = FakeGitHub()
    actions = Actions(repo / ".github" / "workflows" / "reconcile.yml", repo,
                      tmp_path / "actions", github, emulator.clock)
    secrets = {"HUBSPOT_SANDBOX_TOKEN": emulator.token, "SANDBOX_READ_TOKEN": emulator.token,
               "HUBSPOT_PRODUCTION_TOKEN": production.token,
               "PRODUCTION_READ_TOKEN": production.token}
    shas = count(1)

    def push(reviewed: bool = True) -> tuple[str, str, dict[str, str]]:
        n = next(shas)
        comments: dict[str, str] = {}
        if reviewed:
            number = github.open_pull_request(f"head-{n}")
            for emu in (emulator, production):
                emu.set_config(scopes=READ_SCOPES)
            pr = actions.run("pull_request", sha=f"head-{n}", pull_request=number,
                             secrets=secrets)
            for emu in (emulator, production):
                emu.set_config(scopes=None)
            assert all(leg.result == "success" for leg in pr.legs if leg.result != "skipped")
            github.merge(number, f"merge-{n}")
            comments = github.pulls[number].comments
        merge = actions.run("push", sha=f"merge-{n}", secrets=secrets)
        legs = [merge.leg("apply", "sandbox"), merge.leg("apply-protected", "production")]
        for leg in legs:
            assert leg.result == "success", leg.log
            # a merge applies the reviewed plan; a push without one found nothing to do
            assert not leg.ran("reconciler", "plan") if reviewed else (
                "Nothing to apply" in leg.summary), leg.log
        return legs[0].log, legs[1].log, comments

    yield push
    actions.close()


def _edit(repo: Path, name: str, edit: Callable[[str], str]) -> None:
    path = repo / "accounts" / name
    path.write_text(edit(path.read_text()))


def test_the_gitops_example_through_pull_requests_and_merges(
    repo: Path, ci: Callable[..., tuple[str, str, dict[str, str]]], emulator: Any,
    production: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert load_project_settings(repo).id is not None  # what `reconciler init` gave it

    # 1. the first pull request (plans both targets, writes nothing), and its merge:
    # everything to sandbox, the showcase account to production
    sandbox, prod, comments = ci()
    assert "to create" in comments["reconciler-plan-sandbox"]
    assert "15 created" in sandbox and "7 created" in prod, sandbox + prod
    sandbox_ids, production_ids = _ids(emulator), _ids(production)
    assert len(sandbox_ids) == 15 and len(production_ids) == 7

    # 2. another push with nothing new: no duplicate, nothing undone
    sandbox, prod, _ = ci(reviewed=False)
    assert "created" not in sandbox and "created" not in prod, sandbox + prod
    assert _ids(emulator) == sandbox_ids and _ids(production) == production_ids

    # 3. a pull request renames a key, with a moved: entry: kept, not re-created
    _edit(repo, "northwind.yaml", lambda t: t.replace("nw-jane-doe", "nw-jane") + (
        "\nmoved:\n  - from: contacts/nw-jane-doe\n    to: contacts/nw-jane\n"))
    sandbox, prod, comments = ci()
    shown = comments["reconciler-plan-production"].replace("\\", "")
    assert "contacts/nw-jane (move from contacts/nw-jane-doe)" in shown or (
        "| move |" in shown or "1 to move" in shown), shown
    assert "1 moved" in sandbox and "1 moved" in prod, sandbox + prod
    project_id = load_project_settings(repo).marker_id
    for emu, before in ((emulator, sandbox_ids), (production, production_ids)):
        after = _ids(emu)
        old, new = f"{project_id}:contacts/nw-jane-doe", f"{project_id}:contacts/nw-jane"
        assert after[new] == before[old] and old not in after
        assert set(after.values()) == set(before.values())  # the same records
    sandbox_ids, production_ids = _ids(emulator), _ids(production)
    sandbox, prod, _ = ci(reviewed=False)  # the entry stays in the spec: nothing more to do
    assert "Apply complete" not in sandbox + prod, sandbox + prod
    assert _ids(emulator) == sandbox_ids and _ids(production) == production_ids

    # 4. a record removed from the spec with removed:, on the protected target too
    call = f"{project_id}:calls/northwind-intro-call"
    call_ids = (sandbox_ids[call], production_ids[call])
    _edit(repo, "northwind.yaml", lambda t: t[: t.index("calls:")] + t[t.index("\nmoved:"):]
          + "removed: [calls/northwind-intro-call]\n")
    sandbox, prod, _ = ci()
    assert "1 released" in sandbox and "1 released" in prod, sandbox + prod
    for emu, call_id in zip((emulator, production), call_ids, strict=True):
        assert call not in _ids(emu)
        assert call_id in {str(r["id"]) for r in stored(emu, "calls")}  # never archived
    sandbox, prod, _ = ci(reviewed=False)  # and later pushes to the protected one keep working
    assert "Apply complete" not in sandbox + prod, sandbox + prod

    # 5. a key renamed without an entry, and `state mv` run locally (portal and state)
    sandbox_ids, production_ids = _ids(emulator), _ids(production)
    _edit(repo, "northwind.yaml", lambda t: t.replace("northwind-kickoff", "nw-kickoff"))
    monkeypatch.setenv("HUBSPOT_SANDBOX_TOKEN", emulator.token)
    monkeypatch.setenv("HUBSPOT_PRODUCTION_TOKEN", production.token)
    for target in ("sandbox", "production"):
        assert main(["state", "rebuild", "--project", str(repo), "--target", target],
                    clock=emulator.clock) == 0
        assert main(["state", "mv", "meetings/northwind-kickoff", "meetings/nw-kickoff",
                     "--project", str(repo), "--target", target, "--auto-approve"],
                    clock=emulator.clock) == 0
    local = capsys.readouterr().out
    assert local.count("1 moved") == 2, local
    sandbox, prod, _ = ci(reviewed=False)  # the next stateless CI run: nothing to do
    assert "Apply complete" not in sandbox + prod, sandbox + prod
    for emu, before in ((emulator, sandbox_ids), (production, production_ids)):
        after = _ids(emu)
        assert set(after.values()) == set(before.values())
        assert after[f"{project_id}:meetings/nw-kickoff"] == (
            before[f"{project_id}:meetings/northwind-kickoff"]
        )
    assert _count(emulator) == 15 and _count(production) == 7

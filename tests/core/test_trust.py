"""Trust holes (issue 10), each driven through the real CLI against the emulator.

Never touch what is not ours (another project's or target's state, a mass archive, a
project without an id on a shared portal, a tampered plan), keep the state file safe (its
lock, a read-only file, plan --out over it, damage), and exit codes that tell the truth.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import signal
import stat
from pathlib import Path
from typing import Any

import pytest

from reconciler.state.plan_document import plan_digest
from reconciler.state.store import StateStore
from tests.helpers import Run, stored, write_project

PROJECT = """\
name: alpha
id: alpha-4k7q2z
default_owner: alice@example.com
targets:
  sandbox:
    portal_id: 1234567
  other-portal:
    portal_id: 7654321
  staging: {}
"""


def companies(*keys: str) -> str:
    lines = ["companies:"]
    for key in keys:
        lines += [f"  {key}:", f"    name: {key.title()} Inc", f"    domain: {key}.example"]
    return "\n".join(lines) + "\n"


@pytest.fixture
def alpha(tmp_path: Path) -> Path:
    return write_project(tmp_path / "alpha", {
        "reconciler.yaml": PROJECT, "accounts.yaml": companies("acme", "globex", "initech"),
    })


@pytest.fixture
def beta(tmp_path: Path) -> Path:
    return write_project(tmp_path / "beta", {
        "reconciler.yaml": "name: beta\nid: beta-9x3m1w\n", "accounts.yaml": companies("umbrella"),
    })


def state_path(project: Path, target: str = "local") -> Path:
    return project / ".reconciler" / "state" / f"{target}.json"


def read_state(project: Path, target: str = "local") -> dict[str, Any]:
    data: dict[str, Any] = json.loads(state_path(project, target).read_text())
    return data


def error_line(code: int, out: str, err: str) -> str:
    """The run failed as a user error: exit 1 with a message, no traceback."""
    assert code == 1, out + err
    assert "Traceback" not in err and "Internal error" not in err, err
    return err


# -- a state of another project or target ------------------------------------------------


def test_a_state_of_another_project_is_refused(run: Run, alpha: Path, beta: Path,
                                               emulator: Any) -> None:
    assert run("apply", "--project", alpha, "--auto-approve")[0] == 0
    before = state_path(alpha).read_bytes()
    foreign = state_path(alpha)
    for command in (["apply", "--auto-approve"], ["plan"], ["destroy", "--auto-approve"],
                    ["state", "list"], ["refresh-times", "--auto-approve"]):
        err = error_line(*run(*command, "--project", beta, "--state", foreign))
        assert "is not this project's state" in err and "alpha-4k7q2z" in err, err
        assert "reconciler state rebind" in err
    assert len(stored(emulator, "companies")) == 3  # nothing archived, nothing created
    assert state_path(alpha).read_bytes() == before


def test_a_state_of_another_target_is_refused_naming_the_right_flag(
    run: Run, alpha: Path, emulator: Any
) -> None:
    assert run("apply", "--project", alpha, "--auto-approve")[0] == 0
    err = error_line(*run("apply", "--project", alpha, "-t", "sandbox", "--auto-approve",
                          "--state", state_path(alpha)))
    assert "it belongs to target local, not sandbox" in err
    assert "--target local" in err
    data = read_state(alpha)
    data["target"] = "production"  # hand-edited to pass as another target's
    state_path(alpha).write_text(json.dumps(data))
    err = error_line(*run("apply", "--project", alpha, "--auto-approve"))
    assert "it belongs to target production, not local" in err
    assert len(stored(emulator, "companies")) == 3


def test_states_of_the_first_release_and_before_the_id_are_accepted(
    run: Run, alpha: Path, emulator: Any
) -> None:
    assert run("apply", "--project", alpha, "--auto-approve")[0] == 0
    data = read_state(alpha)
    for project_id in (None, "alpha"):  # no id at all (first release), the slugged name
        data["project_id"] = project_id
        state_path(alpha).write_text(json.dumps(data))
        code, out, err = run("state", "list", "--project", alpha)
        assert code == 0, err
        assert "3 records" in out


def test_rebind_makes_a_foreign_state_this_projects_on_purpose(
    run: Run, alpha: Path, beta: Path, emulator: Any
) -> None:
    assert run("apply", "--project", alpha, "--auto-approve")[0] == 0
    copy = beta / ".reconciler" / "state" / "local.json"
    copy.parent.mkdir(parents=True)
    shutil.copy(state_path(alpha), copy)
    assert run("plan", "--project", beta)[0] == 1
    code, out, err = run("state", "rebind", "--project", beta, "--yes")
    assert code == 0, out + err
    assert "3 record(s) of project alpha (id alpha-4k7q2z), target local" in out
    assert list(copy.parent.glob("local.json.*.backup"))
    data = read_state(beta)
    assert (data["project"], data["project_id"], data["target"]) == ("beta", None, "local")
    code, out, err = run("plan", "--project", beta)
    assert code == 0, out + err


# -- the portal behind the token -----------------------------------------------------------


def test_the_state_records_the_portal_and_a_wrong_portal_is_refused(
    run: Run, alpha: Path, emulator: Any
) -> None:
    code, out, err = run("apply", "--project", alpha, "-t", "sandbox", "--auto-approve")
    assert code == 0, out + err
    assert read_state(alpha, "sandbox")["portal_id"] == 1234567

    err = error_line(*run("apply", "--project", alpha, "-t", "other-portal", "--auto-approve"))
    assert "expects portal 7654321" in err and "belongs to portal 1234567" in err

    emulator.set_config(portal_id=2222222)  # the same target, now another account's token
    err = error_line(*run("plan", "--project", alpha, "-t", "sandbox"))
    assert "expects portal 1234567" in err and "belongs to portal 2222222" in err


def test_a_state_remembers_its_portal_when_the_target_names_none(
    run: Run, alpha: Path, emulator: Any
) -> None:
    assert run("apply", "--project", alpha, "-t", "staging", "--auto-approve")[0] == 0
    assert read_state(alpha, "staging")["portal_id"] == 1234567
    emulator.set_config(portal_id=2222222)
    err = error_line(*run("apply", "--project", alpha, "-t", "staging", "--auto-approve"))
    assert "was made in portal 1234567" in err and "belongs to portal 2222222" in err
    assert len(stored(emulator, "companies")) == 3


def test_an_account_that_cannot_be_identified_is_refused(
    run: Run, alpha: Path, emulator: Any
) -> None:
    emulator.set_config(scopes=("crm.objects.companies.read", "crm.objects.companies.write"))
    err = error_line(*run("apply", "--project", alpha, "-t", "sandbox", "--auto-approve"))
    assert "cannot be identified" in err and "nothing was changed" in err
    assert stored(emulator, "companies") == []


# -- identity ----------------------------------------------------------------------------


def test_a_target_other_than_local_needs_the_project_id(run: Run, tmp_path: Path,
                                                        emulator: Any) -> None:
    project = write_project(tmp_path / "noid", {
        "reconciler.yaml": "name: noid\ntargets:\n  sandbox: {}\n",
        "accounts.yaml": companies("acme"),
    })
    for command in (["apply", "--auto-approve"], ["plan"]):
        err = error_line(*run(*command, "--project", project, "-t", "sandbox"))
        assert "target sandbox needs the project's id" in err
        assert f"reconciler init --project {project}" in err
    assert emulator.requests() == []
    assert run("apply", "--project", project, "--auto-approve")[0] == 0  # local: fine


# -- mass archives -----------------------------------------------------------------------


def test_a_mass_archive_stops_before_writing_unless_allowed(
    run: Run, tmp_path: Path, emulator: Any
) -> None:
    keys = [f"c{n}" for n in range(8)]
    project = write_project(tmp_path / "mass", {
        "reconciler.yaml": "name: mass\n", "accounts.yaml": companies(*keys),
    })
    assert run("apply", "--project", project, "--auto-approve")[0] == 0
    (project / "accounts.yaml").write_text(companies("c0"))  # 7 of 8 go

    err = error_line(*run("apply", "--project", project, "--auto-approve"))
    assert "this plan archives 7 records" in err and "max_archive_percent: 10%" in err
    assert "--allow-archives 7" in err
    err = error_line(*run("apply", "--project", project, "--auto-approve", "--allow-archives", "6"))
    assert "--allow-archives 6 is fewer than that" in err
    err = error_line(*run("refresh-times", "--project", project, "--auto-approve"))
    assert "this plan archives 7 records" in err
    assert len(stored(emulator, "companies")) == 8

    code, out, err = run("apply", "--project", project, "--auto-approve", "--allow-archives", "7")
    assert code == 0, out + err
    assert len(stored(emulator, "companies")) == 1


def test_max_archives_is_a_target_setting_and_destroy_is_exempt(
    run: Run, tmp_path: Path, emulator: Any
) -> None:
    project = write_project(tmp_path / "few", {
        "reconciler.yaml": "name: few\ntargets:\n  local:\n    max_archives: 1\n",
        "accounts.yaml": companies("a1", "a2", "a3"),
    })
    assert run("apply", "--project", project, "--auto-approve")[0] == 0
    (project / "accounts.yaml").write_text(companies("a1"))
    err = error_line(*run("apply", "--project", project, "--auto-approve"))
    assert "archives 2 records on target local, more than max_archives: 1" in err
    code, out, err = run("destroy", "--project", project, "--auto-approve")
    assert code == 0, out + err
    assert stored(emulator, "companies") == []


# -- saved plans -------------------------------------------------------------------------


def _saved_update_plan(run: Run, project: Path, tmp_path: Path) -> Path:
    assert run("apply", "--project", project, "--auto-approve")[0] == 0
    (project / "accounts.yaml").write_text(
        companies("acme", "globex", "initech").replace("Acme Inc", "Acme GmbH")
    )
    plan_file = tmp_path / "plan.json"
    code, out, err = run("plan", "--project", project, "--out", plan_file)
    assert code == 0, out + err
    return plan_file


def _rewrite(plan_file: Path, edit: Any, *, fix_digest: bool = True) -> None:
    data = json.loads(plan_file.read_text())
    edit(data)
    if fix_digest:
        data["digest"] = plan_digest(data)
    plan_file.write_text(json.dumps(data))


def test_an_edited_plan_is_refused_by_its_digest(run: Run, alpha: Path, tmp_path: Path,
                                                 emulator: Any) -> None:
    plan_file = _saved_update_plan(run, alpha, tmp_path)
    _rewrite(plan_file, lambda d: d["changes"][0]["after"].update(name="Evil Inc"),
             fix_digest=False)
    err = error_line(*run("apply", "--project", alpha, "--plan", plan_file))
    assert "changed after it was saved" in err
    assert {c["properties"]["name"] for c in stored(emulator, "companies")} == {
        "Acme Inc", "Globex Inc", "Initech Inc"}


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["changes"][0].update(id="99999"), "names id 99999, but the state maps it to"),
    (lambda d: d["changes"][0].update(action="explode"), "unknown action 'explode'"),
    (lambda d: d["changes"].append({**d["changes"][0], "action": "archive", "key": "other",
                                    "address": "companies/other"}),
     "archive of companies/other, which the state does not manage"),
    (lambda d: d["changes"][0].update(after=["x"]), "'after' is a list, not an object"),
    (lambda d: d["changes"][0].update(key=7), "'key' is a whole number, not a string"),
])
def test_a_plan_that_does_not_follow_from_its_state_is_refused(
    run: Run, alpha: Path, tmp_path: Path, emulator: Any, edit: Any, message: str
) -> None:
    plan_file = _saved_update_plan(run, alpha, tmp_path)
    _rewrite(plan_file, edit)  # digest recomputed: only the check against the state is left
    err = error_line(*run("apply", "--project", alpha, "--plan", plan_file))
    assert message in err, err
    assert len(stored(emulator, "companies")) == 3
    assert "Acme Inc" in {c["properties"]["name"] for c in stored(emulator, "companies")}


def test_a_marker_rewrite_writes_only_the_markers(run: Run, alpha: Path, tmp_path: Path,
                                                  emulator: Any) -> None:
    assert run("apply", "--project", alpha, "--auto-approve")[0] == 0
    data = read_state(alpha)
    data["project_id"] = None  # a state of the first release: its markers carry the name
    state_path(alpha).write_text(json.dumps(data))
    plan_file = tmp_path / "plan.json"
    code, out, err = run("plan", "--project", alpha, "--out", plan_file)
    assert code == 0 and "3 marker rewrites" in out, out + err

    def evil(plan: dict[str, Any]) -> None:
        plan["changes"][0]["after"]["name"] = "Evil Inc"
        plan["changes"][0]["changes"].append({"property": "name", "before": None, "after": "Evil"})

    _rewrite(plan_file, evil)
    err = error_line(*run("apply", "--project", alpha, "--plan", plan_file))
    assert "writes more than its markers" in err
    assert "Evil Inc" not in {c["properties"]["name"] for c in stored(emulator, "companies")}


@pytest.mark.parametrize("content", ["[]", "{not json", '"a string"', "null", "\x00\xff"])
def test_a_plan_file_that_is_not_a_plan_is_exit_1(run: Run, alpha: Path, tmp_path: Path,
                                                   content: str) -> None:
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(content, encoding="latin-1")
    err = error_line(*run("apply", "--project", alpha, "--plan", plan_file))
    assert "not a saved reconciler plan" in err or "not a plan this reconciler" in err


def test_plan_out_never_overwrites_a_state(run: Run, alpha: Path, tmp_path: Path) -> None:
    assert run("apply", "--project", alpha, "--auto-approve")[0] == 0
    before = state_path(alpha).read_bytes()
    err = error_line(*run("plan", "--project", alpha, "--out", state_path(alpha)))
    assert "that is the state file" in err
    other = tmp_path / "copy-of-state.json"
    shutil.copy(state_path(alpha), other)
    err = error_line(*run("plan", "--project", alpha, "--out", other))
    assert "it holds a reconciler state" in err
    assert state_path(alpha).read_bytes() == before == other.read_bytes()
    plan_file = tmp_path / "plan.json"
    for _ in range(2):  # a plan file, though, is replaced by the next plan
        assert run("plan", "--project", alpha, "--out", plan_file)[0] == 0


def test_plan_out_to_a_full_disk_is_exit_1(run: Run, alpha: Path) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    err = error_line(*run("plan", "--project", alpha, "--out", "/dev/full"))
    assert "could not be written" in err and "No space left on device" in err


def test_plan_out_hint_works_from_where_the_user_is(run: Run, alpha: Path, tmp_path: Path) -> None:
    code, out, _ = run("plan", "--project", alpha, "-t", "sandbox", "--out", tmp_path / "p.json")
    assert code == 0
    assert f"reconciler apply --plan {tmp_path / 'p.json'} --project {alpha} --target sandbox" in out


def test_a_saved_plan_carries_its_owners_into_the_state(run: Run, alpha: Path, tmp_path: Path,
                                                        emulator: Any) -> None:
    plan_file = tmp_path / "plan.json"
    assert run("plan", "--project", alpha, "--out", plan_file)[0] == 0
    code, out, err = run("apply", "--project", alpha, "--plan", plan_file)
    assert code == 0, out + err
    assert read_state(alpha)["owners"] == {"alice@example.com": "1001"}
    code, out, _ = run("plan", "--project", alpha, "--offline")
    assert "No changes." in out, out
    assert {c["properties"]["hubspot_owner_id"] for c in stored(emulator, "companies")} == {"1001"}


def test_an_owner_placeholder_is_never_sent(run: Run, alpha: Path, tmp_path: Path,
                                            emulator: Any) -> None:
    plan_file = tmp_path / "plan.json"
    code, out, _ = run("plan", "--project", alpha, "--offline", "--out", plan_file)
    assert code == 0 and "<owner alice@example.com>" in out
    err = error_line(*run("apply", "--project", alpha, "--plan", plan_file))
    assert "is not resolved to an owner id" in err
    assert stored(emulator, "companies") == []


# -- the state file ----------------------------------------------------------------------


def test_a_read_only_state_is_refused_not_replaced(run: Run, alpha: Path, emulator: Any) -> None:
    assert run("apply", "--project", alpha, "--auto-approve")[0] == 0
    (alpha / "accounts.yaml").write_text(companies("acme", "globex", "initech", "hooli"))
    path = state_path(alpha)
    before = path.read_bytes()
    path.chmod(stat.S_IRUSR | stat.S_IRGRP)
    try:
        err = error_line(*run("apply", "--project", alpha, "--auto-approve"))
        assert "is read-only" in err
        err = error_line(*run("state", "rm", "companies/acme", "--project", alpha))
        assert "is read-only" in err
    finally:
        path.chmod(stat.S_IRUSR | stat.S_IWUSR)
    assert path.read_bytes() == before
    assert len(stored(emulator, "companies")) == 3


@pytest.mark.parametrize("edit, fragment", [
    (lambda d: d.update(format_version=0), "format_version 0 is not a version"),
    (lambda d: d.update(format_version=-5), "format_version -5 is not a version"),
    (lambda d: d.update(format_version=True), "format_version true is not a version"),
    (lambda d: d["records"]["companies/acme"].update(id=None), "id null is not a string"),
    (lambda d: d["records"]["companies/acme"].update(properties={"name": 5}),
     "a property value is not a string"),
    (lambda d: d.update(in_flight={"b1": {"object_type": "companies", "addresses": ["x"]}}),
     "in_flight entry b1: started_at is missing"),
    (lambda d: d.update(owners=[]), "owners is not a JSON object"),
    (lambda d: d.update(serial="7"), 'serial "7" is not a whole number'),
])
def test_a_damaged_state_is_exit_1_and_left_untouched(
    run: Run, alpha: Path, edit: Any, fragment: str
) -> None:
    assert run("apply", "--project", alpha, "--auto-approve")[0] == 0
    data = read_state(alpha)
    edit(data)
    state_path(alpha).write_text(json.dumps(data))
    before = state_path(alpha).read_bytes()
    for command in (["plan"], ["apply", "--auto-approve"]):
        err = error_line(*run(*command, "--project", alpha))
        assert "state file is damaged" in err and fragment in err, err
    assert state_path(alpha).read_bytes() == before


def _hold_lock(path: str, ready: Any) -> None:
    with StateStore(path).locked(command="apply"):
        ready.set()
        signal.pause()  # until the test kills it


class _Holder:
    """Another process holding the state lock, as a long apply would."""

    def __init__(self, path: Path) -> None:
        context = multiprocessing.get_context("fork")
        self.ready = context.Event()
        self.process = context.Process(target=_hold_lock, args=(str(path), self.ready))

    def __enter__(self) -> _Holder:
        self.process.start()
        assert self.ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.process.pid is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.join()


def test_deleting_the_lock_file_does_not_let_a_second_apply_in(
    run: Run, alpha: Path, emulator: Any
) -> None:
    assert run("apply", "--project", alpha, "--auto-approve")[0] == 0
    (alpha / "accounts.yaml").write_text(companies("acme", "globex", "initech", "hooli"))
    folder = state_path(alpha).parent
    with _Holder(state_path(alpha)) as holder:
        for leftover in folder.iterdir():
            if "lock" in leftover.name:
                leftover.unlink()
        err = error_line(*run("apply", "--project", alpha, "--auto-approve"))
        assert "is locked by another reconciler" in err, err
        del holder
    assert len(stored(emulator, "companies")) == 3
    assert run("apply", "--project", alpha, "--auto-approve")[0] == 0


def test_a_symlinked_state_shares_the_lock_and_stays_a_link(
    run: Run, alpha: Path, tmp_path: Path, emulator: Any
) -> None:
    assert run("apply", "--project", alpha, "--auto-approve")[0] == 0
    (alpha / "accounts.yaml").write_text(companies("acme", "globex", "initech", "hooli"))
    link = tmp_path / "elsewhere" / "state-link.json"
    link.parent.mkdir()
    link.symlink_to(state_path(alpha))
    with _Holder(state_path(alpha)):
        err = error_line(*run("apply", "--project", alpha, "--state", link, "--auto-approve"))
        assert "is locked by another reconciler" in err
    assert len(stored(emulator, "companies")) == 3

    code, out, err = run("apply", "--project", alpha, "--state", link, "--auto-approve")
    assert code == 0, out + err
    assert link.is_symlink()
    assert "companies/hooli" in read_state(alpha)["records"]


# -- exit codes --------------------------------------------------------------------------


@pytest.mark.parametrize("args", [
    ["plan", "--formatt", "markdown"],
    ["plan", "--format", "html"],
    ["plan", "--json", "--format", "markdown"],
    ["apply", "--allow-archives", "-1"],
    ["nosuchcommand"],
    ["plan", "--target", "local", "--target", "sandbox"],
    ["state", "list", "-t", "local", "-t", "local"],
])
def test_usage_errors_exit_1_not_2(run: Run, alpha: Path, args: list[str]) -> None:
    code, out, err = run(*args, "--project", alpha)
    assert code == 1, out + err


@pytest.mark.parametrize("token", ["pat-na1-1234\n5678-SECRET", "pat-na1-12€4-SECRET",
                                   "pat na1 SECRET"])
def test_a_malformed_token_is_refused_before_any_request(
    run: Run, alpha: Path, emulator: Any, monkeypatch: pytest.MonkeyPatch, token: str
) -> None:
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", token)
    code, out, err = run("plan", "--project", alpha, "-t", "sandbox")
    error_line(code, out, err)
    assert "SECRET" not in out + err and "HUBSPOT_ACCESS_TOKEN" in err
    assert emulator.requests() == []


# -- markdown for pull requests ------------------------------------------------------------


def test_markdown_plans_cannot_be_injected_into(run: Run, tmp_path: Path) -> None:
    project = write_project(tmp_path / "md", {
        "reconciler.yaml": "name: md\n",
        "x\n**No changes**\n| a | b |.yaml": companies("acme"),
    })
    code, out, err = run("plan", "--project", project, "--offline", "--format", "markdown")
    assert code == 0, out + err
    lines = out.splitlines()
    assert [line for line in lines if "No changes" in line] == [
        next(line for line in lines if "No changes" in line)
    ]
    assert not any(line.startswith("**No changes") for line in lines), out
    row = next(line for line in lines if "companies/acme" in line)
    assert "\\*\\*No changes\\*\\*" in row and "\\| a \\| b \\|" in row
    assert row.count(" | ") == 3  # the table keeps its four columns


# -- the command line, consistent (issue 11) ------------------------------------------------


def test_apply_json_names_each_new_records_id(run: Run, alpha: Path, emulator: Any) -> None:
    code, out, err = run("apply", "--project", alpha, "--auto-approve", "--json")
    assert code == 0, out + err
    ids = json.loads(out)["ids"]
    assert ids == {a: r["id"] for a, r in read_state(alpha)["records"].items()}
    assert sorted(ids) == ["companies/acme", "companies/globex", "companies/initech"]


def test_plans_show_times_in_the_projects_timezone(run: Run, tmp_path: Path) -> None:
    project = write_project(tmp_path / "tz", {
        "reconciler.yaml": "name: tz\ntimezone: Europe/Berlin\n",
        "m.yaml": "meetings:\n  kickoff:\n    title: Kickoff\n"
                  "    start: 2026-12-01T09:00:00Z\n    duration: 30m\n",
    })
    code, out, err = run("plan", "--project", project, "--offline")
    assert code == 0, out + err
    assert 'hs_meeting_start_time: "2026-12-01T09:00:00.000Z" (Tue 2026-12-01 10:00 Europe/Berlin)' in out, out

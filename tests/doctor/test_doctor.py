"""`reconciler doctor` against the emulator: a fresh portal where apply will work, and
each thing that would stop it (a scope, an owner, the portal, the daily budget), one line
each with what to do, exit 1; the token never printed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import Run, write_project

SPEC = """\
companies:
  acme: {name: Acme, owner: alice@example.com}
deals:
  big:
    name: Big deal
    stage: appointmentscheduled
    owner: OWNER
    associations:
      - company: acme
"""


def project(tmp_path: Path, *, owner: str = "bob@example.com", target: str = "") -> Path:
    settings = "name: doctored\nid: doctored-4x8k2p\n" + target
    return write_project(tmp_path / "p", {
        "reconciler.yaml": settings,
        "accounts.yaml": SPEC.replace("OWNER", owner),
    })


def doctor(run: Run, root: Path, *args: str) -> tuple[int, str]:
    code, out, err = run("doctor", "--project", root, *args)
    return code, out + err


def all_scopes_but(emulator: Any, scope: str) -> tuple[str, ...]:
    """Every scope the emulator's private app has (as its token info says), less one."""
    answer = httpx.post(
        f"{emulator.base_url}/oauth/v2/private-apps/get/access-token-info",
        json={"tokenKey": emulator.token}, headers={"Authorization": f"Bearer {emulator.token}"},
    )
    return tuple(s for s in answer.json()["scopes"] if s != scope)


def lines_of(output: str, level: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith(level)]


def test_a_fresh_portal_is_all_clear(run: Run, emulator: Any, tmp_path: Path) -> None:
    code, out = doctor(run, project(tmp_path))
    assert code == 0, out
    assert lines_of(out, "fail") == [] and lines_of(out, "warn") == []
    assert "ok    token: the token is accepted; portal 1234567" in out
    assert "ok    scopes: the token has every scope plan and apply need" in out
    assert ("ok    markers: the marker properties (reconciler_key, _project, _applied) will "
            "be created on the first apply on companies, deals") in out
    assert "ok    owners: the spec's 2 owner(s) are active owners" in out
    assert "ok    budget: daily limit" in out
    assert "ok    cache: parse cache entries are sealed with your key (" in out
    assert out.rstrip().endswith("All clear: apply can work on target local (portal 1234567).")
    assert emulator.token not in out
    writes = [r for r in emulator.requests() if r["method"] != "GET"
              and not r["path"].endswith(("/search", "/access-token-info"))]
    assert writes == []  # doctor writes nothing
    assert not (tmp_path / "p" / ".reconciler" / "state").exists()


def test_after_apply_the_markers_exist(run: Run, emulator: Any, tmp_path: Path) -> None:
    root = project(tmp_path)
    assert run("apply", "--project", root, "--auto-approve")[0] == 0
    code, out = doctor(run, root)
    assert code == 0, out
    assert "ok    markers: the marker properties exist" in out


def test_a_missing_scope_names_it(run: Run, emulator: Any, tmp_path: Path) -> None:
    root = project(tmp_path)
    emulator.set_config(scopes=all_scopes_but(emulator, "crm.objects.deals.write"))
    code, out = doctor(run, root)
    assert code == 1, out
    assert lines_of(out, "fail") == [
        "fail  scopes: the token may not write deals: grant the private app "
        "crm.objects.deals.write or crm.objects.deals.sensitive.write.v2",
    ]
    assert "1 problem(s) to fix before apply can work on target local (portal 1234567)." in out


def test_a_missing_schema_scope_stops_the_markers(run: Run, emulator: Any, tmp_path: Path) -> None:
    root = project(tmp_path)
    emulator.set_config(scopes=all_scopes_but(emulator, "crm.schemas.deals.write"))
    code, out = doctor(run, root)
    assert code == 1, out
    assert lines_of(out, "fail") == [
        "fail  scopes: the token may not change the deals schema (properties, pipelines): grant "
        "the private app "
        "crm.schemas.deals.write",
    ]


def test_a_missing_owner_points_at_the_owners_map(run: Run, emulator: Any, tmp_path: Path) -> None:
    code, out = doctor(run, project(tmp_path, owner="dora@example.com"))
    assert code == 1, out
    assert lines_of(out, "fail") == [
        "fail  owners: dora@example.com is not an active owner of this portal (owners cannot "
        "be created through the API): add the user in HubSpot, or map it to one of this "
        "portal's owners under targets.local.owners in reconciler.yaml",
    ]


def test_a_token_of_another_portal(run: Run, emulator: Any, tmp_path: Path) -> None:
    root = project(tmp_path, target="targets:\n  sandbox:\n    portal_id: 7654321\n")
    code, out = doctor(run, root, "--target", "sandbox")
    assert code == 1, out
    assert lines_of(out, "fail") == [
        "fail  token: the token in HUBSPOT_ACCESS_TOKEN belongs to portal 1234567, but target "
        "sandbox names portal 7654321: use portal 7654321's token, or fix "
        "targets.sandbox.portal_id",
    ]
    assert emulator.token not in out


def test_a_refused_token_stops_there(run: Run, emulator: Any, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # (a token of HubSpot's shape, made here so that no file holds one)
    wrong = "-".join(["pat", "na1", "0" * 8, "0" * 4, "0" * 4, "0" * 4, "0" * 12])
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", wrong)
    code, out = doctor(run, project(tmp_path))
    assert code == 1, out
    assert lines_of(out, "fail") == [
        "fail  token: HubSpot refused the token in HUBSPOT_ACCESS_TOKEN (401): use the access "
        "token of the portal's private app",
    ]
    assert "pat-na1" not in out


def test_a_daily_budget_nearly_spent(run: Run, emulator: Any, tmp_path: Path) -> None:
    emulator.set_config(daily_limit=10)
    code, out = doctor(run, project(tmp_path))
    assert code == 1, out
    [problem] = lines_of(out, "fail")
    assert problem.startswith("fail  budget: daily limit 10, 6 used today, 4 left, ")
    assert problem.endswith("the whole estimate): wait for the reset, or apply part with --only")


def test_without_token_info_reads_are_probed_and_writes_unverified(
    run: Run, emulator: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from reconciler.cli.base import main
    from tests.proxy import RewritingProxy

    root = project(tmp_path)
    emulator.set_config(scopes=all_scopes_but(emulator, "crm.objects.deals.read"))
    refused = {"status": "error", "message": "not found", "category": "OBJECT_NOT_FOUND"}
    with RewritingProxy(emulator.base_url) as proxy:
        proxy.rewrite("POST", "/oauth/v2/private-apps/get/access-token-info",
                      lambda answer: answer.with_body(refused, status=404))
        code = main(["doctor", "--project", str(root), "--base-url", proxy.base_url])
        out = capsys.readouterr().out
        assert proxy.rewritten == [("POST", "/oauth/v2/private-apps/get/access-token-info")]
        assert code == 0, out  # deals are read with crm.objects.deals.write too
        assert lines_of(out, "warn") == [
            "warn  scopes: HubSpot would not list the token's scopes (token info refused "
            "it): reads work; write scopes are unverified (no harmless write can prove them)",
        ]
        emulator.set_config(scopes=tuple(
            s for s in all_scopes_but(emulator, "") if not s.startswith("crm.objects.deals.")
        ))
        code = main(["doctor", "--project", str(root), "--base-url", proxy.base_url])
        out = capsys.readouterr().out
    assert code == 1, out
    assert lines_of(out, "fail") == [
        "fail  scopes: the token may not read deals: grant the private app "
        "crm.objects.deals.read or crm.objects.deals.sensitive.read.v2",
    ]


SCHEMA = """\
schema:
  properties:
    companies:
      demo_segment:
        label: Demo segment
        type: enumeration
        options: [{value: smb, label: SMB}, {value: ent, label: Enterprise}]
  pipelines:
    deals:
      emea:
        label: EMEA Sales
        stages:
          open: {label: Open, probability: 0.2}
          won: {label: Won, probability: 1.0}
"""


def test_the_schema_diff_in_one_line(run: Run, emulator: Any, tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / "schema.yaml").write_text(SCHEMA)
    code, out = doctor(run, root)
    assert code == 0, out
    assert "ok    schema: apply will create 1 pipeline, 1 property" in out
    assert run("apply", "--project", root, "--auto-approve")[0] == 0
    code, out = doctor(run, root)
    assert "ok    schema: the portal has the schema the spec declares" in out


def test_schema_writes_need_the_schema_scope(run: Run, emulator: Any, tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / "schema.yaml").write_text(SCHEMA)
    assert run("apply", "--project", root, "--auto-approve")[0] == 0  # (the markers exist)
    (root / "schema.yaml").write_text(SCHEMA.replace("type: enumeration", "type: enumeration\n"
                                                     "        description: Segment"))
    emulator.set_config(scopes=all_scopes_but(emulator, "crm.schemas.companies.write"))
    code, out = doctor(run, root)
    assert code == 1, out
    assert lines_of(out, "fail") == [
        "fail  scopes: the token may not change the companies schema (properties, pipelines): "
        "grant the private app crm.schemas.companies.write",
    ]


def test_a_cache_that_cannot_be_sealed_is_a_warning_only(
    run: Run, emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    code, out = doctor(run, project(tmp_path))
    assert code == 0, out
    (line,) = lines_of(out, "warn")
    assert line.startswith("warn  cache: ") and "cannot be the cache's seal key" in line, line

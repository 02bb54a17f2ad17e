"""The GitOps workflow, driven job by job as GitHub runs it (``actions_runner``), for a repo
with three sandboxes and a protected production, each its own emulator with search lag,
and no state kept between jobs: a pull request's read-only plans, a merge that applies
exactly those plans, a stale plan refused on merge and applied only once approved, a
fork's pull request with no secrets, a re-seed by hand, and drift reported as issues.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconciler.cli.base import main
from tests.targets.actions_runner import Actions
from tests.targets.github_fake import FakeGitHub
from tests.targets.gitops_portals import (
    PORTALS,
    SANDBOXES,
    edit_in_hubspot,
    read_only,
    records,
    token_env,
)

pytestmark = pytest.mark.fake_clock


def pull_request(actions: Actions, github: FakeGitHub, portals: dict[str, Any],
                 secrets: dict[str, str], head: str, *, fork: bool = False) -> tuple[int, Any]:
    number = github.open_pull_request(head, fork=fork)
    with read_only(portals):
        run = actions.run("pull_request", sha=head, pull_request=number, secrets=secrets)
    return number, run


def test_a_pull_request_plans_every_target_read_only_and_the_merge_applies_those_plans(
    actions: Actions, github: FakeGitHub, portals: dict[str, Any], secrets: dict[str, str],
) -> None:
    number, pr = pull_request(actions, github, portals, secrets, "head-1")
    assert pr.result("validate") == "success", pr.jobs("validate")[0].log
    legs = pr.jobs("plan")
    assert sorted(leg.target for leg in legs) == sorted(PORTALS)
    for leg in legs:
        assert leg.result == "success", leg.log
        assert leg.max_parallel == 4
    comments = github.pulls[number].comments
    assert set(comments) == {f"reconciler-plan-{t}" for t in PORTALS}
    assert "15 to create" in comments["reconciler-plan-sandbox-west"]
    assert "7 to create" in comments["reconciler-plan-production"]
    assert all(records(p) == {} for p in portals.values())  # plans write nothing

    github.merge(number, "merge-1")
    merge = actions.run("push", sha="merge-1", secrets=secrets)
    for target in SANDBOXES:
        leg = merge.leg("apply", target)
        assert leg.result == "success", leg.log
        assert leg.ran("reconciler", "apply", "--target", target, "--plan", "reviewed/plan.json")
        assert not leg.ran("reconciler", "plan"), "the reviewed plan, not a new one"
        assert len(records(portals[target])) == 15
    production = merge.leg("apply-protected", "production")
    assert production.result == "success" and production.environment == "production"
    assert len(records(portals["production"])) == 7
    assert merge.outputs("replans")["targets"] == "[]"
    assert merge.result("apply-replanned") == "skipped"
    groups = {leg.concurrency for leg in [*merge.jobs("apply"), production]}
    assert len(groups) == 4  # one per portal


def plain(markdown: str) -> str:
    """Markdown without its escapes (``nw\\-jane``)."""
    return markdown.replace("\\", "")


def seed(repo: Path, portals: dict[str, Any], secrets: dict[str, str],
         monkeypatch: pytest.MonkeyPatch) -> None:
    """Every portal holds the spec (applied from a laptop; the first test merges it)."""
    for target, portal in portals.items():
        monkeypatch.setenv(token_env(target), secrets[token_env(target)])
        code = main(["apply", "--project", str(repo), "--target", target, "--auto-approve"],
                    clock=portal.clock)
        assert code == 0
    assert len(records(portals["production"])) == 7


def edit_spec(repo: Path, name: str, old: str, new: str) -> None:
    path = repo / "accounts" / name
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_a_reviewed_plan_the_portal_no_longer_bears_out_is_planned_again_and_waits_for_approval(
    actions: Actions, github: FakeGitHub, portals: dict[str, Any], secrets: dict[str, str],
    repo: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    seed(repo, portals, secrets, monkeypatch)
    # a pull request moves Northwind (every portal has it) to Berlin
    edit_spec(repo, "northwind.yaml", "city: Hamburg", "city: Berlin")
    number, pr = pull_request(actions, github, portals, secrets, "berlin-head")
    assert "| companies/northwind | `city`: " in github.pulls[number].comments[
        "reconciler-plan-production"]
    # before it is merged, someone edits that record in HubSpot on sandbox-east and production
    for target in ("sandbox-east", "production"):
        edit_in_hubspot(portals[target], "companies/northwind", city="Bremen")
    github.merge(number, "berlin-merge")
    asked: list[tuple[str, str | None]] = []

    def approve(environment: str, leg: Any) -> bool:
        asked.append((leg.job, leg.target))
        # production's plan made on merge is not approved (yet); sandbox-east's is
        return (leg.job, leg.target) != ("apply-replanned", "production")

    merge = actions.run("push", sha="berlin-merge", secrets=secrets, approve=approve)
    west = merge.leg("apply", "sandbox-west")  # untouched there: the reviewed plan holds
    assert west.ran("reconciler", "apply", "--target", "sandbox-west", "--plan",
                    "reviewed/plan.json", "--state", "reviewed/plan-state.json")
    assert not west.ran("reconciler", "plan")
    for target, job in (("sandbox-east", "apply"), ("production", "apply-protected")):
        leg = merge.leg(job, target)
        assert leg.result == "success", leg.log
        assert "companies/northwind: city is 'Bremen' now, the plan saw 'Hamburg'" in leg.log
        assert leg.ran("reconciler", "plan", "--target", target)  # planned again
        assert any(f"({target})::The plan the pull request showed" in a for a in leg.annotations)
        comment = github.pulls[number].comments[f"reconciler-replan-{target}"]
        assert "no longer holds" in comment and "| companies/northwind | `city`: " in comment
    waiting = {leg.target: leg.environment for leg in merge.jobs("apply-replanned")}
    assert waiting == {"sandbox-east": "reconcile-approval", "production": "production"}
    # each asked first; production twice (its merge job, then the plan made again)
    assert asked == [("apply-protected", "production"), ("apply-replanned", "sandbox-east"),
                     ("apply-replanned", "production")]
    east = merge.leg("apply-replanned", "sandbox-east")
    assert east.result == "success", east.log
    assert east.ran("reconciler", "apply", "--target", "sandbox-east", "--plan",
                    "replan/plan.json", "--state", "replan/plan-state.json")
    city = {t: records(p)["companies/northwind"]["properties"]["city"] for t, p in portals.items()}
    # approved plans applied; production's, not approved, is not: it applies no plan unseen
    assert city == {"sandbox-east": "Berlin", "sandbox-west": "Berlin", "sandbox-north": "Berlin",
                    "production": "Bremen"}


def test_a_fork_pull_request_gets_no_secrets_and_plans_offline_then_merging_asks_approval(
    actions: Actions, github: FakeGitHub, portals: dict[str, Any], secrets: dict[str, str],
) -> None:
    number, pr = pull_request(actions, github, portals, secrets, "fork-head", fork=True)
    assert pr.result("validate") == "success"
    for leg in pr.jobs("plan"):
        assert leg.result == "success", leg.log
        assert leg.ran("reconciler", "plan", "--target", leg.target, "--offline")
        assert any("a pull request from a fork gets no secrets" in a for a in leg.annotations)
        assert "Offline plan" in leg.summary
    assert github.pulls[number].comments == {}  # its token may not comment
    assert pr.artifacts == {}  # an offline plan is never applied
    github.merge(number, "fork-merge")
    merge = actions.run("push", sha="fork-merge", secrets=secrets,
                        approve=lambda environment, leg: leg.job != "apply-replanned")
    for leg in [*merge.jobs("apply"), *merge.jobs("apply-protected")]:
        assert "No plan from a pull request was found" in leg.summary
        assert f"reconciler-replan-{leg.target}" in github.pulls[number].comments
    assert all(records(p) == {} for p in portals.values())  # nothing applied unseen


def test_a_pull_request_with_a_spec_error_gets_it_as_an_annotation_on_its_line(
    actions: Actions, github: FakeGitHub, portals: dict[str, Any], secrets: dict[str, str],
    repo: Path,
) -> None:
    edit_spec(repo, "globex.yaml", "amount: 12500.50", "amout: 12500.50")
    _, pr = pull_request(actions, github, portals, secrets, "bad-head", fork=True)
    (validate,) = pr.jobs("validate")
    assert validate.result == "failure"
    assert any(a.startswith("::error file=accounts/globex.yaml,line=") for a in
               validate.annotations), validate.log
    assert pr.result("plan") == "skipped"


def test_a_dispatch_reseeds_one_sandbox_or_all_and_destroying_needs_the_name_typed(
    actions: Actions, github: FakeGitHub, portals: dict[str, Any], secrets: dict[str, str],
) -> None:
    run = actions.run("workflow_dispatch", sha="main-1", secrets=secrets,
                      inputs={"action": "reseed", "target": "sandbox-west"})
    (leg,) = run.jobs("reseed")
    assert leg.target == "sandbox-west" and leg.result == "success", leg.log
    assert len(records(portals["sandbox-west"])) == 15
    assert records(portals["sandbox-east"]) == {} and records(portals["production"]) == {}
    before = {a: r["id"] for a, r in records(portals["sandbox-west"]).items()}

    refused = actions.run("workflow_dispatch", sha="main-1", secrets=secrets,
                          inputs={"action": "destroy-and-reseed", "target": "sandbox-west",
                                  "confirm": "sandbox-wets"})
    assert refused.result("validate") == "failure" and refused.result("reseed") == "skipped"
    assert any("type 'sandbox-west' in the confirmation" in a
               for a in refused.jobs("validate")[0].annotations)
    protected = actions.run("workflow_dispatch", sha="main-1", secrets=secrets,
                            inputs={"action": "reseed", "target": "production"})
    assert protected.result("reseed") == "skipped"
    assert any("protected one changes through pull requests only" in a
               for a in protected.jobs("validate")[0].annotations)

    fresh = actions.run("workflow_dispatch", sha="main-1", secrets=secrets,
                        inputs={"action": "destroy-and-reseed", "target": "sandbox-west",
                                "confirm": "sandbox-west"})
    (leg,) = fresh.jobs("reseed")
    assert leg.result == "success", leg.log
    after = {a: r["id"] for a, r in records(portals["sandbox-west"]).items()}
    assert set(after) == set(before) and not set(after.values()) & set(before.values())

    every = actions.run("workflow_dispatch", sha="main-1", secrets=secrets,
                        inputs={"action": "reseed", "target": "all"})
    assert sorted(leg.target for leg in every.jobs("reseed")) == sorted(SANDBOXES)
    assert all(len(records(portals[t])) == 15 for t in SANDBOXES)
    assert records(portals["production"]) == {}  # never re-seeded by hand


def test_drift_opens_updates_and_closes_one_issue_per_target(
    actions: Actions, github: FakeGitHub, portals: dict[str, Any], secrets: dict[str, str],
    repo: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    seed(repo, portals, secrets, monkeypatch)
    edit_in_hubspot(portals["sandbox-north"], "companies/globex", city="Springfield")
    edit_in_hubspot(portals["production"], "contacts/nw-jane-doe", jobtitle="CEO")
    with read_only(portals):
        daily = actions.run("schedule", sha="main-1", secrets=secrets, schedule="0 6 * * *")
    assert sorted(leg.target for leg in daily.jobs("drift")) == sorted(PORTALS)
    assert all(leg.result == "success" for leg in daily.jobs("drift"))  # drift is no failure
    opened = {i.title: i for i in github.open_issues("reconciler-drift")}
    assert set(opened) == {"reconciler: drift on sandbox-north", "reconciler: drift on production"}
    north = opened["reconciler: drift on sandbox-north"]
    assert "companies/globex" in plain(north.body)
    assert "contacts/nw-jane-doe" in plain(opened["reconciler: drift on production"].body)

    def check_north() -> None:
        with read_only(portals):
            run = actions.run("workflow_dispatch", sha="main-1", secrets=secrets,
                              inputs={"action": "drift", "target": "sandbox-north"})
        (leg,) = run.jobs("drift")
        assert leg.result == "success", leg.log

    edit_in_hubspot(portals["sandbox-north"], "contacts/gx-hank-scorpio", jobtitle="Villain")
    check_north()
    assert len(github.issues) == 2 and len(north.bodies) == 2  # updated, not opened again
    assert "contacts/gx-hank-scorpio" in plain(north.body)

    edit_in_hubspot(portals["sandbox-north"], "companies/globex", city="Munich")
    edit_in_hubspot(portals["sandbox-north"], "contacts/gx-hank-scorpio", jobtitle="CEO")
    check_north()
    assert north.state == "closed" and "No drift on sandbox-north" in north.comments[-1]
    assert [i.title for i in github.open_issues("reconciler-drift")] == [
        "reconciler: drift on production"]

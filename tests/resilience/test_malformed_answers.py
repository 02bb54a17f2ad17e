"""2xx answers of the wrong shape, end to end: the real CLI talks to a rewriting proxy
(``tests/proxy.py``) in front of the emulator. A read that cannot be used stops the run
(exit 1, naming the endpoint) with nothing written; a write whose answer cannot be used
is "outcome unknown" and is settled by marker, so nothing is ever made twice."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.cli.base import main
from reconciler.emulator.embedded import Emulator
from tests.proxy import Answer, RewritingProxy

from .conftest import GRACE_ENV, STATE, TOKEN_ENV, CliRun, assert_exactly, bulk_spec, write_project

pytestmark = [
    pytest.mark.contract(False),  # the proxy's answers are not HubSpot's, on purpose
    pytest.mark.fake_clock,  # retries and the recovery grace are waited out in no time
]

MEETINGS = 6
CALLS = 3


@pytest.fixture
def proxy(emulator: Emulator) -> Iterator[RewritingProxy]:
    with RewritingProxy(emulator.base_url) as running:
        yield running


@pytest.fixture
def via(
    emulator: Emulator, proxy: RewritingProxy, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Callable[..., CliRun]:  # fmt: skip
    """The real CLI, in this process, talking to HubSpot (the emulator) through the proxy,
    on the emulator's clock."""
    monkeypatch.setenv(TOKEN_ENV, emulator.token)
    monkeypatch.setenv(GRACE_ENV, "1")
    monkeypatch.setenv("NO_COLOR", "1")

    def invoke(*args: str | Path) -> CliRun:
        code = main([*map(str, args), "--base-url", proxy.base_url], clock=emulator.clock)
        captured = capsys.readouterr()
        return CliRun(code, captured.out, captured.err)

    return invoke


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path / "Answers", {
        "reconciler.yaml": "name: Answers\n",
        "spec.yaml": bulk_spec(MEETINGS, CALLS),
    })  # fmt: skip


def body(value: Any) -> Callable[[Answer], Answer]:
    return lambda answer: answer.with_body(value)


def apply(via: Callable[..., CliRun], project: Path) -> CliRun:
    return via("apply", "--project", project, "--auto-approve")


def portal_ids(emulator: Emulator) -> dict[str, list[str]]:
    return {t: sorted(str(r["id"]) for r in emulator.records(t)) for t in ("meetings", "calls")}


def assert_no_traceback(run: CliRun) -> None:
    assert "Traceback" not in run.err and "Internal error" not in run.err, run.err


# ---- reads -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ({}, "'results' is missing"),
        ({"status": "COMPLETE", "results": None}, "'results' is null, not a list"),
        ([], "the body is a list, not an object"),
        ({"results": "oops"}, "'results' is a string, not a list"),
    ],
)
def test_a_batch_read_without_results_stops_the_apply_with_nothing_written(
    via: Callable[..., CliRun], proxy: RewritingProxy, emulator: Emulator, project: Path,
    answer: Any, reason: str,
) -> None:  # fmt: skip
    assert apply(via, project).code == 0
    state_before = (project / STATE).read_bytes()
    ids_before = portal_ids(emulator)
    emulator.clear_requests()

    proxy.rewrite("POST", "*/batch/read", body(answer))
    # (in full: the apply left the refresh what it wrote, and an incremental one reads none)
    run = via("apply", "--project", project, "--auto-approve", "--refresh=full")

    assert run.code == 1, run.out + run.err
    assert_no_traceback(run)
    path = next(p for m, p in proxy.rewritten if m == "POST")
    assert f"POST {path}: the answer cannot be used ({reason})" in run.err
    assert "to create" not in run.out and "to archive" not in run.out  # no plan was made
    writes = [r for r in emulator.requests() if r["method"] != "GET" and not r["path"].endswith(
        ("/batch/read", "/search"))]
    assert writes == [], [r["path"] for r in writes]
    assert (project / STATE).read_bytes() == state_before
    assert portal_ids(emulator) == ids_before

    proxy.clear()
    again = via("plan", "--project", project)
    assert again.code == 0 and "No changes." in again.out, again.out + again.err


@pytest.mark.parametrize("answer", [[], {"results": "oops"}, "oops"])
@pytest.mark.parametrize(
    ("method", "pattern"),
    [("GET", "/crm/v3/properties/*"), ("POST", "*/search"), ("GET", "/crm/v3/owners")],
)
def test_any_read_answered_with_a_list_or_oops_is_exit_1_not_3(
    via: Callable[..., CliRun], proxy: RewritingProxy, emulator: Emulator, tmp_path: Path,
    method: str, pattern: str, answer: Any,
) -> None:  # fmt: skip
    project = write_project(tmp_path / "reads", {
        "reconciler.yaml": "name: reads\n",
        "spec.yaml": bulk_spec(2, 0) + "contacts:\n  ann:\n    email: ann@example.com\n"
                     "    owner: alice@example.com\n",
    })  # fmt: skip
    if pattern == "*/search":
        # searches are made when settling a write whose answer was lost
        proxy.rewrite("POST", "*/batch/create", body({}), times=1)
    proxy.rewrite(method, pattern, body(answer))
    run = apply(via, project)
    assert proxy.rewritten, "the rewritten endpoint was never asked"
    assert run.code == 1, run.out + run.err
    assert_no_traceback(run)
    path = next(p for m, p in proxy.rewritten if m == method and not p.endswith("/batch/create"))
    assert f"{method} {path}: the answer cannot be used (" in run.err


# ---- writes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("answer", [{}, [], {"results": "oops"}, {"status": "COMPLETE"}])
def test_a_create_answered_unusably_after_commit_makes_no_duplicate(
    via: Callable[..., CliRun], proxy: RewritingProxy, emulator: Emulator, project: Path,
    answer: Any,
) -> None:  # fmt: skip
    proxy.rewrite("POST", "*/batch/create", body(answer))
    first = apply(via, project)
    assert_no_traceback(first)
    assert first.code in (0, 1), first.out + first.err
    created = [p for m, p in proxy.rewritten]
    assert created, "no create was rewritten"

    proxy.clear()
    second = apply(via, project)
    assert second.code == 0, second.out + second.err
    third = via("plan", "--project", project)
    assert "No changes." in third.out, third.out
    assert_exactly(emulator, project, {"meetings": MEETINGS, "calls": CALLS})
    creates = [r for r in emulator.requests() if r["path"].endswith("/batch/create")]
    assert len(creates) == len(created)  # what was written blind was never resent


def test_create_results_claiming_each_others_inputs_are_not_mapped(
    via: Callable[..., CliRun], proxy: RewritingProxy, emulator: Emulator, project: Path
) -> None:
    def rotate(answer: Answer) -> Answer:
        # every result names the trace id of the next input: ids and markers no longer match
        results = answer.body["results"]
        traces = [r.get("objectWriteTraceId") for r in results]
        rotated = [
            dict(r, objectWriteTraceId=traces[(n + 1) % len(traces)]) for n, r in enumerate(results)
        ]
        return answer.with_body(dict(answer.body, results=rotated))

    proxy.rewrite("POST", "*/batch/create", rotate)
    first = apply(via, project)
    assert_no_traceback(first)
    proxy.clear()
    again = apply(via, project)
    assert again.code == 0, again.out + again.err
    assert_exactly(emulator, project, {"meetings": MEETINGS, "calls": CALLS})
    # every address maps to the record that carries its own marker
    state = __import__("json").loads((project / STATE).read_text())
    by_id = {str(r["id"]): r for t in ("meetings", "calls") for r in emulator.records(t)}
    for address, recorded in state["records"].items():
        assert by_id[str(recorded["id"])]["properties"]["reconciler_key"].endswith(f":{address}")

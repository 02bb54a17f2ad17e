"""Injected faults: 5xx before writing, drops before the write and after the commit, 429
storms, slow answers; seeded, settable at runtime, never on /__emulator/."""

from __future__ import annotations

import httpx
import pytest

from reconciler.emulator.config import FaultConfig, parse_faults
from reconciler.emulator.embedded import Emulator
from reconciler.errors import ConfigError

CREATE = "/crm/v3/objects/meetings/batch/create"
ONE = {"inputs": [{"properties": {"hs_timestamp": "2026-01-05T10:00:00Z"}, "associations": [],
                   "objectWriteTraceId": "k1"}]}


def test_drop_after_commit_really_commits(api: httpx.Client, emulator: Emulator) -> None:
    emulator.set_faults(FaultConfig(drop_after_commit=1.0))
    with pytest.raises(httpx.RemoteProtocolError):
        api.post(CREATE, json=ONE)
    assert len(emulator.records("meetings")) == 1
    assert emulator.requests()[-1]["dropped"] == "after_commit"


def test_drop_before_write_writes_nothing(api: httpx.Client, emulator: Emulator) -> None:
    emulator.set_faults(FaultConfig(drop_before_write=1.0))
    with pytest.raises(httpx.RemoteProtocolError):
        api.post(CREATE, json=ONE)
    assert emulator.records("meetings") == []
    emulator.set_faults(FaultConfig())
    assert api.post(CREATE, json=ONE).status_code == 201  # the client recovers on a new connection


def test_5xx_writes_nothing_and_429_storm(api: httpx.Client, emulator: Emulator) -> None:
    emulator.set_faults(FaultConfig(error_5xx=1.0))
    response = api.post(CREATE, json=ONE)
    assert response.status_code in (500, 502, 503, 504)
    assert emulator.records("meetings") == []
    emulator.set_faults(FaultConfig(rate_limit_429=1.0))
    storm = [api.get("/crm/v3/objects/meetings") for _ in range(3)]
    assert {r.status_code for r in storm} == {429}
    assert storm[0].json()["policyName"] == "TEN_SECONDLY_ROLLING"


def test_faults_are_seeded_and_share_based(api: httpx.Client, emulator: Emulator) -> None:
    def statuses() -> list[int]:
        emulator.set_faults(FaultConfig(error_5xx=0.5), seed=7)
        return [api.get("/crm/v3/objects/meetings").status_code for _ in range(30)]

    first = statuses()
    assert first == statuses()
    assert 5 < sum(1 for s in first if s >= 500) < 25


def test_slow_answers(api: httpx.Client, emulator: Emulator) -> None:
    emulator.set_faults(FaultConfig(slow=1.0, slow_seconds=0.3))
    with pytest.raises(httpx.ReadTimeout):
        api.get("/crm/v3/objects/meetings", timeout=0.1)


def test_inspection_api_sets_faults_and_is_never_faulted(emulator: Emulator) -> None:
    base = emulator.base_url + "/__emulator"
    answer = httpx.put(base + "/faults", json={"spec": "5xx=1"})
    assert answer.status_code == 200 and answer.json()["error_5xx"] == 1.0
    assert httpx.get(base + "/health").status_code == 200
    assert httpx.get(base + "/records", params={"type": "meetings"}).json() == {"meetings": []}
    assert httpx.post(base + "/reset").status_code == 204
    assert emulator.config.faults == FaultConfig()


def test_parse_faults() -> None:
    faults, seed = parse_faults("5xx=0.1,drop_after_commit=0.05,429=0.3,slow=0.1:2s,seed=7")
    assert faults == FaultConfig(error_5xx=0.1, drop_after_commit=0.05, rate_limit_429=0.3, slow=0.1, slow_seconds=2.0)
    assert seed == 7
    assert parse_faults("slow=1:250ms")[0].slow_seconds == 0.25
    assert parse_faults("off") == (FaultConfig(), None)
    for bad in ("bogus=1", "5xx", "5xx=abc", "5xx=2", "429=0.5:2s", "5xx=0.6,429=0.6"):
        with pytest.raises(ConfigError):
            parse_faults(bad)

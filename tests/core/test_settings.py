"""Resolving a target from reconciler.yaml, flags and the environment."""

from __future__ import annotations

import pytest

from reconciler.errors import ConfigError
from reconciler.model import ProjectSettings
from reconciler.settings import read_token, resolve_target
from reconciler.workflow.options import RunOptions

PROJECT = ProjectSettings(
    root="/proj",
    name="demo",
    targets={
        "sandbox": {"token_env": "SANDBOX_TOKEN", "rate_limit": {"tier": "professional"},
                    "recovery_grace_seconds": 5, "api_version": "2026-03"},
    },
)


def test_local_is_the_embedded_emulator_without_limits() -> None:
    target = resolve_target(PROJECT, target_name=None, environ={})
    assert target.embedded and target.base_url is None
    assert target.rate_limit.requests_per_10s is None
    assert str(target.state_path) == "/proj/.reconciler/state/local.json"


def test_base_url_flag_points_local_at_another_server() -> None:
    target = resolve_target(PROJECT, target_name="local", base_url="http://127.0.0.1:9", environ={})
    assert not target.embedded and target.base_url == "http://127.0.0.1:9"


def test_remote_target_settings() -> None:
    target = resolve_target(PROJECT, target_name="sandbox", environ={})
    assert target.base_url == "https://api.hubapi.com"
    assert target.rate_limit.requests_per_10s == 190 and target.api_version == "2026-03"
    assert read_token(target, {"SANDBOX_TOKEN": "t"}) == "t"
    with pytest.raises(ConfigError, match="SANDBOX_TOKEN"):
        read_token(target, {"HUBSPOT_ACCESS_TOKEN": "wrong variable"})


def test_recovery_grace_comes_from_env_then_target_then_default() -> None:
    target = resolve_target(PROJECT, target_name="sandbox", environ={})
    local = resolve_target(PROJECT, target_name="local", environ={})
    options = RunOptions(project=PROJECT, environ={})
    assert options.grace_seconds(target) == 5
    assert options.grace_seconds(local) == 30
    env = RunOptions(project=PROJECT, environ={"RECONCILER_RECOVERY_GRACE_SECONDS": "2"})
    assert env.grace_seconds(target) == 2


@pytest.mark.parametrize("url", ["http://api.example.com", "http://10.0.0.5:8080", "ftp://x"])
def test_plain_http_off_loopback_is_refused(url: str) -> None:
    with pytest.raises(ConfigError):
        resolve_target(PROJECT, target_name="sandbox", base_url=url, environ={})


def test_unknown_target_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="local, sandbox"):
        resolve_target(PROJECT, target_name="prod", environ={})

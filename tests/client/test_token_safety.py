"""The access token: refused before any request when it cannot be a token, and never
printed in any form (raw, repr, JSON, URL-encoded, bytes) by an error or a log line."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from reconciler.cli.base import main
from reconciler.emulator.embedded import Emulator
from reconciler.errors import ApiError, ConfigError
from reconciler.hubspot.client import HubSpotClient
from reconciler.hubspot.connection import ClientSettings
from reconciler.hubspot.token import secret_forms
from tests.helpers import write_project
from tests.proxy import Answer, RewritingProxy

MALFORMED = [
    "pat-na1-1234\n5678-SECRET",
    "pat-na1-1234\r\n",
    "pat-na1-12 34-SECRET",
    "pat-na1-1234\t5678",
    "pat-na1-1234\x005678",
    "pat-na1-1234\x1b[31m5678",
    "pat-na1-1234\x7f5678",
    "pat-na1-1234\u00a05678",  # a no-break space pasted from a web page
    "pat-na1-1234\u201c5678",  # a typographic quote
    "pat-na1-\u00e9t\u00e9-SECRET",
]
#: What an environment variable can hold, less trailing whitespace (read_token strips it).
CLI_MALFORMED = [t for t in MALFORMED if "\x00" not in t and t == t.rstrip()]
#: Printable ASCII, but every escaping scheme changes it: quotes, backslash, slash, plus...
SPECIAL = "pat-na1-\"q'uo\\te/sl+ash=eq&amp;%25?hash#SECRET"


def all_forms(token: str) -> list[str]:
    forms = set(secret_forms(token))
    forms |= {repr(token), repr(token.encode("utf-8", "backslashreplace")),
              f"Bearer {token}", repr(f"Bearer {token}".encode("utf-8", "backslashreplace"))}
    return sorted(forms)


def leaks(text: str, token: str) -> list[str]:
    """The forms of the token (and its tell-tale tail) found in ``text``."""
    found = [form for form in all_forms(token) if form in text]
    return found + (["SECRET"] if "SECRET" in text else [])


@pytest.mark.parametrize("token", MALFORMED, ids=repr)
def test_a_malformed_token_is_refused_naming_the_variable(token: str) -> None:
    with pytest.raises(ConfigError) as caught:
        ClientSettings("https://api.hubapi.com", token, token_env="MY_PORTAL_TOKEN")
    message = str(caught.value)
    assert message.startswith("the access token in MY_PORTAL_TOKEN contains ")
    assert "was not sent" in message
    assert leaks(message, token) == []
    assert leaks(repr(caught.value), token) == []


def test_what_is_wrong_is_named() -> None:
    def reason(token: str) -> str:
        with pytest.raises(ConfigError) as caught:
            ClientSettings("https://api.hubapi.com", token)
        return str(caught.value).split(" contains ", 1)[1].split(",", 1)[0]

    assert reason("a\nb") == "a line break"
    assert reason("a b") == "a space or other whitespace"
    assert reason("a\u00e9b") == "a non-ASCII character"
    assert reason("a\x00b") == "a control character"


def test_every_form_of_the_token_is_scrubbed_from_errors_and_logs(
    make_client: Callable[..., HubSpotClient], hub: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    echo = " | ".join(all_forms(SPECIAL))
    with RewritingProxy(hub.base_url) as proxy:
        # a server (or a proxy) that echoes the credentials it got, in every encoding
        refusal = {"status": "error", "message": f"bad credentials: {echo}",
                   "category": "INVALID_AUTHENTICATION"}
        page = f"<html>{echo}</html>".encode()
        proxy.rewrite("GET", "/crm/v3/owners", lambda a: a.with_body(refusal), times=1)
        proxy.rewrite("GET", "/crm/v3/owners", lambda a: a.with_raw(page), times=1)
        client = make_client(base_url=proxy.base_url, token=SPECIAL)
        for _ in range(2):
            with pytest.raises(ApiError) as caught:
                client.list_owners()
            assert leaks(str(caught.value), SPECIAL) == [], str(caught.value)
            assert "***" in str(caught.value)
        # a log line of the HTTP libraries that would carry the header is scrubbed too
        logging.getLogger("httpx").debug("headers: Authorization: Bearer %s", SPECIAL)
        logging.getLogger("httpcore.http11").debug("header %r", f"Bearer {SPECIAL}".encode())
    assert "headers: Authorization: Bearer ***" in caplog.text
    assert leaks(caplog.text, SPECIAL) == []


# ---- the real CLI, every line it prints ----------------------------------------------------


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path / "tokens", {
        "reconciler.yaml": "name: tokens\n",
        "spec.yaml": "meetings:\n  kickoff:\n    title: Kickoff\n    start: 2026-12-01T10:00:00Z\n",
    })  # fmt: skip


@pytest.fixture
def cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Callable[..., tuple[int, str]]]:
    monkeypatch.setenv("NO_COLOR", "1")
    logger = logging.getLogger("reconciler")
    handlers, level = list(logger.handlers), logger.level

    def invoke(token: str, base_url: str, *args: str | Path) -> tuple[int, str]:
        monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", token)
        code = main([*map(str, args), "--base-url", base_url])
        captured = capsys.readouterr()
        return code, captured.out + captured.err

    yield invoke
    # --debug adds a handler on the captured stderr of this test: take it away again
    logger.handlers[:] = handlers
    logger.setLevel(level)


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
@pytest.mark.parametrize("token", CLI_MALFORMED, ids=repr)
def test_the_cli_refuses_a_malformed_token_before_any_request(
    cli: Callable[..., tuple[int, str]], emulator: Emulator, project: Path,
    caplog: pytest.LogCaptureFixture, token: str, debug: bool,
) -> None:  # fmt: skip
    caplog.set_level(logging.DEBUG)
    flags = ["--debug"] if debug else []
    code, output = cli(token, emulator.base_url, *flags, "plan", "--project", project)
    assert code == 1, output
    assert "HUBSPOT_ACCESS_TOKEN" in output
    assert leaks(output + caplog.text, token) == []
    assert emulator.requests() == []


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
def test_the_cli_never_prints_a_token_the_server_echoes(
    cli: Callable[..., tuple[int, str]], emulator: Emulator, project: Path,
    caplog: pytest.LogCaptureFixture, debug: bool,
) -> None:  # fmt: skip
    caplog.set_level(logging.DEBUG)
    echo = " | ".join(all_forms(SPECIAL))

    def echoing(answer: Answer) -> Answer:
        return answer.with_body({"status": "error", "message": f"token {echo} is not valid",
                                 "category": "INVALID_AUTHENTICATION"}, 401)

    with RewritingProxy(emulator.base_url) as proxy:
        proxy.rewrite("GET", "*", echoing)
        proxy.rewrite("POST", "*", echoing)
        flags = ["--debug"] if debug else []
        code, output = cli(SPECIAL, proxy.base_url, *flags, "plan", "--project", project)
    assert code == 1, output
    assert proxy.rewritten
    assert leaks(output + caplog.text, SPECIAL) == [], output

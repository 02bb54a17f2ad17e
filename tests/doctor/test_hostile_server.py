"""`reconciler doctor` against a hostile server (H3): token info, account details, the
daily usage and the property definitions answered with HTML, broken or wrong-shaped JSON,
absurd numbers, or a 500 that echoes the token. Each is one clear line and exit 1 (or a
warning where doctor can go on), never a traceback or exit 3, never the token printed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconciler.cli.base import main
from tests.doctor.test_doctor import project
from tests.proxy import Answer, RewritingProxy

_TOKEN_INFO = "/oauth/v2/private-apps/get/access-token-info"
_ACCOUNT = "/account-info/v3/details"
_USAGE = "/account-info/v3/api-usage/daily/private-apps"
_PROPERTIES = "/crm/v3/properties/*"

_HTML = b"<html><body><h1>502 Bad Gateway</h1></body></html>"


def _html(answer: Answer) -> Answer:
    return answer.with_raw(_HTML, 200, (("Content-Type", "text/html"),))


def _broken(answer: Answer) -> Answer:
    return answer.with_raw(b'{"hubId": 12', 200, (("Content-Type", "application/json"),))


def _list(answer: Answer) -> Answer:
    return answer.with_body([1, 2, 3])


def _absurd(answer: Answer) -> Answer:
    # (portalId -1e309 is -infinity to a JSON reader: OverflowError, exit 3, before)
    return answer.with_body({"hubId": 10**400, "portalId": -1e309, "scopes": ["crm.objects"],
                             "results": [{"name": "private-apps-api-calls-daily",
                                          "usageLimit": "many", "currentUsage": None}]})


def _echo(answer: Answer) -> Answer:
    """A 500 whose message quotes the request, token and all."""
    token = (answer.request_body or {}).get("tokenKey", "") if isinstance(
        answer.request_body, dict) else ""
    return answer.with_raw(f"<h1>500</h1><pre>tokenKey={token}</pre>".encode(), 500,
                           (("Content-Type", "text/html"),))


CASES = [(path, rewrite) for path in (_TOKEN_INFO, _ACCOUNT, _USAGE, _PROPERTIES)
         for rewrite in (_html, _broken, _list, _absurd, _echo)]


@pytest.mark.fake_clock  # (a 500 is retried: the waits take no time)
@pytest.mark.parametrize(("path", "rewrite"), CASES,
                         ids=[f"{p.split('/')[-1] or 'x'}-{r.__name__[1:]}" for p, r in CASES])
def test_a_hostile_answer_is_one_clear_line(
    run: Any, emulator: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], path: str,
    rewrite: Any,
) -> None:
    root = project(tmp_path)
    with RewritingProxy(emulator.base_url) as proxy:
        proxy.rewrite("POST" if path == _TOKEN_INFO else "GET", path, rewrite)
        code = main(["doctor", "--project", str(root), "--base-url", proxy.base_url],
                    clock=emulator.clock)
        assert proxy.rewritten, "the hostile answer was never sent"
    out, err = capsys.readouterr()
    assert code in (0, 1), out + err
    assert "Traceback" not in out + err and len(err.strip().splitlines()) <= 1, err
    assert emulator.token not in out + err

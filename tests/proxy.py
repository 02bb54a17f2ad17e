"""A loopback HTTP proxy for tests: forwards every request to an upstream (the emulator)
and lets a test rewrite chosen answers, to see what the reconciler makes of a 2xx of the
wrong shape, end to end through the real CLI.

    with RewritingProxy(emulator.base_url) as proxy:
        proxy.rewrite("POST", "*/batch/read", lambda answer: answer.with_body({}))
        run("plan", "--project", project, "--base-url", proxy.base_url)
        assert proxy.rewritten == [("POST", "/crm/v3/objects/meetings/batch/read")]

A rewrite is a function of the ``Answer`` (status, decoded JSON body, and the request it
answers) that returns the answer to send instead; ``path`` is matched with ``fnmatch``
against the path without the query. Headers a rewrite sets replace the upstream's of the
same name (``answer.with_headers(("X-HubSpot-RateLimit-Remaining", "-5"))``). ``stop()`` closes the proxy's socket and every open
connection, so from then on connections to it are refused (a server gone mid-run).
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpx

_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding",
     "proxy-connection", "te", "trailer", "upgrade", "host", "accept-encoding"}
)  # fmt: skip


@dataclass(frozen=True)
class Answer:
    """An upstream answer as a rewrite sees it, and what it returns."""

    method: str
    path: str  # without the query
    request_body: Any  # the request's JSON body (None if it had none)
    status: int
    body: Any  # the answer's JSON body (None if it had none, or it was not JSON)
    raw: bytes | None = None  # when set, sent verbatim instead of ``body`` as JSON
    #: answer headers to set, replacing the upstream's of the same name (any case)
    headers: tuple[tuple[str, str], ...] = ()

    def with_body(self, body: Any, status: int | None = None) -> Answer:
        """This answer with ``body`` (sent as JSON) and optionally another status."""
        return replace(self, body=body, raw=None, status=self.status if status is None else status)

    def with_raw(
        self, raw: bytes, status: int | None = None, headers: tuple[tuple[str, str], ...] = ()
    ) -> Answer:
        """This answer with ``raw`` sent verbatim (and extra ``headers``)."""
        return replace(self, raw=raw, status=self.status if status is None else status,
                       headers=headers)

    def with_headers(self, *headers: tuple[str, str]) -> Answer:
        """This answer (body and status unchanged) with ``headers`` set as well."""
        return replace(self, headers=self.headers + headers)


Rewrite = Callable[[Answer], Answer]


@dataclass
class _Rule:
    method: str
    pattern: str
    fn: Rewrite
    times: int | None  # None: every matching answer


class RewritingProxy:
    """A proxy on 127.0.0.1 (a free port) in front of ``upstream``; thread-safe."""

    def __init__(self, upstream: str) -> None:
        self._upstream = httpx.Client(base_url=upstream.rstrip("/"), timeout=60.0)
        self._rules: list[_Rule] = []
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        #: (method, path) of every answer a rule rewrote, in order.
        self.rewritten: list[tuple[str, str]] = []
        #: (method, path) of every request forwarded.
        self.forwarded: list[tuple[str, str]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
            name="rewriting-proxy", daemon=True,
        )
        self._thread.start()
        self._stopped = False

    def rewrite(self, method: str, path: str, fn: Rewrite, *, times: int | None = None) -> None:
        """Rewrite answers to ``method`` requests whose path matches ``path`` (fnmatch),
        every time, or only the next ``times``."""
        with self._lock:
            self._rules.append(_Rule(method.upper(), path, fn, times))

    def clear(self) -> None:
        """Forget every rule: answers pass through unchanged again."""
        with self._lock:
            self._rules.clear()

    def stop(self) -> None:
        """Close the listening socket and every open connection: from now on, refused."""
        if self._stopped:
            return
        self._stopped = True
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            for conn in list(self._connections):
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        self._thread.join(timeout=5)
        self._upstream.close()

    def __enter__(self) -> RewritingProxy:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ---- inside ------------------------------------------------------------------------

    def _rule_for(self, method: str, path: str) -> _Rule | None:
        with self._lock:
            for rule in self._rules:
                if rule.method == method and fnmatchcase(path, rule.pattern):
                    if rule.times is not None:
                        if rule.times <= 0:
                            continue
                        rule.times -= 1
                    return rule
        return None

    def _forward(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        path = urlsplit(target).path
        with self._lock:
            self.forwarded.append((method, path))
        upstream = self._upstream.request(method, target, headers=headers, content=body)
        answer_headers = {k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_BY_HOP}
        content = upstream.content
        rule = self._rule_for(method, path)
        if rule is None:
            return upstream.status_code, answer_headers, content
        try:
            decoded = json.loads(content) if content.strip() else None
            raw = None
        except ValueError:
            decoded, raw = None, content
        try:
            request_json = json.loads(body) if body.strip() else None
        except ValueError:
            request_json = None
        original = Answer(method, path, request_json, upstream.status_code, decoded, raw)
        answer = rule.fn(original)
        with self._lock:
            self.rewritten.append((method, path))
        if answer.raw is not None:
            content = answer.raw
        elif answer.body is None:
            content = b""
        else:
            content = json.dumps(answer.body).encode("utf-8")
            answer_headers["Content-Type"] = "application/json;charset=utf-8"
        for name, value in answer.headers:
            for upstream_name in [k for k in answer_headers if k.lower() == name.lower()]:
                del answer_headers[upstream_name]
            answer_headers[name] = value
        return answer.status, answer_headers, content

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                # Headers and body go out in two writes: without TCP_NODELAY, Nagle's
                # algorithm and the client's delayed ACK add ~40 ms to every answer.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                with proxy._lock:
                    proxy._connections.add(self.connection)

            def finish(self) -> None:
                with proxy._lock:
                    proxy._connections.discard(self.connection)
                super().finish()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass  # quiet: the tests read the emulator's request log instead

            def _relay(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                try:
                    status, answer_headers, content = proxy._forward(
                        self.command, self.path, headers, body
                    )
                except httpx.HTTPError:
                    self.close_connection = True  # upstream hung up: so do we
                    return
                self.send_response(status)
                for name, value in answer_headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _relay

        return Handler

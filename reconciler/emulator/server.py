"""The HTTP side: a threaded HTTP/1.1 server in front of ``EmulatorApp`` (``app``).

``ThreadingHTTPServer`` with keep-alive is enough (and can really drop a connection: we
close the socket without a byte of answer, before or after committing a write). Paths
under ``/__emulator/`` go to ``inspection`` (no token, no faults, no limits, not logged);
everything else to the app.
"""

from __future__ import annotations

import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from reconciler.emulator import inspection
from reconciler.emulator.app import Dropped, EmulatorApp
from reconciler.emulator.http_types import Reply, dumps, error_body


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: EmulatorHTTPServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without TCP_NODELAY, Nagle's algorithm
        # and the client's delayed ACK add ~40 ms to every answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the request log is the record (and it never holds the token)."""

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw_body = self.rfile.read(length) if length > 0 else b""
        try:
            reply = self._answer(raw_body)
        except Dropped:
            self._drop()
            return
        except Exception as exc:  # noqa: BLE001 - a bug in the emulator: answer 500, keep serving
            reply = Reply(
                500, error_body("INTERNAL_ERROR", f"Emulator bug: {type(exc).__name__}: {exc}")
            )
        payload = dumps(reply.body) if reply.body is not None else b""
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.body is not None:
            self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if payload:
            self.wfile.write(payload)

    def _answer(self, raw_body: bytes) -> Reply:
        split = urlsplit(self.path)
        if inspection.is_inspection(split.path):
            query = parse_qs(split.query, keep_blank_values=True)
            return inspection.handle(self.server.app, self.command, split.path, query, raw_body)
        return self.server.app.handle(self.command, self.path, self.headers, raw_body)

    def _drop(self) -> None:
        """Close the connection with no answer at all (the client sees a disconnect)."""
        self.close_connection = True
        try:
            self.connection.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
            )
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve


class EmulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: EmulatorApp) -> None:
        self.app = app
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up mid-answer is normal (timeouts, killed applies): stay quiet."""
        exc = sys.exc_info()[1]
        if isinstance(exc, (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)):
            return
        super().handle_error(request, client_address)

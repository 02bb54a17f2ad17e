"""The access token: checked before it is ever sent, and scrubbed from everything printed.

It is checked before any request (no whitespace, control or non-ASCII characters; the
error names the environment variable, never the value), and every printed form of it
(raw, repr, JSON, URL-encoded, bytes) is scrubbed from error messages and, while a
connection is open, from the log records of ``reconciler``, ``httpx`` and ``httpcore``.
"""

from __future__ import annotations

import json as jsonlib
import logging
from collections.abc import Callable
from urllib.parse import quote, quote_plus

from reconciler.errors import ConfigError

#: The loggers whose records are scrubbed of the token (httpcore logs per module).
_SCRUBBED_LOGGERS = (
    "reconciler", "reconciler.http", "httpx", "httpcore.connection", "httpcore.http11",
    "httpcore.http2", "httpcore.proxy", "httpcore.socks",
)  # fmt: skip


def check_token(token: str, source: str) -> None:
    """Refuse a token that cannot be a HubSpot access token, before it is ever sent.

    HubSpot's tokens are printable ASCII without spaces. Anything else (a pasted line
    break, a non-breaking space, a smart quote) would fail in the HTTP layer, whose error
    prints the header, token included. The message names ``source``, never the value.
    """
    if not token or not token.strip():
        raise ConfigError(f"no HubSpot access token given ({source} is empty)")
    if any(c in "\r\n" for c in token):
        problem = "a line break"
    elif any(c.isspace() for c in token):
        problem = "a space or other whitespace"
    elif not token.isascii():
        problem = "a non-ASCII character"
    elif any(ord(c) < 0x20 or ord(c) == 0x7F for c in token):
        problem = "a control character"
    else:
        return
    raise ConfigError(
        f"the access token in {source} contains {problem}, so it cannot be a HubSpot token "
        f"and was not sent. Set {source} again to the token exactly as HubSpot shows it "
        "(private app > Access token), without quotes or line breaks."
    )


#: A "token" shorter than this (a test's "t") is no secret, and scrubbing it would
#: garble every message it occurs in.
_MIN_SECRET_LENGTH = 6


def secret_forms(secret: str) -> list[str]:
    """Every way ``secret`` may be printed: raw, repr-escaped, JSON-escaped, URL-encoded,
    and as a bytes repr (``b'Bearer ...'``), longest first."""
    if len(secret) < _MIN_SECRET_LENGTH:
        return []
    forms = {
        secret,
        repr(secret)[1:-1],
        secret.encode("unicode_escape").decode("ascii"),
        jsonlib.dumps(secret)[1:-1],
        jsonlib.dumps(secret, ensure_ascii=False)[1:-1],
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        repr(secret.encode("utf-8", "backslashreplace"))[2:-1],
    }
    return sorted((f for f in forms if f), key=len, reverse=True)


class _Scrubber(logging.Filter):
    """Replaces every form of the token in a log record (installed per connection)."""

    def __init__(self, scrub: Callable[[str], str]) -> None:
        super().__init__()
        self._scrub = scrub

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is logging's business
            return True
        clean = self._scrub(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


class TokenScrubber:
    """Replaces every printed form of one token by ``***``: in text (``scrub``), and in
    the records of the scrubbed loggers between ``install`` and ``remove``."""

    def __init__(self, token: str) -> None:
        self._secrets = secret_forms(token)
        self._filter = _Scrubber(self.scrub)

    def scrub(self, text: str) -> str:
        """``text`` with every printed form of the token replaced by ``***``."""
        for form in self._secrets:
            if form in text:
                text = text.replace(form, "***")
        return text

    def install(self) -> None:
        for name in _SCRUBBED_LOGGERS:
            logging.getLogger(name).addFilter(self._filter)

    def remove(self) -> None:
        for name in _SCRUBBED_LOGGERS:
            logging.getLogger(name).removeFilter(self._filter)

"""The one error hierarchy of the reconciler.

    ReconcilerError                 anything the user can act on; the CLI renders it, exit 1
    ├── SpecError                   the project's YAML files are wrong (carries every SpecIssue)
    ├── ConfigError                 settings, targets, flags or environment are wrong
    ├── StateError                  the state file is corrupt, from a newer format, or stale
    │   └── StateLockedError        another apply holds the state lock
    ├── ApiError                    HubSpot (or the emulator) refused a request
    │   ├── RateLimitError          a 429; ``policy`` says which limit (DAILY stops the apply)
    │   └── InvalidPropertiesError  "Property values were not valid": ``problems``, one per property
    ├── UnusableAnswerError         a read got a 2xx whose body is not of the shape asked for
    ├── TransportError              the server could not be reached, or the connection dropped
    │   ├── UnreachableError        the first connection of a run failed (wrong URL, host down)
    │   ├── DeadlineError           no whole answer within the request's deadline (a read),
    │   │                           or a wait would pass it (nothing more was sent)
    │   └── AmbiguousWriteError     a write may or may not have committed (no answer, an
    │                               unusable answer, or no answer in time): recover by marker
    └── ApplyError                  an apply finished with records that failed

Foreign exceptions (httpx, ruamel, jsonschema) are turned into these where they enter:
nothing outside the module that talks to a library sees that library's exceptions.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class ReconcilerError(Exception):
    """Base of every error the CLI renders as a message instead of a traceback."""

    exit_code: int = 1


@dataclass(frozen=True, order=True)
class SpecIssue:
    """One problem in a spec or project file, with where to look and what to do."""

    file: str
    line: int  # 1-based
    column: int  # 1-based
    path: str  # dotted path into the document, e.g. "meetings.kickoff.start"; "" for the file
    message: str

    def render(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class SpecError(ReconcilerError):
    """The project's files do not describe a valid desired state."""

    def __init__(self, issues: list[SpecIssue]) -> None:
        self.issues = sorted(issues)
        count = len(self.issues)
        super().__init__(f"{count} problem{'s' if count != 1 else ''} found in the spec")


class ConfigError(ReconcilerError):
    """A setting, target, flag or environment variable is missing or wrong."""


class StateError(ReconcilerError):
    """The state file cannot be used as it is (corrupt, newer format, stale plan)."""


class StateLockedError(StateError):
    """Another process holds the lock on this state file."""


@dataclass
class ApiErrorDetail:
    message: str
    code: str | None = None
    context: dict[str, list[str]] = field(default_factory=dict)


class ApiError(ReconcilerError):
    """HubSpot answered with an error status."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        category: str | None = None,
        correlation_id: str | None = None,
        method: str = "",
        path: str = "",
    ) -> None:
        self.status = status
        self.category = category
        self.correlation_id = correlation_id
        self.method = method
        self.path = path
        self.api_message = message
        where = f" {method} {path}" if method else ""
        label = f" {category}" if category else ""
        super().__init__(f"HubSpot answered {status}{label}{where}: {message}")


class InvalidPropertiesError(ApiError):
    """HubSpot refused property values (``Property values were not valid: [...]``, facts §10).

    ``problems`` has one readable line per refused property, e.g.
    ``hs_prioritee: Property "hs_prioritee" does not exist``; the message shows them too.
    """

    def __init__(
        self, status: int, message: str, *, problems: tuple[str, ...], **kwargs: object
    ) -> None:
        self.problems = problems
        super().__init__(status, message, **kwargs)  # type: ignore[arg-type]


class RateLimitError(ApiError):
    """A 429. ``policy`` is HubSpot's policyName: TEN_SECONDLY_ROLLING, SECONDLY or DAILY."""

    def __init__(self, status: int, message: str, *, policy: str | None, **kwargs: object) -> None:
        self.policy = policy
        super().__init__(status, message, **kwargs)  # type: ignore[arg-type]


class TransportError(ReconcilerError):
    """The request did not get an answer (refused, timed out, connection dropped)."""


class UnusableAnswerError(ReconcilerError):
    """A read was answered with success, but the body is not what the endpoint returns.

    Never taken for "no records" (a batch read without ``results`` once made every record
    look deleted). ``method``/``path`` name the endpoint, ``reason`` what was wrong.
    """

    def __init__(self, method: str, path: str, reason: str) -> None:
        self.method = method
        self.path = path
        self.reason = reason
        super().__init__(
            f"{method} {path}: the answer cannot be used ({reason}); nothing was concluded "
            "from it. Check that the base URL points at HubSpot's API (or at a proxy that "
            "passes its answers through unchanged), then run the command again."
        )


class UnreachableError(TransportError):
    """The first connection of a run failed: nothing answers at that host and port."""


class DeadlineError(TransportError):
    """A request got no whole answer within its overall deadline (retries and waits
    included), or stopped because a wait before its next attempt would pass it."""


class AmbiguousWriteError(TransportError):
    """A non-idempotent write got no trustworthy answer: HubSpot may have committed it.

    Never resend such a write blindly (that is how duplicates are made); look the records
    up by their marker property first. ``trace_ids`` are the objectWriteTraceIds sent.
    """

    def __init__(self, message: str, *, trace_ids: list[str] | None = None) -> None:
        self.trace_ids = trace_ids or []
        super().__init__(message)


class ApplyError(ReconcilerError):
    """An apply ended with failed or skipped records; the state holds everything that succeeded."""

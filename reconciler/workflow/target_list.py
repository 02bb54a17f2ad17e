"""``reconciler targets``: the targets of ``reconciler.yaml``, as CI needs them.

The GitOps workflow computes its job matrix from this list (``targets --json``), so adding
a target to ``reconciler.yaml`` adds it to every job without editing the workflow. For
each target it names what a job needs besides the target's name: the environment variable
the token goes in (``token_env``), the repository secrets it comes from (the write token:
the secret named like ``token_env``; the read-only token for plans and drift:
``<TARGET>_READ_TOKEN``), the concurrency group that keeps two runs from writing to one
portal at once, and the GitHub environment that approves a plan made after review.

Names that cannot work in a workflow are refused here, each with its target: a token
variable a shell cannot export, a secret name GitHub does not allow, two targets whose
secrets would be one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from reconciler.errors import SpecError, SpecIssue
from reconciler.loading.files import PROJECT_FILES
from reconciler.loading.issues import PendingIssue
from reconciler.loading.locating import locate_all
from reconciler.loading.project_settings import display_path
from reconciler.model import ProjectSettings
from reconciler.settings import LOCAL_TARGET, resolve_target

#: the GitHub environment re-planned plans of unprotected targets wait in for approval
#: (a protected target's wait in the environment named after it)
APPROVAL_ENVIRONMENT = "reconcile-approval"
FORMAT_VERSION = 1

#: an environment variable a shell can export, and a GitHub secret's name (any case)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True, slots=True)
class ListedTarget:
    name: str
    protected: bool
    #: ``local`` (the embedded emulator, or a server of the developer's): never in CI
    local: bool
    portal_id: int | None
    token_env: str
    #: the repository secret holding the token that writes (apply, re-seed)
    write_secret: str
    #: the repository secret holding a read-only token (pull-request plans, drift)
    read_secret: str
    #: the state file, relative to the project when it is inside it
    state: str
    #: one per portal: two runs never write to one portal at once
    concurrency_group: str
    #: where a plan made after review (re-planned on merge) waits for approval
    approval_environment: str

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name, "protected": self.protected, "local": self.local,
            "portal_id": self.portal_id, "token_env": self.token_env,
            "write_secret": self.write_secret, "read_secret": self.read_secret,
            "state": self.state, "concurrency_group": self.concurrency_group,
            "approval_environment": self.approval_environment,
        }


def list_targets(project: ProjectSettings) -> list[ListedTarget]:
    """Every target of ``reconciler.yaml`` (and ``local``, which is always there), in the
    file's order; refused with every problem named when one cannot run in CI."""
    root = Path(project.root)
    names = [LOCAL_TARGET, *(n for n in project.targets if n != LOCAL_TARGET)]
    listed: list[ListedTarget] = []
    problems: list[tuple[tuple[str, ...], str]] = []  # (where in reconciler.yaml, what)
    for name in names:
        target = resolve_target(project, target_name=name, environ={})
        local = name == LOCAL_TARGET
        read_secret = f"{secret_stem(name)}_READ_TOKEN"
        group = (f"hubspot-portal-{target.portal_id}" if target.portal_id is not None
                 else f"hubspot-target-{name}")
        listed.append(ListedTarget(
            name=name, protected=target.protected, local=local, portal_id=target.portal_id,
            token_env=target.token_env, write_secret=target.token_env, read_secret=read_secret,
            state=_relative(target.state_path, root), concurrency_group=group,
            approval_environment=name if target.protected else APPROVAL_ENVIRONMENT,
        ))
        if not local:
            problems.extend(_problems(name, target.token_env, read_secret))
    problems.extend(_shared_secrets([t for t in listed if not t.local]))
    if problems:
        raise SpecError(_located(project, problems))
    return listed


def _located(
    project: ProjectSettings, problems: list[tuple[tuple[str, ...], str]]
) -> list[SpecIssue]:
    """Each problem at its place in ``reconciler.yaml`` (a target's ``token_env``, or its
    name), named as ``validate`` names the file."""
    root = Path(project.root)
    name = next((n for n in PROJECT_FILES if (root / n).is_file()), PROJECT_FILES[0])
    display = display_path(project.root, Path(name))
    pending = [
        PendingIssue(display, path, f"cannot run in the CI workflow: {message}",
                     at_key=len(path) == 2)
        for path, message in problems
    ]
    return locate_all(pending, {}, files={display: root / name}, root=root)


def secret_stem(target_name: str) -> str:
    """A target's name as the start of a GitHub secret name: ``sandbox-east`` →
    ``SANDBOX_EAST`` (secrets take letters, digits and ``_``)."""
    return re.sub(r"[^A-Z0-9_]", "_", target_name.upper())


def _problems(name: str, token_env: str, read_secret: str) -> list[tuple[tuple[str, ...], str]]:
    found: list[tuple[tuple[str, ...], str]] = []
    if not _NAME.fullmatch(token_env) or token_env.upper().startswith("GITHUB_"):
        found.append((("targets", name, "token_env"), (
            f"token_env {token_env!r} names its secret, and GitHub secret names are "
            "letters, digits and _, not starting with a digit or GITHUB_; rename it")))
    if read_secret[0].isdigit() or read_secret.startswith("GITHUB_"):
        found.append((("targets", name), (
            f"its read-only token's secret would be {read_secret}, which GitHub does not "
            "allow (a digit or GITHUB_ first); rename the target")))
    return found


def _shared_secrets(targets: list[ListedTarget]) -> list[tuple[tuple[str, ...], str]]:
    """Two targets whose read secrets would be one (``a-b`` and ``a_b``), or whose write
    secrets are one, or whose write token is a read secret of another: each portal needs
    its own."""
    found: list[tuple[tuple[str, ...], str]] = []
    seen: dict[str, str] = {}
    for target in targets:
        other = seen.get(target.read_secret)
        if other is not None:
            found.append((("targets", target.name), (
                f"it and target {other} would share the secret {target.read_secret}; "
                "rename one")))
        seen.setdefault(target.read_secret, target.name)
    writers: dict[str, str] = {}
    for target in targets:
        other = seen.get(target.write_secret)
        if other is not None:
            found.append((("targets", target.name, "token_env"), (
                f"token_env {target.write_secret} is the read secret of target {other}; "
                "give it another name")))
        # a token is one portal's: the other's apply would write into that portal
        sharer = writers.setdefault(target.write_secret, target.name)
        if sharer != target.name:
            found.append((("targets", target.name, "token_env"), (
                f"it and target {sharer} would share the write secret "
                f"{target.write_secret}; give each its own token_env")))
    return found


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


__all__ = ["APPROVAL_ENVIRONMENT", "FORMAT_VERSION", "ListedTarget", "list_targets",
           "secret_stem"]

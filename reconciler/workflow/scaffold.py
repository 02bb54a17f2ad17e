"""``reconciler init``: a new project, scaffolded rather than guessed.

A fresh folder gets ``reconciler.yaml`` (a name and the project's identity, commented), a
``.gitignore`` for ``.reconciler/``, a commented example spec that validates, with schema
modelines pointing at the schemas written next to it, and with ``gitops`` the CI workflow
of ``examples/gitops`` for the project's targets. An existing project gets what it lacks:
its id (``reconciler.identity.project_id``), the ``.gitignore`` entry, the workflow; files already
there are never overwritten.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from reconciler.errors import ConfigError
from reconciler.identity.project_id import (
    PROJECT_FILES,
    add_id,
    ignore_state,
    new_project_id,
    plain,
)

WORKFLOW_PATH = Path(".github") / "workflows" / "reconcile.yml"
EXAMPLE_SPEC = "example.yaml"
SCHEMAS = Path("schemas")

_PROJECT_TEMPLATE = """\
# yaml-language-server: $schema=schemas/project.schema.json
# The project's settings (`reconciler schema --project-file` prints what each key means;
# the schema modeline above makes an editor show it too).
name: {name}
# The project's identity: every record it makes in HubSpot carries it in its markers
# (reconciler_key, reconciler_project), so the portal knows which records are this
# project's even with no state file. Written once by `reconciler init`: commit it, never
# change it, never copy it into another project.
id: {id}
timezone: UTC
default_target: local
targets:
  # The embedded HubSpot emulator: `reconciler apply` on a laptop touches no portal.
  local: {{}}
{targets}"""

_TARGETS_COMMENTED = """\
  # A portal: a private app's token in the environment variable named by token_env.
  # sandbox:
  #   token_env: HUBSPOT_SANDBOX_TOKEN
  #   portal_id: 12345678        # optional: refuse to run against any other portal
  # production:
  #   token_env: HUBSPOT_PRODUCTION_TOKEN
  #   protected: true            # never archives anything
"""

_TARGETS_GITOPS = """\
  # The developer sandbox CI applies to on every merge to main (its token: a repository
  # secret of the same name).
  sandbox:
    token_env: HUBSPOT_SANDBOX_TOKEN
    # portal_id: 12345678      # optional: refuse to run against any other portal
  # The real portal, applied to after a reviewer approves; never archives anything.
  production:
    token_env: HUBSPOT_PRODUCTION_TOKEN
    protected: true
    # include: [accounts/showcase.yaml]   # only some files (or sections) of the spec
"""

_EXAMPLE = """\
# yaml-language-server: $schema=schemas/spec.schema.json
# An example spec file: edit it, rename it, add more (every *.yaml below this folder but
# reconciler.yaml is a spec file). `reconciler validate` checks them all, with FILE:LINE.
# Each record has a local key (acme, jane-doe): its address is <type>/<key>, e.g.
# contacts/jane-doe. Renamed a key? Say so, and the record is kept, not re-created:
#   moved: [{from: contacts/jane-doe, to: contacts/jane}]
# No longer want a record managed (it stays in HubSpot, never archived)?
#   removed: [contacts/jane-doe]
companies:
  acme:
    name: Acme GmbH
    domain: acme.example

contacts:
  jane-doe:
    first_name: Jane
    last_name: Doe
    email: jane.doe@acme.example
    associations:
      - company: acme

meetings:
  acme-kickoff:
    title: Acme kickoff
    start: +3d 10:00           # relative times are pinned when the meeting is created
    duration: 45m
    associations:
      - contact: jane-doe
      - company: acme
"""


@dataclass(frozen=True, slots=True)
class ScaffoldOutcome:
    root: Path
    project_file: Path
    project_id: str
    name: str
    #: files written, with what happened: "created", "updated" (id added), "appended"
    written: tuple[tuple[Path, str], ...]
    #: files that were there already and were left as they are
    kept: tuple[Path, ...]
    #: the project had its id already (only the missing pieces were added)
    had_id: bool


def init_project(root: Path, *, name: str | None = None, gitops: bool = False) -> ScaffoldOutcome:
    """Scaffold the project in ``root`` (created if missing), or give an existing one what
    it lacks. Refused when there is nothing to do (the project has its id already and no
    workflow was asked for), or when ``root`` is not a folder."""
    if root.exists() and not root.is_dir():
        raise ConfigError(f"{str(root)!r} is not a folder; give the project folder")
    root.mkdir(parents=True, exist_ok=True)
    written: list[tuple[Path, str]] = []
    kept: list[Path] = []
    existing = next((root / n for n in PROJECT_FILES if (root / n).is_file()), None)
    had_id = False
    if existing is None:
        project_file = root / PROJECT_FILES[0]
        name = name or root.resolve().name or "project"
        project_id = new_project_id(name)
        project_file.write_text(_PROJECT_TEMPLATE.format(
            name=plain(name), id=project_id,
            targets=_TARGETS_GITOPS if gitops else _TARGETS_COMMENTED,
        ), encoding="utf-8")
        written.append((project_file, "created"))
        written.extend(_schemas(root))  # the modelines point at them
        if not _has_spec(root):
            path = root / EXAMPLE_SPEC
            path.write_text(_EXAMPLE, encoding="utf-8")
            written.append((path, "created"))
    else:
        project_file = existing
        added = add_id(existing, root, refuse_if_present=not gitops)
        if added is None:
            had_id = True
            name, project_id = _name_and_id(existing, root)
        else:
            name, project_id = added
            written.append((existing, "updated"))
    outcome = ignore_state(root / ".gitignore")
    if outcome != "unchanged":
        written.append((root / ".gitignore", outcome))
    if gitops:
        workflow = root / WORKFLOW_PATH
        if workflow.exists():
            kept.append(workflow)
        else:
            text = gitops_workflow(_targets(root))
            workflow.parent.mkdir(parents=True, exist_ok=True)
            workflow.write_text(text, encoding="utf-8")
            written.append((workflow, "created"))
    return ScaffoldOutcome(root, project_file, project_id, name, tuple(written), tuple(kept),
                           had_id)


def _has_spec(root: Path) -> bool:
    from reconciler.loading.files import spec_files

    return next(iter(spec_files(root)), None) is not None


def _schemas(root: Path) -> list[tuple[Path, str]]:
    """The schemas the modelines name, for editors (``reconciler schema`` prints them)."""
    from reconciler.loading.schema import schema_text

    written: list[tuple[Path, str]] = []
    (root / SCHEMAS).mkdir(exist_ok=True)
    for kind in ("spec", "project"):
        path = root / SCHEMAS / f"{kind}.schema.json"
        if not path.exists():
            path.write_text(schema_text(kind), encoding="utf-8")
            written.append((path, "created"))
    return written


def _name_and_id(path: Path, root: Path) -> tuple[str, str]:
    from reconciler.loading.project_settings import load_project_settings

    settings = load_project_settings(root)
    assert settings.id is not None, path
    return settings.name, settings.id


# -- the CI workflow ---------------------------------------------------------------------


def workflow_template() -> str:
    """``examples/gitops/.github/workflows/reconcile.yml``, as shipped in the package."""
    return (resources.files("reconciler") / "templates" / "reconcile.yml").read_text("utf-8")


@dataclass(frozen=True, slots=True)
class _Role:
    name: str
    token_env: str


def _targets(root: Path) -> tuple[_Role, _Role]:
    """The target CI applies to on merge (the first unprotected one but ``local``) and the
    protected one applied to after approval (the first protected one)."""
    from reconciler.loading.project_settings import load_project_settings
    from reconciler.settings import DEFAULT_TOKEN_ENV

    settings = load_project_settings(root)
    merge: _Role | None = None
    approved: _Role | None = None
    for target_name, raw in settings.targets.items():
        if target_name == "local":
            continue
        role = _Role(target_name, str(raw.get("token_env") or DEFAULT_TOKEN_ENV))
        if raw.get("protected"):
            approved = approved or role
        else:
            merge = merge or role
    if merge is None or approved is None:
        raise ConfigError(
            "--gitops needs two targets in reconciler.yaml besides local: one CI applies to on "
            "every merge (not protected) and one protected, applied after a reviewer approves "
            "(see examples/gitops/reconciler.yaml); add them, then run `reconciler init "
            "--gitops` again"
        )
    if merge.token_env == approved.token_env:
        raise ConfigError(
            f"targets {merge.name} and {approved.name} both read their token from "
            f"{merge.token_env}; give each its own token_env (CI keeps one secret per portal)"
        )
    return merge, approved


def gitops_workflow(roles: tuple[_Role, _Role]) -> str:
    """The example workflow with the example's targets (sandbox, production) and their
    token variables replaced by this project's."""
    merge, approved = roles
    names = {"sandbox": merge.name, "production": approved.name}
    tokens = {
        "HUBSPOT_PRODUCTION_READ_TOKEN": _read_secret(approved.token_env),
        "HUBSPOT_PRODUCTION_TOKEN": approved.token_env,
        "HUBSPOT_SANDBOX_TOKEN": merge.token_env,
    }
    text = re.sub(
        r"\b(HUBSPOT_PRODUCTION_READ_TOKEN|HUBSPOT_PRODUCTION_TOKEN|HUBSPOT_SANDBOX_TOKEN)\b",
        lambda m: tokens[m.group(1)], workflow_template(),
    )
    return re.sub(r"(?<!\w)(sandbox|production)(?!\w)", lambda m: names[m.group(1)], text)


def _read_secret(token_env: str) -> str:
    """The secret for plans of the protected portal (a read-only token, by convention)."""
    stem = token_env[: -len("_TOKEN")] if token_env.endswith("_TOKEN") else token_env
    return f"{stem}_READ_TOKEN"


__all__ = ["ScaffoldOutcome", "gitops_workflow", "init_project", "workflow_template"]

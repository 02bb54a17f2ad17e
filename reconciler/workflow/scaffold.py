"""``reconciler init``: a new project, scaffolded rather than guessed.

A fresh folder gets ``reconciler.yaml`` (a name and the project's identity, commented), a
``.gitignore`` for ``.reconciler/``, a commented example spec that validates, with schema
modelines pointing at the schemas written next to it, and with ``gitops`` the CI workflow
of ``examples/gitops`` (the same for any number of targets: its matrix is computed from
``reconciler.yaml``) and the ``requirements.txt`` that pins the reconciler's version. An
existing project gets what it lacks: its id (``reconciler.identity.project_id``), the
``.gitignore`` entry, the workflow; files already there are never overwritten.
"""

from __future__ import annotations

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
from reconciler.workflow.target_list import ListedTarget, list_targets

WORKFLOW_PATH = Path(".github") / "workflows" / "reconcile.yml"
REQUIREMENTS = Path("requirements.txt")
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
  # Every target below is a job of the CI workflow (add as many as you have portals): its
  # token comes from the repository secret named like token_env (write, for applies) and
  # from <TARGET>_READ_TOKEN (read-only, for pull-request plans and drift).
  # A developer sandbox, applied to on every merge to main.
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
    #: --gitops: the targets the workflow runs for, with the secrets each needs
    ci_targets: tuple[ListedTarget, ...] = ()


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
    ci_targets: tuple[ListedTarget, ...] = ()
    if gitops and existing is not None:  # refused before anything is written
        ci_targets = _ci_targets(root)
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
        ci_targets = ci_targets or _ci_targets(root)
        for relative, text in ((WORKFLOW_PATH, workflow_template()),
                               (REQUIREMENTS, requirements_template())):
            path = root / relative
            if path.exists():
                kept.append(path)
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            written.append((path, "created"))
    return ScaffoldOutcome(root, project_file, project_id, name, tuple(written), tuple(kept),
                           had_id, ci_targets)


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
    """``examples/gitops/.github/workflows/reconcile.yml``, as shipped in the package. The
    same for every project: its job matrix comes from ``reconciler targets --json``."""
    return _template("reconcile.yml")


def requirements_template() -> str:
    """``examples/gitops/requirements.txt``: the one pin of the reconciler's version, which
    the workflow and people install the same way."""
    return _template("requirements.txt")


def _template(name: str) -> str:
    return (resources.files("reconciler") / "templates" / name).read_text("utf-8")


def _ci_targets(root: Path) -> tuple[ListedTarget, ...]:
    """The targets the workflow will run for (every one but ``local``), refused with what
    to rename if one cannot run in CI."""
    from reconciler.loading.project_settings import load_project_settings

    return tuple(t for t in list_targets(load_project_settings(root)) if not t.local)


__all__ = ["ScaffoldOutcome", "init_project", "requirements_template", "workflow_template"]

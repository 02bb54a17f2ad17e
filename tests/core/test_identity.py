"""`reconciler init`: the project's id, written once into reconciler.yaml."""

from __future__ import annotations

import re
from pathlib import Path

from reconciler.cli.base import main
from reconciler.identity.project_id import ID_PATTERN, new_project_id
from reconciler.loading.project_settings import load_project_settings
from tests.helpers import write_project


def _init(project: Path, capsys: object) -> tuple[int, str, str]:
    code = main(["init", "--project", str(project)])
    captured = capsys.readouterr()  # type: ignore[attr-defined]
    return code, captured.out, captured.err


def test_init_adds_an_id_keeping_comments_and_order(tmp_path: Path, capsys: object) -> None:
    project = write_project(tmp_path / "acme", {"reconciler.yaml": """\
        # Acme's CRM demo
        name: Acme Demo   # shown in plans
        timezone: Europe/Berlin
        targets:
          sandbox:
            base_url: https://api.hubapi.com
            token_env: HUBSPOT_SANDBOX_TOKEN  # never the token itself
        """})
    code, out, err = _init(project, capsys)
    assert code == 0, err
    text = (project / "reconciler.yaml").read_text()
    lines = text.splitlines()
    assert lines[0] == "# Acme's CRM demo"
    assert lines[1] == "name: Acme Demo   # shown in plans"
    assert re.fullmatch(r"id: acme-demo-[0-9a-f]{8}", lines[2]), lines[2]
    assert lines[3:] == [
        "timezone: Europe/Berlin", "targets:", "  sandbox:",
        "    base_url: https://api.hubapi.com",
        "    token_env: HUBSPOT_SANDBOX_TOKEN  # never the token itself",
    ]
    project_id = lines[2].removeprefix("id: ")
    settings = load_project_settings(project)
    assert settings.id == project_id and settings.marker_id == project_id
    assert f"id: {project_id}" in out and "Commit reconciler.yaml" in out
    assert (project / ".gitignore").read_text() == ".reconciler/\n"


def test_init_refuses_a_project_that_has_an_id(tmp_path: Path, capsys: object) -> None:
    project = write_project(tmp_path / "p", {"reconciler.yaml": "name: p\nid: p-0123abcd\n"})
    before = (project / "reconciler.yaml").read_text()
    code, _out, err = _init(project, capsys)
    assert code == 1
    assert "already has an id (p-0123abcd)" in err and "Nothing was changed" in err
    assert (project / "reconciler.yaml").read_text() == before
    assert not (project / ".gitignore").exists()


def test_init_creates_the_project_file_and_appends_to_gitignore(
    tmp_path: Path, capsys: object
) -> None:
    project = write_project(tmp_path / "My Folder", {".gitignore": "*.pyc"})
    code, out, err = _init(project, capsys)
    assert code == 0, err
    text = (project / "reconciler.yaml").read_text()  # scaffolded: commented (tests/refactors)
    assert re.search(r"^name: My Folder$", text, re.M), text
    assert re.search(r"^id: my-folder-[0-9a-f]{8}$", text, re.M), text
    assert "Created" in out
    assert (project / ".gitignore").read_text() == "*.pyc\n.reconciler/\n"
    # a second run is refused, and leaves .gitignore alone
    assert _init(project, capsys)[0] == 1
    assert (project / ".gitignore").read_text() == "*.pyc\n.reconciler/\n"


def test_an_existing_gitignore_entry_is_kept(tmp_path: Path, capsys: object) -> None:
    project = write_project(tmp_path / "q", {"reconciler.yaml": "name: q\n",
                                            ".gitignore": "/.reconciler\n"})
    assert _init(project, capsys)[0] == 0
    assert (project / ".gitignore").read_text() == "/.reconciler\n"


def test_ids_match_the_schema_and_differ() -> None:
    long_name = "A very long project name that goes on and on and on, well past forty"
    ids = {new_project_id(name) for name in ("x", "Ö", long_name, "--", "acme", "acme")}
    assert len(ids) == 6
    assert all(ID_PATTERN.match(i) for i in ids), ids
    assert all(len(i.rsplit("-", 1)[0]) <= 40 for i in ids)


def test_examples_ship_without_an_id() -> None:
    examples = Path(__file__).resolve().parents[2] / "examples"
    assert load_project_settings(examples).id is None

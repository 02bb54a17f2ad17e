"""`render` writes exactly the project's records, whatever a variable or a name holds: no
line break YAML knows (\\n, \\r, NEL, LS, PS) turns a header comment or a value into spec,
no character YAML refuses makes the rendered folder unreadable, and nothing crashes."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from reconciler.cli.base import main
from reconciler.generate.render import render_files
from reconciler.loading.project import load_project
from reconciler.model import DesiredState

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)

PROJECT = """\
name: gen-demo
timezone: Europe/Berlin
seed: 7
vars:
  label: plain
"""

#: A variable in generated values, and what a hand-written record may hold besides (YAML
#: escapes in a property value and an association label).
GENERATORS = """\
generate:
  companies:
    key: "acct-{n}"
    count: 2
    fields:
      name: "Co {{ vars.label }}"
      city: "{{ vars.label }}|{{ vars.label | upper }}"
contacts:
  vera:
    email: vera@example.com
    properties:
      lastname: "a\\u2028b\\u0085c\\rd\\x7fe\\x80f\\ufeffg"
    associations:
      - {company: acct-1, label: "\\u2029Main\\ncontact"}
"""

INJECTION = "x\nmeetings: {injected: {title: t, start: 2026-12-01T10:00:00Z}}\n#"
HOSTILE = [
    INJECTION,
    "x\r\"meetings\": {\"injected\": {\"title\": \"t\"}}\r#",
    "x\r\nmeetings: {injected: {title: t}}\r\n#",
    "x\u2028meetings: {injected: {title: t}}\u2028#",
    "x\u2029meetings: {injected: {title: t}}\u2029#",
    "x\u0085meetings: {injected: {title: t}}\u0085#",
    "\x0b\x0c\x1b\x7f\x80\x9f\ufeff\ufffe\uffff",
    "tab\there \"quotes\" \\backslash 'single' # hash: colon --- ... ",
]


def _records(desired: DesiredState) -> dict[str, Any]:
    return {
        address: (dict(r.properties), [(a.to_type, a.to_key, a.label) for a in r.associations])
        for address, r in desired.records.items()
    }


@pytest.fixture
def project(gen_project: Callable[..., Path]) -> Path:
    return gen_project({"gen.yaml": GENERATORS}, project=PROJECT)


@pytest.mark.parametrize("label", HOSTILE, ids=lambda v: json.dumps(v)[:12])
def test_a_hostile_variable_renders_exactly_the_project_s_records(
    project: Path, tmp_path: Path, label: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "rendered"
    assert main(["render", "--project", str(project), "--var", f"label={label}",
                 "--out", str(out)]) == 0, capsys.readouterr().err
    wanted = load_project(project, reference_time=NOW, use_cache=False,
                          variables=[("label", label)])
    rendered = load_project(out, reference_time=NOW, use_cache=False)
    assert _records(rendered) == _records(wanted)
    assert "meetings/injected" not in rendered.records

    # the value is shown in the header, escaped: one comment line, no break YAML knows
    lines = (out / "gen.yaml").read_text("utf-8").splitlines()  # (at \r, NEL, LS, PS too)
    header = "\n".join(lines[:3])
    assert all(line.startswith("# ") for line in lines[:3]) and lines[3].startswith('"')
    escaped = json.dumps(label).replace("\x7f", "\\u007f")  # (JSON keeps DEL as it is)
    assert f"label={escaped}" in header


def test_the_injection_of_the_issue_shows_escaped_on_stdout(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["render", "--project", str(project), "--var", f"label={INJECTION}"]) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[1] == (
        '# seed 7, vars label="x\\nmeetings: {injected: {title: t, start: '
        '2026-12-01T10:00:00Z}}\\n#"; values pinned in the target\'s state are used.'
    )
    assert "\nmeetings:" not in text and '"meetings"' not in text


def test_a_hostile_seed_and_folder_name_stay_text(
    gen_project: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The seed (a string in reconciler.yaml) and a project name taken from the folder
    (no name: in reconciler.yaml) are written as text, never as spec."""
    folder = tmp_path / "demo\nmeetings: {injected: {title: t}}\n#"
    seed = json.dumps(INJECTION)
    (folder).mkdir()
    (folder / "reconciler.yaml").write_text(
        f"timezone: Europe/Berlin\nseed: {seed}\nvars:\n  label: plain\n", "utf-8"
    )
    (folder / "gen.yaml").write_text(GENERATORS, "utf-8")
    out = tmp_path / "rendered"
    assert main(["render", "--project", str(folder), "--out", str(out)]) == 0, (
        capsys.readouterr().err
    )
    wanted = load_project(folder, reference_time=NOW, use_cache=False)
    rendered = load_project(out, reference_time=NOW, use_cache=False)
    assert _records(rendered) == _records(wanted)
    assert rendered.project.name == wanted.project.name == folder.name
    assert f"# seed {seed}, vars" in (out / "gen.yaml").read_text("utf-8")


def test_text_no_yaml_file_can_hold_is_refused_located(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Half a character (a lone surrogate: a --var in another encoding than UTF-8, or a
    template writing '\\udcff') cannot be written as YAML: exit 1, located, no file."""
    out = tmp_path / "rendered"
    assert main(["render", "--project", str(project), "--var", "label=caf\udce9",
                 "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "Internal error" not in err
    assert err.splitlines() == [
        f"{project / 'gen.yaml'}:2:3: companies/acct-1: properties.city holds U+DCE9, half of "
        "a character (a lone surrogate): not valid text, and no YAML file can hold it; it "
        "comes from a template or a --var given in another encoding than UTF-8: fix it there",
        f"{project / 'gen.yaml'}:2:3: companies/acct-2: properties.city holds U+DCE9, half of "
        "a character (a lone surrogate): not valid text, and no YAML file can hold it; it "
        "comes from a template or a --var given in another encoding than UTF-8: fix it there",
        "Error: 2 problems found in the spec",
    ]
    assert not out.exists()
    assert main(["render", "--project", str(project), "--var", "label=caf\udce9"]) == 1


def test_rendered_parts_never_take_the_name_of_another_file(
    gen_project: Callable[..., Path], tmp_path: Path
) -> None:
    """A file split in parts (``big.part2.yaml``) beside a file of that very name: both
    kept, every record written once."""
    records = "".join(f"  c{n}:\n    email: c{n}@example.com\n" for n in range(5))
    root = gen_project({"big.yaml": "contacts:\n" + records,
                        "big.part2.yaml": "contacts:\n  other:\n    email: o@example.com\n"},
                       project=PROJECT)
    desired = load_project(root, reference_time=NOW, use_cache=False)
    files = render_files(desired, {}, "# header\n", per_file=2)
    assert sorted(files) == ["big.part2-2.yaml", "big.part2.yaml", "big.part3.yaml", "big.yaml"]
    out = tmp_path / "rendered"
    out.mkdir()
    (out / "reconciler.yaml").write_text(PROJECT, "utf-8")
    for name, text in files.items():
        (out / name).write_text(text, "utf-8")
    rendered = load_project(out, reference_time=NOW, use_cache=False)
    assert _records(rendered) == _records(desired)

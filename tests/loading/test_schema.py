"""The schemas themselves: valid 2020-12, and what the examples and the loader agree on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from ruamel.yaml import YAML
from ruamel.yaml.constructor import SafeConstructor
from ruamel.yaml.error import YAMLError

from reconciler.loading.schema import is_valid
from reconciler.loading.yamlfile import parse

from .conftest import BAD_SPECS, EXAMPLES, REPO

SCHEMAS = REPO / "schemas"


def _schema(name: str) -> dict:
    return json.loads((SCHEMAS / name).read_text(encoding="utf-8"))


class _TimesAsText(SafeConstructor):
    """Timestamps as written: the schema sees text, as the loader does."""


_TimesAsText.add_constructor("tag:yaml.org,2002:timestamp", lambda c, node: node.value)


def _plain(path: Path):
    yaml = YAML(typ="safe")
    yaml.Constructor = _TimesAsText
    return yaml.load(path.read_text(encoding="utf-8"))


def test_schemas_are_valid_2020_12_with_descriptions() -> None:
    for name in ("spec.schema.json", "project.schema.json"):
        schema = _schema(name)
        Draft202012Validator.check_schema(schema)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["description"]
    for name, definition in _schema("spec.schema.json")["$defs"].items():
        assert definition.get("description"), name
        for field, sub in definition.get("properties", {}).items():
            assert sub.get("description") or "$ref" in sub, f"{name}.{field}"


def test_schemas_folder_is_the_packaged_one() -> None:
    assert (SCHEMAS / "spec.schema.json").resolve() == (
        REPO / "reconciler" / "schemas" / "spec.schema.json"
    ).resolve()


EXAMPLE_SPECS = sorted(p for p in EXAMPLES.rglob("*.yaml") if p.name != "reconciler.yaml")


@pytest.mark.parametrize("path", EXAMPLE_SPECS, ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_examples_validate_with_plain_jsonschema(path: Path) -> None:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    relative = Path(first.split("$schema=", 1)[1])
    assert first.startswith("# yaml-language-server: $schema=")
    assert (path.parent / relative).resolve() == (SCHEMAS / "spec.schema.json").resolve()
    Draft202012Validator(_schema("spec.schema.json")).validate(_plain(path))


def test_example_project_file_validates() -> None:
    Draft202012Validator(_schema("project.schema.json")).validate(
        _plain(EXAMPLES / "reconciler.yaml")
    )


def _corpus_documents():
    for path in sorted(BAD_SPECS.rglob("*.yaml")):
        if path.name == "reconciler.yaml":
            continue
        try:
            if parse(path.read_text(encoding="utf-8"), str(path)).data is None:
                continue  # broken or hostile YAML (a plain load of deep nesting segfaults)
            document = _plain(path)
        except (YAMLError, UnicodeDecodeError):  # the broken-YAML cases have no document
            continue
        yield path, document


def test_fast_and_full_validators_agree() -> None:
    full = Draft202012Validator(_schema("spec.schema.json"))
    checked = 0
    for path, document in [*_corpus_documents(), *((p, _plain(p)) for p in EXAMPLE_SPECS)]:
        if not isinstance(document, dict):
            continue
        assert is_valid("spec", document) == full.is_valid(document), path
        checked += 1
    assert checked > 30

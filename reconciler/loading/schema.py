"""The JSON Schemas of spec and project files, and validation with messages that help.

The schemas (JSON Schema 2020-12, shipped in ``reconciler/schemas/``) are the one source
of truth for structure: fields, types, enums. A compiled validator (fastjsonschema, on a
draft-07 rendering of the same schema: it uses nothing that differs) checks each whole
document quickly; only a document that fails is walked by ``jsonschema``'s 2020-12
validator to collect every error, and each error is turned into a short message that says
what to do. jsonschema and fastjsonschema stay inside this module.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator, Mapping
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any, Literal

import fastjsonschema

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
    from jsonschema.exceptions import ValidationError  # type: ignore[import-untyped]

from reconciler.loading.issues import PathPart, PendingIssue, did_you_mean

SchemaKind = Literal["spec", "project"]

_YAML11_BOOLEANS = {"yes": True, "no": False, "on": True, "off": False, "y": True, "n": False}

_TYPE_WORDS = {
    "object": "a mapping",
    "array": "a list",
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true/false",
    "null": "nothing",
}

#: Messages for the schema's patterns, by pattern (each pattern is used for one concept).
_PATTERN_MESSAGES: Mapping[str, str] = {
    "^[a-z0-9][a-z0-9._-]*$": (
        "{value!r} is not a valid key; use lowercase letters, digits, '-', '_' and '.', "
        "starting with a letter or digit"
    ),
    "^([a-z][a-z0-9_]*|[0-9]+-[0-9]+)$": (
        "{value!r} is not an object type; use a name like tickets or p_widgets, "
        "or a type id like 2-123456"
    ),
    "^([a-z][a-z0-9_]*|[0-9]+-[0-9]+)/[a-z0-9][a-z0-9._-]*$": (
        "{value!r} is not an address; write <object type>/<local key>, e.g. contacts/vera"
    ),
    "^[0-9]+$": '{value!r} is not a HubSpot id; ids are digits, like "98765"',
    "^[A-Za-z_][A-Za-z0-9_]*$": (
        "{value!r} is not a valid name; use letters, digits and '_' (HubSpot internal names)"
    ),
    "^https://": "{value!r} must be an https:// URL",
    "^https?://": "{value!r} must be an http:// or https:// URL",
    "^[A-Za-z0-9][A-Za-z0-9_.-]*$": "{value!r} is not a valid target name",
    "^[a-z][a-z_0-9]*$": (
        "{value!r} is not a HubSpot internal name; use lowercase letters, digits and '_', "
        "starting with a letter"
    ),
    "^([a-z][a-z0-9_]*|[0-9]+-[0-9]+)/([a-z][a-z0-9_]*|[0-9]+-[0-9]+)$": (
        "{value!r} is not a pair of object types; write <from type>/<to type>, "
        "e.g. contacts/companies"
    ),
}


def schema_text(kind: SchemaKind) -> str:
    """The JSON text of the spec-file (``"spec"``) or project-file (``"project"``) schema."""
    if kind not in ("spec", "project"):
        raise ValueError(f"unknown schema kind {kind!r}")
    return (resources.files("reconciler") / "schemas" / f"{kind}.schema.json").read_text("utf-8")


@lru_cache(maxsize=2)
def load_schema(kind: SchemaKind) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(schema_text(kind))
    return loaded


@lru_cache(maxsize=2)
def _full_validator(kind: SchemaKind) -> Draft202012Validator:
    # Imported here: jsonschema takes ~50 ms to import and good files never need it.
    from jsonschema import Draft202012Validator

    return Draft202012Validator(load_schema(kind))


@lru_cache(maxsize=2)
def _fast_validator(kind: SchemaKind) -> Callable[[Any], Any]:
    draft7 = copy.deepcopy(load_schema(kind))
    draft7["$schema"] = "http://json-schema.org/draft-07/schema#"
    draft7.pop("$id", None)
    validate: Callable[[Any], Any] = fastjsonschema.compile(draft7)
    return validate


def is_valid(kind: SchemaKind, document: Any) -> bool:
    """Quick yes/no (compiled validator); ``validation_issues`` says what is wrong."""
    try:
        _fast_validator(kind)(document)
    except fastjsonschema.JsonSchemaException:
        return False
    except Exception:  # noqa: BLE001 - odd data the compiled code did not expect: let the full one judge
        return False
    return True


def validation_issues(kind: SchemaKind, document: Any, display: str) -> list[PendingIssue]:
    """Every schema error in ``document``, as issues with paths and helpful messages."""
    issues: list[PendingIssue] = []
    for error in _full_validator(kind).iter_errors(document):
        issues.extend(_translate(error, display, top_word="section" if kind == "spec" else "field"))
    # "unknown field 'titel'; did you mean 'title'?" already says what "missing 'title'" would.
    suggested = {
        (issue.path[:-1], issue.message.rsplit("'", 2)[-2])
        for issue in issues
        if issue.message.startswith("unknown ") and "did you mean" in issue.message
    }
    return [
        issue
        for issue in issues
        if not (
            issue.message.startswith("missing required field ")
            and (issue.path, issue.message.split("'")[1]) in suggested
        )
    ]


def _field_label(path: tuple[PathPart, ...]) -> str:
    for part in reversed(path):
        if isinstance(part, str):
            return part.replace("_", " ")
    return "value"


def _type_word(value: Any) -> str:
    if isinstance(value, bool):
        return "true or false"
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "text"
    if isinstance(value, int):
        return "a whole number"
    if isinstance(value, float):
        return "a number"
    return type(value).__name__


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _translate(error: ValidationError, display: str, *, top_word: str) -> Iterator[PendingIssue]:
    path: tuple[PathPart, ...] = tuple(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    validator = error.validator
    in_property_names = "propertyNames" in error.relative_schema_path
    if in_property_names:
        key = error.instance
        path = (*path, str(key))
        yield PendingIssue(display, path, _value_message(error, key), at_key=True)
        return
    if validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = list(schema.get("properties", {}))
        for extra in error.instance:
            if extra in allowed:
                continue
            what = top_word if not path else "field"
            hint = did_you_mean(str(extra), allowed)
            if not hint:
                hint = f"; expected one of: {', '.join(allowed)}"
            message = f"unknown {what} {str(extra)!r}{hint}"
            yield PendingIssue(display, (*path, extra), message, at_key=True)
        return
    if validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        yield PendingIssue(display, path, f"missing required field {missing!r}", at_key=True)
        return
    yield PendingIssue(display, path, _value_message(error, error.instance))


def _value_message(error: ValidationError, value: Any) -> str:
    schema = error.schema if isinstance(error.schema, dict) else {}
    validator = error.validator
    path: tuple[PathPart, ...] = tuple(error.absolute_path)
    if validator == "type":
        if _is_duration(schema) and type(value) is int:
            # YAML 1.1 habit: a bare number of minutes.
            return (
                f"{value} is not a duration; did you mean {value}m? "
                "Durations need a unit: 45m, 1h30m or 2h"
            )
        wanted = schema.get("type")
        names = [wanted] if isinstance(wanted, str) else list(wanted or [])
        if "boolean" in names and isinstance(value, str) and value.lower() in _YAML11_BOOLEANS:
            # YAML 1.1 habit: yes/no/on/off are text in YAML 1.2.
            meant = "true" if _YAML11_BOOLEANS[value.lower()] else "false"
            return f"{value!r} is text, not true/false, in YAML 1.2; did you mean {meant}?"
        words = [_TYPE_WORDS.get(n, n) for n in names if n != "null"]
        wanted_text = ", ".join(words[:-1]) + " or " + words[-1] if len(words) > 1 else words[0]
        return f"expected {wanted_text}, got {_type_word(value)}"
    if validator == "enum":
        options = [str(v) for v in schema.get("enum", [])]
        # Friendly lower-case spellings are accepted but not advertised.
        shown: dict[str, str] = {}
        for option in options:
            shown.setdefault(option.upper(), option)
        return (
            f"{_short(value)} is not a valid {_field_label(path)}; "
            f"use one of {', '.join(shown.values())}"
        )
    if validator == "const":
        return f"must be {schema.get('const')!r}, not {_short(value)}"
    if validator == "pattern":
        template = _PATTERN_MESSAGES.get(str(schema.get("pattern")))
        if _is_duration(schema):
            return f"{_short(value)} is not a duration; write it like 45m, 1h30m or 2h"
        if template:
            return template.format(value=value)
    if validator in ("minLength", "minProperties"):
        return "must not be empty"
    if validator == "maxLength":
        return f"{_short(value)} is longer than {schema.get('maxLength')} characters"
    if validator == "minimum":
        return f"must be at least {schema.get('minimum')}, not {_short(value)}"
    if validator == "maximum":
        return f"must be at most {schema.get('maximum')}, not {_short(value)}"
    if validator == "anyOf":
        return _any_of_message(error, value, path)
    return str(error.message)


def _is_duration(schema: Mapping[str, Any]) -> bool:
    pattern: str = load_schema("spec")["$defs"]["duration"]["pattern"]
    return schema.get("pattern") == pattern


def _any_of_message(error: ValidationError, value: Any, path: tuple[PathPart, ...]) -> str:
    parent = path[-2] if len(path) >= 2 else None
    if parent == "reminders":
        return (
            f"{_short(value)} is not a reminder; write it like 15m, 2h, 1d, 1w "
            "or {before: 2, unit: hours}"
        )
    if isinstance(value, str):
        return _PATTERN_MESSAGES["^[a-z0-9][a-z0-9._-]*$"].format(value=value)
    if isinstance(value, dict):
        # The {id: ...} branch is the one a mapping was meant for: report its error.
        object_errors = [e for e in error.context or () if e.relative_schema_path[0] == 1]
        from jsonschema.exceptions import best_match

        inner = best_match(object_errors) if object_errors else None
        if inner is not None:
            if inner.validator == "additionalProperties":
                return 'name the record with id: (e.g. {id: "98765"}) and nothing else'
            if inner.validator == "required":
                return 'missing id: write {id: "98765"} for an existing record'
            return _value_message(inner, inner.instance)
    return f'expected a local key or {{id: "..."}}, got {_type_word(value)}'

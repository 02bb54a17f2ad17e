"""Writing an export: readable spec YAML, ``sources.json``, and the folder's settings.

The YAML is written by hand rather than by a dumper so that it reads like the examples:
block mappings, plain scalars where YAML reads them back as the same text, multi-line
text as literal blocks, anything doubtful as a double-quoted (JSON) string. Every file is
parsed back with the loader's own parser before it is written; should any text not come
back as written, the whole file is written with every string double-quoted instead.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from reconciler.errors import ConfigError
from reconciler.loading.schema import schema_text
from reconciler.loading.yamlfile import parse
from reconciler.model import SECTION_OBJECT_TYPES

#: Records per file: spec files are read up to 16 MiB each.
RECORDS_PER_FILE = 5000
SOURCES_FILE = "sources.json"
SCHEMA_PATH = "schemas/spec.schema.json"
SOURCES_FORMAT_VERSION = 1

_KEY = re.compile(r"[a-z][a-z0-9._-]*")
_PLAIN = re.compile(r"[A-Za-z][\w .,@/+()'&-]*")
_YAML_WORDS = {"true", "false", "null", "yes", "no", "on", "off", "y", "n"}
#: Characters a literal block may not hold as they are (they would end or bend a line).
_LITERAL_UNSAFE = re.compile(r"[\r\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x85\u2028\u2029\ufeff]")


def _printable(char: str) -> bool:
    """YAML's printable set, less the characters a reader takes for line breaks or a BOM."""
    code = ord(char)
    return (
        0x20 <= code <= 0x7E
        or 0xA0 <= code <= 0xD7FF and code not in (0x2028, 0x2029)
        or 0xE000 <= code <= 0xFFFD and code != 0xFEFF
        or 0x10000 <= code <= 0x10FFFF
    )


_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def quoted(text: str) -> str:
    """``text`` as a YAML double-quoted scalar that reads back exactly as ``text``."""
    parts = ['"']
    for char in text:
        if char in _ESCAPES:
            parts.append(_ESCAPES[char])
        elif _printable(char):
            parts.append(char)
        elif ord(char) <= 0xFF:
            parts.append(f"\\x{ord(char):02x}")
        elif ord(char) <= 0xFFFF:
            parts.append(f"\\u{ord(char):04x}")
        else:
            parts.append(f"\\U{ord(char):08x}")
    parts.append('"')
    return "".join(parts)


def _plain_ok(text: str) -> bool:
    return (
        bool(_PLAIN.fullmatch(text))
        and text.isascii()
        and text.lower() not in _YAML_WORDS
        and not text.endswith((" ", ":"))
        and ": " not in text
        and " #" not in text
    )


def _key_text(key: str) -> str:
    return key if _KEY.fullmatch(key) and key not in _YAML_WORDS else quoted(key)


def _scalar(value: Any, indent: int, *, fancy: bool) -> list[str]:
    """The lines of one scalar: the first goes after ``key: ``, the rest are indented."""
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, (int, float)):
        return [json.dumps(value)]
    text = str(value)
    if fancy and _plain_ok(text):
        return [text]
    if (fancy and "\n" in text and not _LITERAL_UNSAFE.search(text)
            and not text.startswith((" ", "\n", "\t"))):
        trailing = len(text) - len(text.rstrip("\n"))
        chomp = "-" if trailing == 0 else ("" if trailing == 1 else "+")
        pad = " " * indent
        body = text[:-trailing] if trailing else text
        lines = [f"|{chomp}"]
        lines.extend(f"{pad}{line}" if line else "" for line in body.split("\n"))
        lines.extend("" for _ in range(trailing - 1))
        return lines
    return [quoted(text)]


def _mapping(mapping: Mapping[str, Any], indent: int, lines: list[str], *, fancy: bool,
             first_prefix: str | None = None) -> None:
    pad = " " * indent
    for position, (key, value) in enumerate(mapping.items()):
        lead = first_prefix if first_prefix is not None and position == 0 else pad
        name = _key_text(str(key)) if fancy else quoted(str(key))
        if isinstance(value, Mapping) and value:
            lines.append(f"{lead}{name}:")
            _mapping(value, indent + 2, lines, fancy=fancy)
        elif isinstance(value, Sequence) and not isinstance(value, str) and value:
            lines.append(f"{lead}{name}:")
            _sequence(value, indent + 2, lines, fancy=fancy)
        elif isinstance(value, Mapping):
            lines.append(f"{lead}{name}: {{}}")
        elif isinstance(value, (list, tuple)):
            lines.append(f"{lead}{name}: []")
        else:
            first, *rest = _scalar(value, indent + 2, fancy=fancy)
            lines.append(f"{lead}{name}: {first}")
            lines.extend(rest)


def _sequence(items: Sequence[Any], indent: int, lines: list[str], *, fancy: bool) -> None:
    pad = " " * indent
    for item in items:
        if isinstance(item, Mapping) and item:
            _mapping(item, indent + 2, lines, fancy=fancy, first_prefix=f"{pad}- ")
        else:
            first, *rest = _scalar(item, indent + 2, fancy=fancy)
            lines.append(f"{pad}- {first}")
            lines.extend(rest)


def dump(document: Mapping[str, Any]) -> str:
    """``document`` as readable block YAML that the loader reads back equal."""
    for fancy in (True, False):
        lines: list[str] = []
        _mapping(document, 0, lines, fancy=fancy)
        text = "\n".join(lines) + "\n"
        if parse(text, "<export>").data == _plain(document):
            return text
    raise AssertionError("the exported YAML does not read back as written")  # a bug


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def spec_files(
    sections: Mapping[str, Mapping[str, Any]], header: str
) -> dict[str, str]:
    """File name → text: one file per section (``meetings.yaml``), in parts of
    ``RECORDS_PER_FILE`` records (``meetings.part2.yaml``). A type with no section of its
    own (tickets) is written under ``objects:``."""
    files: dict[str, str] = {}
    for section, records in sections.items():
        keys = list(records)
        for part, start in enumerate(range(0, len(keys), RECORDS_PER_FILE), start=1):
            name = f"{section}.yaml" if part == 1 else f"{section}.part{part}.yaml"
            chunk = {key: records[key] for key in keys[start:start + RECORDS_PER_FILE]}
            document = ({section: chunk} if section in SECTION_OBJECT_TYPES
                        else {"objects": {section: chunk}})
            files[name] = header + dump(document)
    return files


def check_out_folder(out: Path, project: Path, *, force: bool) -> None:
    """Refuse a folder inside the project (its files would be loaded as spec) and, unless
    ``force``, one that holds anything."""
    resolved, root = out.resolve(), project.resolve()
    if resolved == root or resolved.is_relative_to(root):
        raise ConfigError(
            f"--out {out} is inside the project {project}: its files would be loaded as this "
            "project's spec; give a folder outside it"
        )
    if root.is_relative_to(resolved):
        raise ConfigError(f"--out {out} holds the project {project}; give another folder")
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is not a folder")
    if out.exists() and any(out.iterdir()) and not force:
        raise ConfigError(
            f"--out {out} is not empty; give an empty or new folder, or --force to replace "
            "an earlier export there"
        )


def _earlier_files(out: Path) -> list[Path]:
    """The spec files an earlier export wrote here (as its sources.json lists them)."""
    try:
        data = json.loads((out / SOURCES_FILE).read_text("utf-8"))
    except (OSError, ValueError, RecursionError):  # (a hand-made file nested too deep)
        return []
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, list):
        return []
    return [out / name for name in files
            if isinstance(name, str) and "/" not in name and name.endswith(".yaml")]


def write_export(
    out: Path,
    files: Mapping[str, str],
    sources: Mapping[str, Any],
    project_settings: str,
) -> list[Path]:
    """Write the spec files, ``sources.json``, the spec schema (for the modelines) and,
    unless the folder has one, ``reconciler.yaml``. Files an earlier export wrote and this
    one does not are removed (they would duplicate keys). Returns the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    for old in _earlier_files(out):
        if old.name not in files and old.is_file():
            old.unlink()
    written: list[Path] = []
    for name, text in files.items():
        (out / name).write_text(text, "utf-8")
        written.append(out / name)
    schema = out / SCHEMA_PATH
    schema.parent.mkdir(parents=True, exist_ok=True)
    schema.write_text(schema_text("spec"), "utf-8")
    settings = out / "reconciler.yaml"
    if not settings.exists():
        settings.write_text(project_settings, "utf-8")
        written.append(settings)
    (out / SOURCES_FILE).write_text(json.dumps(sources, indent=2, sort_keys=False) + "\n", "utf-8")
    written.append(out / SOURCES_FILE)
    return written

"""Hostile and careless input: refused fast, with one located line, never a crash.

The small cases live in the bad-spec corpus (billion-laughs, deep-*-nesting,
alias-nesting); the ones too big to commit are generated here.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from reconciler.errors import SpecError
from reconciler.loading.project import load_project
from reconciler.loading.yaml_walk import MAX_NESTING
from reconciler.loading.yamlfile import nesting_message, parse

from .conftest import REFERENCE


def _issues(root: Path, *, use_cache: bool = False) -> list[str]:
    with pytest.raises(SpecError) as caught:
        load_project(root, reference_time=REFERENCE, use_cache=use_cache)
    return [issue.render() for issue in caught.value.issues]


def test_a_merge_key_bomb_is_refused_and_nothing_is_cached(project) -> None:
    # 1,000 records merging one 1 MB base expanded to 954 MB of parse cache.
    base = "".join(f"    k{i}: {'x' * 90}\n" for i in range(10_000))
    records = "".join(f"  r{i}:\n    <<: *base\n    title: R\n" for i in range(1_000))
    spec = f"meetings:\n  base: &base\n{base}{records}"
    root = project({"spec.yaml": spec})
    started = time.monotonic()
    lines = _issues(root, use_cache=True)
    assert time.monotonic() - started < 5
    assert len(lines) == 1
    where, message = lines[0].split(": ", 1)
    line, column = map(int, where.rsplit(":", 2)[1:])
    assert spec.splitlines()[line - 1] == "    <<: *base" and column == 5
    assert message == (
        "aliases (*name) and merge keys (<<) expand this file to more than 8.0 MiB of data, "
        "8 times its size (at least 4 MiB); repeat less through aliases"
    )
    assert not list((root / ".reconciler").rglob("*.json"))


def test_a_few_merges_of_a_shared_block_are_fine(project) -> None:
    base = "".join(f"    k{i}: value {i}\n" for i in range(20))
    records = "".join(
        f"  r{i}:\n    <<: *base\n    title: R{i}\n    start: 2026-11-23T10:00:00Z\n"
        "    properties: *props\n"
        for i in range(2_000)
    )
    spec = f"shared:\n  base: &base\n{base}  props: &props\n{base}meetings:\n{records}"
    parsed = parse(spec, "spec.yaml")
    assert parsed.issues == []
    assert parsed.data["meetings"]["r1999"]["k19"] == "value 19"

@pytest.mark.parametrize(
    ("text", "position"),
    [
        ("[" * 65 + "]" * 65, (1, 65)),  # found by the walk (cheap bound under the limit)
        ("[" * 64 + "]" * 64, None),
        ("[" * 30_000, (1, 65)),  # found by the pre-scan: ruamel's composer would segfault
        ("{a: " * 50_000, (1, 257)),
        ("- " * 30_000 + "x", (1, 129)),
        ("? " * 30_000 + "x", (1, 129)),
        ("\u2028".join("  " * i + "-" for i in range(2_000)), (65, 129)),
        ("".join(" " * i + "a:\n" for i in range(2_000)), (65, 65)),
    ],
)
def test_nesting_is_bounded_before_the_composer(text: str, position: tuple[int, int] | None) -> None:
    started = time.monotonic()
    parsed = parse(text, "spec.yaml")
    assert time.monotonic() - started < 2
    if position is None:
        assert parsed.issues == []
    else:
        assert [(i.line, i.column, i.message) for i in parsed.issues] == [
            (*position, nesting_message())
        ]
        assert str(MAX_NESTING) in nesting_message()


def test_the_pre_scan_itself_is_linear() -> None:
    # Anchors and dashes that a careless pattern would split every possible way.
    text = ("&-" * 45 + " x\n") * 20_000 + ("& " * 49 + "x\n") * 20_000
    started = time.monotonic()
    parse(text, "spec.yaml")
    assert time.monotonic() - started < 5


def test_every_problem_is_located_in_linear_time(project) -> None:
    # One typo per record over 16k records took 54 s: each position was a linear search.
    count = 16_000
    spec = "meetings:\n" + "".join(
        f"  m{i}:\n    titl: T\n    start: 2026-11-23T10:00:00Z\n" for i in range(count)
    )
    root = project({"spec.yaml": spec})
    started = time.monotonic()
    lines = _issues(root)
    assert time.monotonic() - started < 20
    assert len(lines) == count
    assert lines[-1] == (
        f"{root / 'spec.yaml'}:{3 * count}:5: meetings.m{count - 1}.titl: "
        "unknown field 'titl'; did you mean 'title'?"
    )


def test_a_long_chain_of_merges_does_not_recurse(project) -> None:
    # Each link merges the one before; finding where k0 was written walks the whole chain.
    chain = "".join(f"  b{i}: &b{i}\n    <<: *b{i - 1}\n" for i in range(1, 3_000))
    spec = (
        f"meetings:\n  b0: &b0\n    k0: v\n{chain}"
        "  m:\n    <<: *b2999\n    title: M\n    start: 2026-11-23T10:00:00Z\n"
    )
    root = project({"spec.yaml": spec})
    lines = _issues(root)
    assert f"{root / 'spec.yaml'}:3:5: meetings.m.k0: unknown field 'k0'; " in "\n".join(lines)


@pytest.mark.parametrize(("own", "line"), [("    titel: own\n", 10), ("", 5)])
def test_a_merged_key_is_located_where_its_value_comes_from(project, own: str, line: int) -> None:
    spec = (
        "meetings:\n"
        "  base: &base\n"
        "    title: Base\n"
        "    start: 2026-11-23T10:00:00Z\n"
        "    titel: from base\n"
        "  other: &other\n"
        "    titel: from other\n"
        "  m:\n"
        "    <<: [*base, *other]\n"
        f"{own}"
    )
    root = project({"spec.yaml": spec})
    lines = _issues(root)
    assert f"{root / 'spec.yaml'}:{line}:5: meetings.m.titel: unknown field 'titel'; " in "\n".join(
        lines
    )


def test_many_unknown_references_are_reported_in_bounded_time(project) -> None:
    # A did-you-mean compares with every key of the type: 8k x 8k pairs took ~15 minutes.
    count = 8_000
    contacts = "".join(f"  contact-{i}:\n    email: c{i}@example.com\n" for i in range(count))
    calls = "".join(
        f"  call-{i}:\n    timestamp: 2026-11-23T10:00:00Z\n"
        f"    associations: [{{contact: contakt-{i}}}]\n"
        for i in range(count)
    )
    root = project({"contacts.yaml": f"contacts:\n{contacts}", "calls.yaml": f"calls:\n{calls}"})
    started = time.monotonic()
    lines = _issues(root)
    assert time.monotonic() - started < 20
    assert len(lines) == count
    assert lines[0].endswith(
        "calls.call-0.associations[0].contact: no contacts record has the key 'contakt-0'; "
        "did you mean 'contact-0'?"
    )
    assert lines[-1].endswith(f"no contacts record has the key 'contakt-{count - 1}'")


def test_a_record_with_many_associations_is_not_quadratic(project) -> None:
    count = 30_000
    contacts = "".join(f"  c{i}:\n    email: c{i}@example.com\n" for i in range(count))
    items = "".join(f"      - contact: c{i}\n" for i in range(count))
    spec = (
        f"contacts:\n{contacts}meetings:\n  m:\n    title: M\n"
        f"    start: 2026-11-23T10:00:00Z\n    associations:\n{items}      - contact: c7\n"
    )
    root = project({"spec.yaml": spec})
    started = time.monotonic()
    lines = _issues(root)
    assert time.monotonic() - started < 20
    assert [line.split(": ", 1)[1] for line in lines] == [
        f"meetings.m.associations[{count}]: the same association is listed twice (also item 7)"
    ]

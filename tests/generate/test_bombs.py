"""Templates and Faker arguments that would exhaust the machine are located errors.

Each is refused before the value is made: in-process, the render allocates almost nothing
(tracemalloc) in a fraction of a second; through the CLI, under a 1 GiB address-space cap,
every bomb of issue #17 is one located line and exit 1 (a bomb that got through would be a
``MemoryError``, exit 3, or the timeout).
"""

from __future__ import annotations

import json
import re
import resource
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest
from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from reconciler.errors import SpecError
from reconciler.generate.fakes import FakeError, check_arguments
from reconciler.generate.templates import TemplateProblem, compile_template

from .conftest import load

CONTEXT = {"n": 3, "key": "k-3", "fields": {"name": "Acme, Inc.", "tags": ["a", "b"]},
           "parent": {"key": "acct-1", "d": {"a": 1, "b": 2}}}
BIG = "the template builds a value over 10000 characters"
BITS = "the template builds a number over 4096 bits"
DOUBLING = "{% set a = 'ab' %}" + "{% set a = a ~ a %}" * 38 + "{{ a | length }}"
NESTED = ("{% set a = 'x' * 999 %}{% set b = [a, a, a, a, a, a, a, a, a, a] %}"
          "{% set c = [b, b, b, b, b, b, b, b, b, b] %}{{ c == c }}")

TEMPLATE_BOMBS = [
    (DOUBLING, BIG),
    ("{{ 'x'.center(10**10) | length }}", BIG),
    ("{{ ((((10**64)**64)**64)**64)**64 > 5 }}", BITS),
    ("{{ 10**64 * 10**64 * 10**64 * 10**64 * 10**64 * 10**64 * 10**64 * 10**64 * 10**64 "
     "* 10**64 * 10**64 * 10**64 * 10**64 * 10**64 * 10**64 * 10**64 * 10**64 * 10**64 * 10**64 "
     "* 10**64 }}", BITS),
    ("{{ ('9' * 4000) | int }}", BITS),
    ("{{ 'x' * 10**9 }}", BIG),
    ("{{ ([0] * 10**9) | length }}", BIG),
    ("{{ ('x' * 5000) + ('x' * 5001) }}", BIG),
    (NESTED, BIG),
    ("{{ '%999999999d' % 1 }}", BIG),
    ("{{ '%*d' % (999999999, 1) }}", BIG),
    ("{{ ('%(a)s' * 1900) % {'a': 'y' * 100} }}", BIG),
    ("{{ '{:999999999}'.format(1) }}", BIG),
    ("{{ '{:{}}'.format(1, 999999999) }}", BIG),
    ("{{ ('{0}' * 3000).format('y' * 9999) }}", BIG),
    ("{{ '%999999999s' | format(1) }}", BIG),
    ("{{ ['%999999999s'] | format(1) }}", BIG),
    ("{{ 'x'.ljust(10**9) }}{{ 'x'.zfill(10**9) }}", BIG),
    ("{{ ('\t' * 9999).expandtabs(9999) | length }}", BIG),
    ("{{ ('x' * 9999).replace('x', 'y' * 9999) | length }}", BIG),
    ("{{ ('x' * 9999) | replace('x', 'y' * 9999) | length }}", BIG),
    ("{{ ('y' * 9999).join('x' * 9999) | length }}", BIG),
    ("{{ ('x' * 9999) | join('y' * 9999) | length }}", BIG),
    ("{{ range(1000) | list | slice(1000, 'y' * 9999) | join }}", BIG),
    ("{{ ('x' * 9999).translate({120: 'y' * 9999}) | length }}", BIG),
    ("{{ 'x'.encode().center(10**9) | length }}", BIG),
    ("{{ (1).to_bytes(10**9, 'big') | length }}", BIG),
    ("{{ ('\n' * 9999) | indent(9999) | length }}", BIG),
    ("{{ ('\n' * 9999) | indent('y' * 9999) | length }}", BIG),
    ("{{ ('x' * 9999) | wordwrap(1, wrapstring='y' * 9999) | length }}", BIG),
    ("{{ dict.fromkeys(range(1000), 'x' * 9999) | length }}", BIG),
    ("{{ 'x' | indent(10**9) }}", "a filter argument over 10000"),
    ("{{ 'x' | center(1e9) }}", "a filter argument over 10000"),
    ("{{ range(10**9) | list | length }}", "range() of more than 1000 items"),
    ("{% for c in 'x' * 5000 %}{% endfor %}", "a loop over more than 1000 items"),
    ("{% for i in range(1000) %}{% set x = 'y' * 9999 %}{% endfor %}",
     "the template makes more than 1,000,000 characters"),
    ("{{ range(1000) | map('string') | map('center', 9999) | list | length }}",
     "the template makes more than 1,000,000 characters"),
]


@pytest.mark.parametrize(("source", "message"), TEMPLATE_BOMBS)
def test_a_template_bomb_is_refused_before_it_is_made(source: str, message: str) -> None:
    template = compile_template(source)
    tracemalloc.start()
    started = time.thread_time()
    try:
        with pytest.raises(TemplateProblem) as caught:
            template.render(CONTEXT)
        seconds = time.thread_time() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(caught.value) == message
    assert seconds < 0.2
    assert peak < 4 * 2**20  # nothing near the size it asked for was made


@pytest.mark.parametrize(("source", "message"), [
    ("x" * 9_990 + "{{ n }}" * 2, "the template is over 10000 characters"),
    ("{{ 1" + "0" * 5000 + " }}", "template syntax error: a number over 4096 bits"),
    ("{{ 1" + "0" * 1300 + " }}", "numbers over 4096 bits are not allowed in templates"),
    ("{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}", "the template nests too deeply"),
    ("{{ 1" + " + 1" * 2400 + " }}", "the template nests too deeply"),
    ("{{ 1" + " | abs" * 1600 + " }}", "the template nests too deeply"),
    ("{% set x %}{{ n }}{% endset %}",
     "set blocks ({% set x %}...{% endset %}; write {% set x = ... %}) are not allowed in "
     "templates; keep templates short"),
    ("{% filter upper %}{{ n }}{% endfilter %}",
     "filter blocks ({% filter %}; write {{ value | filter }}) are not allowed in templates; "
     "keep templates short"),
])
def test_what_cannot_be_bounded_is_refused_when_compiled(source: str, message: str) -> None:
    with pytest.raises(TemplateProblem) as caught:
        compile_template(source)
    assert str(caught.value) == message


@pytest.mark.parametrize("source", [
    "{% for x in fields.tags %}{{ loop.index }}/{{ loop.length }}{{ x }}"
    "{% if loop.last %}!{% endif %}{% endfor %}",
    "{% for x in [] %}x{% else %}empty{% endfor %}{% for c in 'abc' if c != 'b' %}{{ c }}{% endfor %}",
    "{% for k, v in parent.d | dictsort %}{{ k }}={{ v }};{% endfor %}",
    "{% set a, b = 1, 2 %}{{ a + b }} {{ {'a': 1}['a'] }} {{ [1, [2, 3]] }} {{ ('x', 'y') | join('-') }}",
    "{{ '%s-%05d' % ('a', 42) }} {{ '{}-{:>5}'.format('a', 'b') }} {{ '%(a)s' % {'a': 'z'} }}",
    "{{ 'a b c d e f' | wordwrap(3) }} {{ 'a\nb' | indent(2, true) }} {{ 'x'.center(5, '*') }}",
    "{{ n - 1 }}/{{ n * 2 }}/{{ n ** 2 }}/{{ n / 2 }}/{{ n // 2 }}/{{ n % 2 }}/{{ -n }}/{{ 2 ** 64 }}",
    "{{ 'ab' ~ n ~ none }}{% autoescape true %}{{ '<' ~ 'b' }}{% endautoescape %}",
    "{{ 'x' * 3 }}{{ 3 * 'y' }}{{ [0] * 2 }}{{ ('x' * 5000) | length }}{{ 'ab' | batch(1) | list }}",
    "{{ range(5) | list | sum }} {{ [1, 2] | map('string') | join(',') }} {{ fields.tags | join }}",
])
def test_the_bounds_change_no_result(source: str) -> None:
    plain = ImmutableSandboxedEnvironment(undefined=StrictUndefined)
    assert compile_template(source).render(CONTEXT) == plain.from_string(source).render(CONTEXT)


@pytest.mark.parametrize(("arguments", "message"), [
    ({"max_nb_chars": 300000000.0}, "argument max_nb_chars=300000000.0 is over the limit of 1000"),
    ({"nb_sentences": float("inf")}, "argument nb_sentences=inf is over the limit of 1000"),
    ({"nb": float("nan")}, "argument nb is not a number (NaN)"),
    ({"elements": [1, 2000.5]}, "argument elements=2000.5 is over the limit of 1000"),
])
def test_faker_arguments_are_capped_whatever_their_numeric_type(
    arguments: dict[str, object], message: str
) -> None:
    with pytest.raises(FakeError) as caught:
        check_arguments(arguments)
    assert str(caught.value) == message


def _issues(root: Path) -> list[str]:
    with pytest.raises(SpecError) as caught:
        load(root)
    return [issue.render() for issue in caught.value.issues]


def test_making_one_record_has_a_cpu_budget(gen_project: Callable[..., Path]) -> None:
    """Five values of 9,000 Faker calls each (each value within its own caps): whichever
    value the record's 0.25 s run out in, the record stops there, in well under a second."""
    calls = " and ".join(["fake('company')"] * 9)
    busy = json.dumps(f"{{% for i in range(1000) %}}{{% if {calls} %}}{{% endif %}}{{% endfor %}}")
    properties = "".join(f"\n      p{index}: {busy}" for index in range(5))
    root = gen_project({"gen.yaml": f"""\
generate:
  companies:
    key: "c-{{n}}"
    properties:{properties}
"""})
    started = time.thread_time()
    issues = _issues(root)
    assert time.thread_time() - started < 1.5
    assert len(issues) == 1
    assert re.fullmatch(
        rf"{re.escape(str(root))}/gen\.yaml:[5-9]:11: generate\.companies\.properties\.p[0-4]: "
        r"companies/c-1: this record's values take more than 0\.25 s of CPU time to make; keep "
        r"templates and Faker arguments small", issues[0],
    )


def test_faker_values_over_the_cap_are_refused(gen_project: Callable[..., Path]) -> None:
    root = gen_project({"gen.yaml": """\
        generate:
          companies:
            key: "c-{n}"
            fields:
              name: {fake: paragraphs, args: {nb: 1000}}
        """})
    assert _issues(root) == [
        f"{root}/gen.yaml:5:13: generate.companies.fields.name: companies/c-1: fake "
        "paragraphs made a value over 10000 characters"
    ]


#: The bombs of issue #17, each a generator of its own: (its field's YAML, the message).
ISSUE_BOMBS = {
    "concat_doubling": (json.dumps(DOUBLING), f"companies/concat_doubling-1: {BIG}"),
    "center": (json.dumps("{{ 'x'.center(10**9) | length }}"), f"companies/center-1: {BIG}"),
    "center_larger": (json.dumps("{{ 'x'.center(10**10) | length }}"),
                      f"companies/center_larger-1: {BIG}"),
    "power_chain": (json.dumps("{{ ((((10**64)**64)**64)**64)**64 > 5 }}"),
                    f"companies/power_chain-1: {BITS}"),
    "float_text": ("{fake: text, args: {max_nb_chars: 300000000.0}}",
                   "argument max_nb_chars=300000000.0 is over the limit of 1000"),
    "float_paragraph": ("{fake: paragraph, args: {nb_sentences: 100000000.0}}",
                        "argument nb_sentences=100000000.0 is over the limit of 1000"),
    "float_in_template": (json.dumps("{{ fake('text', max_nb_chars=300000000.0) }}"),
                          "companies/float_in_template-1: argument max_nb_chars=300000000.0 "
                          "is over the limit of 1000"),
}


#: And a key pattern's width, which format() would make before the key is checked.
KEY_BOMB = ('"c-{n:999999999}"', "'c-{n:999999999}': '999999999' is wider than a key (at most 100 "
            "characters)")


def _one_gibibyte() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (2**30, 2**30))


def test_the_issue_s_bombs_are_located_errors_under_a_memory_cap(tmp_path: Path) -> None:
    lines = ["generate:"]
    expected = []
    for name, (value, message) in ISSUE_BOMBS.items():
        expected.append(f"gen.yaml:{len(lines) + 5}:13: generate.{name}.fields.name: {message}")
        lines += [f"  {name}:", "    type: companies", f'    key: "{name}-{{n}}"',
                  "    fields:", f"      name: {value}"]
    expected.append(f"gen.yaml:{len(lines) + 3}:10: generate.key_width.key: {KEY_BOMB[1]}")
    lines += ["  key_width:", "    type: companies", f"    key: {KEY_BOMB[0]}"]
    (tmp_path / "gen.yaml").write_text("\n".join(lines) + "\n")
    (tmp_path / "reconciler.yaml").write_text("name: bombs\ntimezone: Europe/Berlin\n")
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", "validate", "--no-cache"], cwd=tmp_path,
        capture_output=True, text=True, timeout=60, preexec_fn=_one_gibibyte,
    )
    assert (done.returncode, done.stderr.splitlines()) == (
        1, [*expected, f"Error: {len(expected)} problems found in the spec"]
    )

"""Templates: the sandbox, its bounds, and the fast path for plain inserts."""

from __future__ import annotations

import pytest

from reconciler.generate.templates import TemplateProblem, compile_template

CONTEXT = {
    "n": 2, "key": "k-2", "fields": {"first_name": "Ann"},
    "parent": {"key": "acct-1", "name": "Acme", "items": "three", "n": 1},
}


@pytest.mark.parametrize("source", [
    "{{ parent.key }}", "Call {{ fields.first_name }} at {{ parent.name }} #{{ n }}",
    "  {{ parent.items }} ", "{{ parent.n }}-{{ key }}",
])
def test_plain_inserts_render_as_jinja_does(source: str) -> None:
    template = compile_template(source)
    assert template._plain is not None
    jinja = type(template)(  # the same template without the fast path
        template.source, template.fields, template.parent_fields, template.variables,
        template.names, template._render, None,
    )
    assert template.render(CONTEXT) == jinja.render(CONTEXT)


@pytest.mark.parametrize(("source", "message"), [
    ("{{ n.__class__ }}", "the template is not allowed to do that: access to attribute "
                          "'__class__' of 'int' object is unsafe."),
    ("{{ 'ab' * 6000 }}", "the template builds a value over 10000 characters"),
    ("{% for i in range(5000) %}x{% endfor %}", "range() of more than 1000 items"),
    ("{{ fields.items }}", "the template prints a function, not a value; call it "
                           "(fake('company')) or name a field"),
    ("{{ parent.nope }}", "template error: 'dict object' has no attribute 'nope'"),
    ("{{ 10 ** 100 }}", "exponents over 64 are not allowed in templates"),
    ("{{ 'x' | center(100000) }}", "a filter argument over 10000"),
])
def test_what_the_sandbox_refuses_while_rendering(source: str, message: str) -> None:
    with pytest.raises(TemplateProblem) as caught:
        compile_template(source).render(CONTEXT)
    assert str(caught.value) == message


@pytest.mark.parametrize(("source", "message"), [
    ("{% macro f() %}{% endmacro %}", "macros are not allowed in templates; keep templates short"),
    ("{% include 'x' %}", "includes are not allowed in templates; keep templates short"),
    ("{% for a in 'ab' %}{% for b in 'cd' %}{% endfor %}{% endfor %}",
     "loops inside loops are not allowed in templates"),
    ("{{ n | lower }", "template syntax error: unexpected '}'"),
])
def test_what_the_sandbox_refuses_to_compile(source: str, message: str) -> None:
    with pytest.raises(TemplateProblem) as caught:
        compile_template(source)
    assert str(caught.value) == message


def test_a_template_sees_keys_before_dict_methods() -> None:
    assert compile_template("{{ parent.items | upper }}").render(CONTEXT) == "THREE"

"""Any dataset the generators can make validates: a property test over definitions."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.generate.render import render_files
from reconciler.loading.project import load_project

from .conftest import REFERENCE

_PROVIDERS = ["company", "first_name", "last_name", "city", "catch_phrase", "sentence", "word",
              "bs", "job", "email", "phone_number", "color_name", "country"]
_text_value = st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=30).filter(
        lambda t: "{{" not in t and "{%" not in t and "{#" not in t
    ),
    st.sampled_from(_PROVIDERS).map(lambda p: {"fake": p}),
    st.lists(st.sampled_from(["alpha", "beta", "gamma"]), min_size=1, max_size=3).map(
        lambda items: {"random_choice": items}
    ),
    st.sampled_from(_PROVIDERS).map(lambda p: "{{ fake('" + p + "') }} #{{ n }}"),
)


@st.composite
def datasets(draw: st.DrawFn) -> dict[str, object]:
    companies = draw(st.integers(min_value=0, max_value=6))
    low = draw(st.integers(min_value=0, max_value=3))
    return {
        "generate": {
            "companies": {
                "key": draw(st.sampled_from(["acct-{n}", "a{n:03}", "co.{n}"])),
                "count": companies,
                "fields": {"name": draw(_text_value), "city": draw(_text_value)},
                "properties": {"note_text": draw(_text_value)},
            },
            "contacts": {
                "for_each": "companies",
                "key": "{parent}-c{n}",
                "count": {"random_number": {"min": low, "max": low + draw(st.integers(0, 3))}},
                "fields": {
                    "first_name": draw(_text_value),
                    "job_title": draw(_text_value),
                    "email": "p{{ n }}@{{ parent.key }}.example.com",
                },
                "associations": [{"company": "{{ parent.key }}"}],
            },
            "calls": {
                "for_each": "contacts",
                "key": "{parent}-call{n}",
                "count": {"random_choice": {"0": 1, "1": 2}},
                "fields": {
                    "timestamp": {"datetime_between": {
                        "start": f"-{draw(st.integers(0, 60))}d",
                        "end": f"+{draw(st.integers(0, 30))}d",
                        "business_hours": draw(st.booleans()),
                    }},
                    "body": draw(_text_value),
                    "disposition": {"random_choice": ["connected", "busy", "no_answer"]},
                    "duration": {"random_choice": ["1m", "12m", "30s"]},
                },
                "associations": [{"contact": "{{ parent.key }}"}],
            },
        }
    }


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(datasets(), st.integers(min_value=0, max_value=10**9))
def test_any_generated_dataset_validates_and_renders_valid(data: dict[str, object], seed: int) -> None:
    import json

    folder = Path(tempfile.mkdtemp(prefix="gen-property-"))
    try:
        (folder / "reconciler.yaml").write_text(f"seed: {seed}\ntimezone: America/New_York\n")
        (folder / "gen.yaml").write_text(json.dumps(data, ensure_ascii=False))  # JSON is YAML
        desired = load_project(folder, reference_time=REFERENCE, use_cache=False)
        rendered = folder.parent / (folder.name + "-rendered")
        rendered.mkdir()
        (rendered / "reconciler.yaml").write_text("timezone: America/New_York\n")
        for name, text in render_files(desired, {}, "# rendered\n").items():
            (rendered / name).write_text(text)
        again = load_project(rendered, reference_time=REFERENCE, use_cache=False)
        assert set(again.records) == set(desired.records)
        for address, record in desired.records.items():
            assert dict(again.records[address].properties) == dict(record.properties)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(folder.parent / (folder.name + "-rendered"), ignore_errors=True)

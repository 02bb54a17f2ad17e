"""One table of object types, and everything that must agree with it: the names the
loader and the applier use, the association types, the JSON schema's sections and fields.
A new type is a row plus its friendly fields (ARCHITECTURE.md, "Where to add")."""

from __future__ import annotations

import json
from pathlib import Path

from reconciler.associations import (
    DEFAULT_ASSOCIATION_TYPE_IDS,
    HUBSPOT_DEFINED_TYPE_IDS,
    PRIMARY_ASSOCIATION_TYPE_IDS,
    default_type_id,
    pair_of,
    wrong_pair_problem,
)
from reconciler.identity.markers import MARKER_GROUP, NO_UNIQUE_PROPERTIES
from reconciler.loading.friendly import FRIENDLY_FIELDS
from reconciler.loading.records import OWNED_SECTIONS
from reconciler.model import ASSOCIATION_TARGET_NAMES, SECTION_OBJECT_TYPES, WRITE_ORDER, write_rank
from reconciler.object_types import OBJECT_TYPES, required_properties

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "schemas" / "spec.schema.json").read_text()
)
ENGAGEMENTS = ("calls", "emails", "meetings", "notes", "tasks")
RECORDS = ("contacts", "companies", "deals", "tickets")


def test_the_names_everyone_uses_come_from_the_table() -> None:
    assert dict(SECTION_OBJECT_TYPES) == {
        "contacts": "contacts", "companies": "companies", "deals": "deals",
        "meetings": "meetings", "calls": "calls", "notes": "notes", "tasks": "tasks",
        "emails": "emails",
    }
    assert dict(ASSOCIATION_TARGET_NAMES) == {
        "contact": "contacts", "company": "companies", "deal": "deals", "ticket": "tickets",
        "meeting": "meetings", "call": "calls", "note": "notes", "task": "tasks",
        "email": "emails",
    }
    # what a record points at is written first; other types (tickets, custom) at "*"
    assert WRITE_ORDER == (
        "companies", "contacts", "deals", "*", "meetings", "calls", "emails", "tasks", "notes",
    )
    assert write_rank("tickets") == write_rank("p_widgets") == WRITE_ORDER.index("*")
    assert NO_UNIQUE_PROPERTIES == set(ENGAGEMENTS)  # created, never upserted
    assert OWNED_SECTIONS == set(SECTION_OBJECT_TYPES)
    assert set(MARKER_GROUP) == {t.name for t in OBJECT_TYPES}
    assert dict(required_properties("tickets")).keys() == {"hs_pipeline_stage"}
    assert all(dict(required_properties(t)).keys() == {"hs_timestamp"} for t in ENGAGEMENTS)
    assert dict(required_properties("p_widgets")) == {}
    assert {t.name: t.type_id for t in OBJECT_TYPES} == {
        "contacts": "0-1", "companies": "0-2", "deals": "0-3", "tickets": "0-5",
        "meetings": "0-47", "calls": "0-48", "notes": "0-46", "tasks": "0-27", "emails": "0-49",
    }


def test_every_section_has_its_schema_and_its_friendly_fields() -> None:
    sections = {k for k in SCHEMA["properties"] if k in SECTION_OBJECT_TYPES or k == "objects"}
    assert sections == {*SECTION_OBJECT_TYPES, "objects"}
    for section in SECTION_OBJECT_TYPES:
        definition = SCHEMA["properties"][section]["additionalProperties"]["$ref"]
        fields = SCHEMA["$defs"][definition.rsplit("/", 1)[1]]["properties"]
        beyond = {"calendar", "duration"} if section == "meetings" else set()  # (records.py)
        assert set(fields) - {"owner", "properties", "associations"} == (
            set(FRIENDLY_FIELDS[section]) | beyond
        ), section
    items = SCHEMA["$defs"]["association"]["properties"]
    assert set(ASSOCIATION_TARGET_NAMES) <= set(items)
    assert set(items) - set(ASSOCIATION_TARGET_NAMES) == {
        "object", "key", "id", "label", "type_id", "category",
    }


def test_every_engagement_pair_has_hubspots_default_both_ways() -> None:
    engagement_pairs = {
        (e, r): DEFAULT_ASSOCIATION_TYPE_IDS[(e, r)] for e in ENGAGEMENTS for r in RECORDS
    }
    assert len(engagement_pairs) == 20
    assert engagement_pairs[("notes", "contacts")] == 202
    assert default_type_id("contacts", "notes") == 201
    assert (default_type_id("tasks", "tickets"), default_type_id("tickets", "tasks")) == (230, 229)
    assert (default_type_id("emails", "deals"), default_type_id("deals", "emails")) == (210, 209)
    for (source, target) in DEFAULT_ASSOCIATION_TYPE_IDS:
        assert (target, source) in DEFAULT_ASSOCIATION_TYPE_IDS, (source, target)
    assert len(DEFAULT_ASSOCIATION_TYPE_IDS) == 54  # 40 for engagements, 14 between records
    assert default_type_id("notes", "meetings") is None  # only call ↔ meeting has one


def test_primary_types_and_each_id_names_one_pair() -> None:
    assert dict(PRIMARY_ASSOCIATION_TYPE_IDS) == {
        ("contacts", "companies"): 1, ("companies", "contacts"): 2,
        ("deals", "companies"): 5, ("companies", "deals"): 6,
        ("tickets", "companies"): 26, ("companies", "tickets"): 25,
    }
    assert HUBSPOT_DEFINED_TYPE_IDS[("deals", "companies")] == {5, 341}
    ids = [i for found in HUBSPOT_DEFINED_TYPE_IDS.values() for i in found]
    assert len(ids) == len(set(ids))
    assert pair_of(200) == ("meetings", "contacts")
    assert wrong_pair_problem("meetings", "deals", 212) is None
    assert wrong_pair_problem("meetings", "deals", 9999) is None  # the portal's to say
    assert wrong_pair_problem("deals", "companies", 1) == (
        "type_id 1 is HubSpot's contacts → companies type; deals → companies takes "
        "5 (Primary) or 341"
    )
    assert wrong_pair_problem("notes", "meetings", 200) == (
        "type_id 200 is HubSpot's meetings → contacts type; HubSpot defines no type for "
        "notes → meetings; use a label: defined in the portal"
    )

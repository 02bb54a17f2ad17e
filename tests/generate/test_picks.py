"""Readable references: picks whose fields templates read and copy, scopes that follow
associations, optional picks, and the stability rules with them (plain data in, Plan out)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.errors import SpecError
from reconciler.planning.planner import plan
from reconciler.state.model import Pin

from .conftest import apply_all, load

PROJECT = "name: picks\ntimezone: Europe/Berlin\nseed: 11\n"

#: Companies with contacts (for_each) and deals (for_each); calls on deals read a contact
#: of the deal's company (scope: parent.parent, through the company's associations).
PICKS = """\
generate:
  companies:
    key: "acct-{n}"
    count: 6
    fields:
      name: {fake: company}
  contacts:
    for_each: companies
    key: "{parent}-c{n}"
    count: CONTACTS
    fields:
      first_name: {fake: first_name}
      phone: "+49 30 {{ random_number(1000000, 9999999) }}"
    associations:
      - company: "{{ parent.key }}"
  deals:
    for_each: companies
    key: "{parent}-d{n}"
    count: 2
    owner: OWNER
    fields:
      name: "{{ parent.name }} renewal"
      stage: qualifiedtobuy
      pipeline: default
    associations:
      - company: "{{ parent.key }}"
  calls:
    for_each: deals
    key: "{parent}-call{n}"
    count: 2
    picks:
      company: {reference: parent.parent}
      contact: {random_reference: contacts, scope: parent.parent}
    owner: {copy: parent.owner}
    fields:
      title: "Call with {{ pick.contact.first_name }} ({{ pick.company.name }})"
      timestamp: "-1d 10:00"
      to_number: {copy: pick.contact.phone}
      body: "Asked {{ pick.contact.first_name }} about the renewal."
    associations:
      - deal: "{{ parent.key }}"
      - contact: {pick: contact}
"""


def _spec(contacts: str = "2", owner: str = "bob@example.com", text: str = PICKS) -> str:
    return text.replace("CONTACTS", contacts).replace("OWNER", owner)


@pytest.fixture
def project(tmp_path: Path) -> Callable[..., Path]:
    root = tmp_path / "project"
    root.mkdir()

    def write(spec: str | None = None, **files: str) -> Path:
        (root / "reconciler.yaml").write_text(PROJECT)
        (root / "gen.yaml").write_text(spec if spec is not None else _spec())
        for name, text in files.items():
            (root / name).write_text(text)
        return root

    return write


def _contact_of(record) -> str:  # type: ignore[no-untyped-def]
    return next(a.to_key for a in record.associations if a.to_type == "contacts")


OPTIONAL = PICKS.replace(
    "contact: {random_reference: contacts, scope: parent.parent}",
    "contact: {random_reference: contacts, scope: parent.parent, optional: true}",
).replace(
    'title: "Call with {{ pick.contact.first_name }} ({{ pick.company.name }})"',
    'title: "Call with {{ pick.contact.first_name if pick.contact else \'the team\' }}"',
).replace(
    'body: "Asked {{ pick.contact.first_name }} about the renewal."', "body: Renewal call"
)


def test_a_call_reads_and_copies_its_picked_contact(project: Callable[..., Path]) -> None:
    desired = load(project())
    calls = [r for r in desired.records.values() if r.object_type == "calls"]
    assert len(calls) == 24
    for call in calls:
        contact = desired.records[f"contacts/{_contact_of(call)}"]
        company = desired.records[f"companies/{call.key.split('-d')[0]}"]
        assert call.properties["hs_call_title"] == (
            f"Call with {contact.properties['firstname']} ({company.properties['name']})"
        )
        assert call.properties["hs_call_to_number"] == contact.properties["phone"]
        assert call.properties["hs_call_to_number"].startswith("+49 30 ")  # as is, a string
        assert _contact_of(call).startswith(call.key.split("-d")[0] + "-c")  # the company's
        assert call.owner_email == "bob@example.com"  # the deal's owner, copied


def test_hand_written_contacts_linked_by_association_are_candidates(
    project: Callable[..., Path],
) -> None:
    """scope: parent.parent follows associations: a hand-written contact that names a
    generated company is one of its contacts, with its fields read back by friendly name."""
    root = project(_spec(contacts="0", text=OPTIONAL), **{"hand.yaml": """\
        contacts:
          jane:
            first_name: Jane
            phone: "+44 20 7946 0000"
            associations:
              - company: acct-3
        """.replace("        ", "")})
    desired = load(root)
    for key in ("acct-3-d1-call1", "acct-3-d2-call2"):
        call = desired.records[f"calls/{key}"]
        assert _contact_of(call) == "jane"
        assert call.properties["hs_call_title"] == "Call with Jane"
        assert call.properties["hs_call_to_number"] == "+44 20 7946 0000"
    assert "hs_call_to_number" not in desired.records["calls/acct-2-d1-call1"].properties


def test_a_required_pick_among_nothing_is_a_located_error(project: Callable[..., Path]) -> None:
    with pytest.raises(SpecError) as caught:
        load(project(_spec(contacts="{random_choice: {0: 50%, 2: 50%}}")))
    (issue,) = caught.value.issues
    assert (issue.line, issue.column, issue.path) == (33, 16, "generate.calls.picks.contact")
    assert issue.message == (
        "calls/acct-1-d1-call1: random_reference: no contacts related to companies/acct-1 "
        "(scope: parent.parent) to pick from"
    )


def test_an_optional_pick_among_nothing_leaves_its_association_and_copies_out(
    project: Callable[..., Path],
) -> None:
    desired = load(project(_spec(contacts="{random_choice: {0: 50%, 2: 50%}}", text=OPTIONAL)))
    calls = [r for r in desired.records.values() if r.object_type == "calls"]
    empty = [c for c in calls if not any(a.to_type == "contacts" for a in c.associations)]
    full = [c for c in calls if c not in empty]
    assert empty and full
    for call in empty:
        assert call.properties["hs_call_title"] == "Call with the team"
        assert "hs_call_to_number" not in call.properties
        assert [a.to_type for a in call.associations] == ["deals"]
    for call in full:
        assert call.properties["hs_call_to_number"].startswith("+49 30 ")


def test_reading_an_empty_optional_pick_says_how_to_guard_it(
    project: Callable[..., Path],
) -> None:
    spec = OPTIONAL.replace(
        "'the team' }}\"", "'the team' }}\"\n      notes: \"{{ pick.contact.first_name }}\""
    ).replace("notes:", "recording_url:")
    with pytest.raises(SpecError) as caught:
        load(project(_spec(contacts="{random_choice: {0: 50%, 2: 50%}}", text=spec)))
    message = caught.value.issues[0].message
    assert message.endswith(
        "pick.contact is empty for this record (no contacts related to companies/acct-1 "
        "(scope: parent.parent)), so it has no first_name; guard it with "
        "{% if pick.contact %}...{% endif %}"
    ) or "guard it with {% if pick.contact %}" in message


@pytest.mark.parametrize(("title", "message"), [
    ("{{ pick.contact.frist_name }}",
     "pick.contact.frist_name: contacts records have no field 'frist_name'; did you mean "
     "'first_name'?"),
    ("{{ pick.contatc.first_name }}",
     "pick.contatc is not a pick of this generator; did you mean 'contact'?"),
])
def test_what_a_template_reads_through_a_pick_is_checked(
    project: Callable[..., Path], title: str, message: str
) -> None:
    spec = _spec().replace('"Call with {{ pick.contact.first_name }} ({{ pick.company.name }})"',
                           f'"{title}"')
    with pytest.raises(SpecError) as caught:
        load(project(spec))
    assert caught.value.issues[0].message.endswith(message)


def test_a_generated_time_cannot_be_read_through_a_pick(project: Callable[..., Path]) -> None:
    spec = _spec() + """\
  notes_calls:
    type: calls
    for_each: deals
    key: "{parent}-n{n}"
    picks:
      call: {random_reference: meetings}
    fields:
      title: "{{ pick.call.start }}"
      timestamp: "-1d 11:00"
  meetings:
    key: "m-{n}"
    count: 2
    fields:
      title: Sync
      start: {datetime_between: {start: -5d, end: -1d}}
"""
    with pytest.raises(SpecError) as caught:
        load(project(spec))
    assert caught.value.issues[0].message.endswith(
        "pick.call.start is a generated time, resolved at each run; it cannot be read "
        "through a pick"
    )


def test_a_reference_pick_reads_the_grandparent_by_its_fields(
    project: Callable[..., Path],
) -> None:
    desired = load(project())
    call = desired.records["calls/acct-2-d1-call1"]
    assert call.properties["hs_call_title"].endswith(
        f"({desired.records['companies/acct-2'].properties['name']})"
    )


# -- stability --------------------------------------------------------------------------


def test_a_re_plan_is_no_changes(project: Callable[..., Path]) -> None:
    root = project()
    state = apply_all(load(root))
    assert not plan(load(root), state).has_changes


def test_more_contacts_only_create_and_picks_stay_with_their_values(
    project: Callable[..., Path],
) -> None:
    """New contacts outrank some applied picks: the pick, its title and its copied phone
    stay with the applied contact, and only the new records are created."""
    root = project()
    state = apply_all(load(root))
    grown = load(project(_spec(contacts="12")))
    result = plan(grown, state)
    assert {c.action for c in result.changes} == {"create"}
    assert {c.object_type for c in result.changes} == {"contacts"}
    fresh = plan(grown, type(state).empty())
    drifted = [
        c.address for c in fresh.changes if c.object_type == "calls"
        and _contact_of(c) != _contact_of(state.records[c.address])
    ]
    assert drifted  # without a state, some calls would pick a new contact


def test_editing_a_template_that_reads_a_pick_updates_that_field_and_moves_drifted_picks(
    project: Callable[..., Path],
) -> None:
    """Where a new candidate outranks the applied pick, an edit of a field read through
    the pick makes the group again: association, title, phone and body move together to
    the contact picked now. Elsewhere only the edited field changes."""
    root = project()
    state = apply_all(load(root))
    state = apply_all(load(project(_spec(contacts="12"))), state)  # picks kept, drifted
    edited = _spec(contacts="12").replace("Asked {{", "Called {{")
    desired = load(project(edited))
    fresh = {a: _contact_of(r) for a, r in desired.records.items() if a.startswith("calls/")}
    result = plan(desired, state)
    drifted = {a for a, key in fresh.items() if key != _contact_of(state.records[a])}
    assert drifted and len(drifted) < len(fresh)
    for change in result.changes:
        assert change.object_type == "calls" and change.action == "update"
        names = {d.name for d in change.diffs}
        if change.address in drifted:
            assert {"hs_call_body", "hs_call_title", "hs_call_to_number"} <= names
            contact = desired.records[f"contacts/{fresh[change.address]}"]
            assert change.after["hs_call_to_number"] == contact.properties["phone"]
            assert [a.to_key for a in change.add_associations] == [fresh[change.address]]
        else:
            assert names == {"hs_call_body"} and not change.add_associations
    assert {c.address for c in result.changes} == set(fresh)


def test_a_faker_upgrade_of_the_contact_s_name_keeps_the_title(
    project: Callable[..., Path],
) -> None:
    """A title read through a pick is pinned: what it was applied with stays."""
    root = project()
    state = apply_all(load(root))
    record = state.records["calls/acct-1-d1-call1"]
    pin = record.pinned["hs_call_title"]
    assert pin.expr.startswith("gen:")
    state.records["calls/acct-1-d1-call1"] = record.__class__(
        id=record.id, object_type=record.object_type,
        properties={**record.properties, "hs_call_title": "Call with Old (Name)"},
        associations=record.associations,
        pinned={**record.pinned, "hs_call_title": Pin(pin.expr, "Call with Old (Name)")},
    )
    assert not plan(load(root), state).has_changes


def test_the_owner_copied_from_the_deal_follows_the_deal(project: Callable[..., Path]) -> None:
    root = project()
    state = apply_all(load(root))
    result = plan(load(project(_spec(owner="carol@example.com"))), state)
    assert {c.object_type for c in result.changes} == {"deals", "calls"}
    assert all(c.action == "update" for c in result.changes)


OPTIONAL_30 = PICKS.replace("count: 2\n    picks:", "count: COUNT\n    picks:").replace(
    "contact: {random_reference: contacts, scope: parent.parent}",
    "contact: {random_reference: contacts, scope: parent.parent, optional: PERCENT}",
).replace(
    'title: "Call with {{ pick.contact.first_name }} ({{ pick.company.name }})"',
    "title: Renewal",
).replace('body: "Asked {{ pick.contact.first_name }} about the renewal."', "body: Renewal")


def test_optional_30_percent_is_a_fixed_share_and_40_only_adds(
    project: Callable[..., Path],
) -> None:
    spec = OPTIONAL_30.replace("COUNT", "84")
    root = project(_spec(text=spec.replace("PERCENT", "30%")))
    desired = load(root)
    calls = [r for r in desired.records.values() if r.object_type == "calls"]
    picked = {r.address for r in calls if any(a.to_type == "contacts" for a in r.associations)}
    assert len(calls) == 1008
    assert len(picked) == 309  # the same every run: presence is the record's own draw
    state = apply_all(desired)
    raised = load(project(_spec(text=spec.replace("PERCENT", "40%"))))
    result = plan(raised, state)
    assert 60 < len(result.changes) < 140
    for change in result.changes:  # the new pick, and the phone copied from it
        assert change.action == "update" and change.address not in picked
        assert [(d.name, d.before) for d in change.diffs] == [("hs_call_to_number", None)]
        assert not change.remove_associations
        assert [a.to_type for a in change.add_associations] == ["contacts"]


# -- scopes, and the choice among many ----------------------------------------------------

SCOPES = """\
generate:
  companies:
    key: "acct-{n}"
    count: 3
    fields: {name: "Company {{ n }}"}
  contacts:
    for_each: companies
    key: "{parent}-c{n}"
    count: 3
    fields: {first_name: "C{{ n }}"}
  deals:
    for_each: companies
    key: "{parent}-d{n}"
    count: 1
    fields: {name: "Deal {{ n }}", stage: qualifiedtobuy, pipeline: default}
    associations:
      - company: "{{ parent.key }}"
      - contact: "{{ parent.key }}-c2"
  tasks_as_calls:
    type: calls
    for_each: deals
    key: "{parent}-t{n}"
    count: 1
    picks:
      buyer: {random_reference: contacts, scope: parent}
      company: {random_reference: companies, scope: parent}
      colleague: {random_reference: contacts, scope: pick.company, via: children}
      head_office: {reference: {type: companies, key: "acct-1"}}
      again: {reference: pick.buyer}
    fields:
      title: "{{ pick.buyer.first_name }} {{ pick.colleague.parent }} {{ pick.head_office.name }}"
      timestamp: "-1d 10:00"
    associations:
      - contact: {pick: buyer}
      - contact: {pick: again}
"""


def test_scopes_follow_associations_children_and_other_picks(
    project: Callable[..., Path],
) -> None:
    desired = load(project(SCOPES))
    for n in (1, 2, 3):
        call = desired.records[f"calls/acct-{n}-d1-t1"]
        # the deal's only associated contact; the company its association names; one of
        # that company's children; the record at a key; the same contact again, listed once
        assert call.properties["hs_call_title"] == f"C2 acct-{n} Company 1"
        assert [a.to_key for a in call.associations] == [f"acct-{n}-c2"]


def test_a_scope_key_that_names_nothing_is_located(project: Callable[..., Path]) -> None:
    with pytest.raises(SpecError) as caught:
        load(project(SCOPES.replace('key: "acct-1"', 'key: "acct-9"')))
    assert caught.value.issues[0].message == (
        "calls/acct-1-d1-t1: reference: no companies record has the key 'acct-9'"
    )


@pytest.mark.parametrize("size", [20, 300])
def test_a_new_candidate_moves_only_the_picks_it_outranks(size: int) -> None:
    from reconciler.generate.relations import Pool

    before = Pool(f"c-{i}" for i in range(size))
    after = Pool(f"c-{i}" for i in range(size + size // 4))
    moved = 0
    for record in range(2000):
        old, new = before.choose(f"r{record}"), after.choose(f"r{record}")
        if old != new:
            moved += 1
            assert int(new.split("-")[1]) >= size  # only ever to a new candidate
    assert 0.1 < moved / 2000 < 0.3  # about the new candidates' share (a fifth)

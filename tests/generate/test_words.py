"""Words: random_choice given a list in a template, and the phrase bank (our own words,
drawn like Faker: per seed, generator, key and field; pinned once applied)."""

from __future__ import annotations

import random
import re
from collections import Counter
from pathlib import Path

import pytest

from reconciler.errors import SpecError
from reconciler.generate import phrases
from reconciler.planning.planner import plan
from reconciler.state.model import Pin

from .conftest import apply_all, load

PROJECT = "name: words\ntimezone: Europe/Berlin\nseed: 5\n"


def _project(root: Path, generators: str) -> Path:
    root.mkdir(exist_ok=True)
    (root / "reconciler.yaml").write_text(PROJECT)
    (root / "gen.yaml").write_text(generators)
    return root


def _meetings(title: str, count: int = 200, extra: str = "") -> str:
    return f"""\
generate:
  meetings:
    key: "m-{{n}}"
    count: {count}
    fields:
      title: "{title}"
      start: "+1d 10:00"{extra}
"""


def test_random_choice_picks_from_a_list_in_a_template(tmp_path: Path) -> None:
    root = _project(tmp_path / "p", _meetings("{{ random_choice(['Demo', 'QBR']) }} with Acme"))
    titles = Counter(r.properties["hs_meeting_title"] for r in load(root).records.values())
    assert set(titles) == {"Demo with Acme", "QBR with Acme"}
    assert min(titles.values()) > 60  # both, about evenly


def test_random_choice_takes_weights_as_a_mapping(tmp_path: Path) -> None:
    root = _project(tmp_path / "p", _meetings("{{ random_choice({'Demo': 3, 'QBR': '1'}) }}"))
    titles = Counter(r.properties["hs_meeting_title"] for r in load(root).records.values())
    assert set(titles) == {"Demo", "QBR"} and titles["Demo"] > 2 * titles["QBR"]


@pytest.mark.parametrize(("call", "message"), [
    ("random_choice([])", "random_choice([]): the list has no options to pick from"),
    ("random_choice({'a': 0})", "random_choice({...}): the weights add up to zero"),
])
def test_random_choice_of_nothing_is_a_located_error(
    tmp_path: Path, call: str, message: str
) -> None:
    root = _project(tmp_path / "p", _meetings("{{ " + call + " }}", count=2))
    with pytest.raises(SpecError) as caught:
        load(root)
    (issue,) = caught.value.issues
    assert issue.render().endswith(
        f"gen.yaml:6:14: generate.meetings.fields.title: meetings/m-1: {message}"
    )


def test_random_choice_with_several_options_draws_as_before(tmp_path: Path) -> None:
    """Values made before the list form existed are unchanged (no churn on upgrade)."""
    root = _project(tmp_path / "p", _meetings("{{ random_choice('Demo', 'QBR') }}", count=5))
    listed = _project(tmp_path / "q", _meetings("{{ random_choice(['Demo', 'QBR']) }}", count=5))
    old = [r.properties["hs_meeting_title"] for r in load(root).records.values()]
    new = [r.properties["hs_meeting_title"] for r in load(listed).records.values()]
    assert old == new


# -- the phrase bank ---------------------------------------------------------------------


def test_the_bank_covers_every_kind_stage_and_outcome_without_slots() -> None:
    """Every part of every kind has words for every stage and outcome, even when no slot
    is given; no fragment twice; only known slots; plain ASCII punctuation."""
    bank = phrases.bank()
    assert set(bank) >= {"agenda", "call_note", "meeting_note", "email_subject",
                         "email_body", "task_subject", "meeting_title"}
    for kind in bank.values():
        for stage in (None, *phrases.STAGES):
            for outcome in kind.outcomes or (None,):
                pools = phrases._pools(kind.name, stage, outcome, frozenset())
                assert all(pools), (kind.name, stage, outcome)
        texts = {t for fragments in kind.fragments.values() for t in fragments}
        for text in texts:
            assert set(re.findall(r"\{([a-z_]+)\}", text)) <= set(phrases.SLOTS), text
            assert text.isascii() and "  " not in text and text == text.strip(), text


def test_no_fragment_is_written_twice() -> None:
    from ruamel.yaml import YAML

    data = YAML(typ="safe").load(Path(phrases.__file__).with_name("phrases.yaml").read_text())
    for name, kind in data["kinds"].items():
        texts = [t for entry in kind["entries"] for part in kind["parts"]
                 for t in entry.get(part) or ()]
        assert [t for t, n in Counter(texts).items() if n > 1] == [], name


def test_a_call_note_is_the_same_for_the_same_stream_and_varied_across_records() -> None:
    first = phrases.draw(random.Random(1), "call_note", "qualifiedtobuy", "connected")
    again = phrases.draw(random.Random(1), "call_note", "qualifiedtobuy", "connected")
    assert first == again
    notes = {phrases.draw(random.Random(n), "call_note", "qualifiedtobuy", "connected",
                          {"contact": "Ann"}) for n in range(3000)}
    assert len(notes) > 1500  # 3,000 calls do not read like three


def test_slots_are_filled_and_a_fragment_needing_a_missing_one_is_not_drawn() -> None:
    texts = {phrases.draw(random.Random(n), "email_subject", "contractsent", None,
                          {"company": "Acme"}) for n in range(400)}
    assert "Signature copy for Acme" in texts
    bare = {phrases.draw(random.Random(n), "email_subject", "contractsent") for n in range(400)}
    assert not any("{" in t for t in bare) and "Signature copy for Acme" not in bare


GENERATORS = """\
generate:
  calls:
    key: "call-{n}"
    count: 30
    fields:
      timestamp: "-1d 10:00"
      title: {phrase: {kind: email_subject, stage: decisionmakerboughtin}}
      body: "{{ phrase('call_note', stage='contractsent', outcome=fields.disposition, contact='Ann') }}"
      disposition: {random_choice: [connected, no_answer]}
"""


def test_phrases_from_templates_and_as_a_value_kind_are_pinned(tmp_path: Path) -> None:
    root = _project(tmp_path / "p", GENERATORS.replace(
        "      disposition: {random_choice: [connected, no_answer]}\n", ""
    ).replace("      timestamp:", "      disposition: {random_choice: [connected, no_answer]}\n"
              "      timestamp:"))
    desired = load(root)
    call = desired.records["calls/call-1"]
    assert call.relative_times["hs_call_title"].startswith("gen:")
    assert call.relative_times["hs_call_body"].startswith("gen:")
    bodies = {r.properties["hs_call_body"] for r in desired.records.values()}
    assert any("Signature is waiting" in b or "Legal" in b or "Payment" in b or "contract" in b
               or "start date" in b or "sign" in b for b in bodies)
    assert load(root).records["calls/call-1"].properties == call.properties  # deterministic
    # a later bank (or Faker) edit: what was applied stays
    state = apply_all(desired)
    record = state.records["calls/call-1"]
    pin = record.pinned["hs_call_body"]
    state.records["calls/call-1"] = record.__class__(
        id=record.id, object_type=record.object_type,
        properties={**record.properties, "hs_call_body": "Words of an older bank."},
        associations=record.associations,
        pinned={**record.pinned, "hs_call_body": Pin(pin.expr, "Words of an older bank.")},
    )
    assert not plan(load(root), state).has_changes


@pytest.mark.parametrize(("value", "message"), [
    ("{phrase: {kind: call_notes}}",
     "phrase: no kind 'call_notes'; did you mean 'call_note'?; kinds: agenda, call_note, "
     "email_body, email_subject, meeting_note, meeting_title, task_subject"),
    ("{phrase: {kind: agenda, stage: closedwonn}}",
     "phrase: no agenda phrases for the stage 'closedwonn'; did you mean 'closedwon'?; stages: "
     "appointmentscheduled, qualifiedtobuy, presentationscheduled, decisionmakerboughtin, "
     "contractsent, closedwon, closedlost (or leave stage out)"),
    ("{phrase: {kind: call_note, outcome: voicemail}}",
     "phrase: no call_note phrases for the outcome 'voicemail'; did you mean "
     "'left_voicemail'?; outcomes: connected, "
     "left_voicemail, no_answer, busy, wrong_number"),
    ("{phrase: {kind: task_subject, contacts: Ann}}",
     "phrase: no slot 'contacts'; did you mean 'contact'?; slots: contact, company, product, "
     "owner_first"),
])
def test_a_phrase_asked_wrongly_is_a_located_error(
    tmp_path: Path, value: str, message: str
) -> None:
    root = _project(tmp_path / "p", _meetings("x", count=1, extra=f"\n      body: {value}"))
    with pytest.raises(SpecError) as caught:
        load(root)
    (issue,) = caught.value.issues
    assert issue.render().endswith(f"generate.meetings.fields.body: {message}")


def test_a_phrase_stage_from_a_template_is_checked_when_drawn(tmp_path: Path) -> None:
    root = _project(tmp_path / "p", _meetings(
        "{{ phrase('meeting_title', stage='won') }}", count=1
    ))
    with pytest.raises(SpecError) as caught:
        load(root)
    assert caught.value.issues[0].message.startswith(
        "meetings/m-1: phrase: no meeting_title phrases for the stage 'won'"
    )

"""Pinned values: a relative time keeps the value it was first applied with while its
expression is unchanged, and a generated record's random pick among records keeps its
target while the pick's definition is unchanged (both recorded in the state's ``pinned``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import cast

from reconciler.model import AssociationRef, DesiredRecord, address_of
from reconciler.planning.changes import Change
from reconciler.planning.comparing import same_value
from reconciler.state.model import Pin, RecordState


def desired_properties(
    record: DesiredRecord, recorded: RecordState | None, owner_ids: Mapping[str, str]
) -> tuple[dict[str, str], dict[str, Pin]]:
    """The record's properties with pinned relative times and resolved owner applied."""
    properties = record.properties
    # (runs for every record of every plan: a mapping proxy's copy() is the C dict copy,
    # dict() of one goes key by key)
    after = (
        cast("MappingProxyType[str, str]", properties).copy()
        if type(properties) in _COPIES else dict(properties)
    )
    pins: dict[str, Pin] = {}
    relative = record.relative_times
    if relative:
        recorded_pins = recorded.pinned if recorded is not None else _NO_PINS
        for name, expr in relative.items():
            if name.startswith(PICK_PREFIX):
                continue
            pinned = recorded_pins.get(name)
            if pinned is not None and pinned.expr == expr:
                after[name] = pinned.value
                pins[name] = pinned
            elif name in after:
                pins[name] = Pin(expr=expr, value=after[name])
        if "hs_meeting_start_time" in relative and "hs_timestamp" in after:
            # hs_timestamp mirrors the start time; keep them pinned together.
            after["hs_timestamp"] = after["hs_meeting_start_time"]
    if record.owner_email is not None:
        owner_id = owner_ids.get(record.owner_email.lower())
        after["hubspot_owner_id"] = owner_id if owner_id else f"<owner {record.owner_email}>"
    return after, pins


#: ``relative_times`` entries named ``@association:<index>`` pin a generated record's
#: association chosen at random among records (``random_reference``, reconciler.generate):
#: the expression is a digest of the pick's definition, the value the chosen key.
PICK_PREFIX = "@association:"
_COPIES = (dict, MappingProxyType)
_NO_PINS: Mapping[str, Pin] = MappingProxyType({})


def picked_associations(
    record: DesiredRecord, recorded: RecordState | None, known: Mapping[str, DesiredRecord]
) -> tuple[tuple[AssociationRef, ...], dict[str, Pin]]:
    """The record's associations with pinned random picks kept, and the picks' pins.

    A pick applied once stays while its definition is unchanged and its target is still
    in the spec, however many candidates were added since.
    """
    for name in record.relative_times:
        if name.startswith(PICK_PREFIX):
            break
    else:  # no picks (a loop, not any() over a generator: this runs for every record)
        return record.associations, {}
    associations = list(record.associations)
    pins: dict[str, Pin] = {}
    for name, expr in record.relative_times.items():
        if not name.startswith(PICK_PREFIX):
            continue
        index = int(name[len(PICK_PREFIX):])
        if not 0 <= index < len(associations) or associations[index].to_key is None:
            continue
        chosen = associations[index]
        pinned = recorded.pinned.get(name) if recorded else None
        if (
            pinned is not None and pinned.expr == expr and pinned.value != chosen.to_key
            and address_of(chosen.to_type, pinned.value) in known
        ):
            chosen = replace(chosen, to_key=pinned.value)
            associations[index] = chosen
        value = str(chosen.to_key)
        # the recorded pin itself when it is the same: the plan compares pins as dicts,
        # and an identical object compares without calling Pin.__eq__
        same = pinned is not None and pinned.expr == expr and pinned.value == value
        pins[name] = pinned if same and pinned is not None else Pin(expr=expr, value=value)
    return tuple(associations), pins


def same_pins(pins: Mapping[str, Pin], recorded: RecordState, record: DesiredRecord) -> bool:
    """The pins the record uses are those recorded (a pin the spec no longer uses, say a
    relative time written out as the time it was pinned to, changes nothing)."""
    if pins == recorded.pinned:  # the common case, one C-level comparison
        return True
    return pins == {k: v for k, v in recorded.pinned.items() if k in record.relative_times}


def fresh_pins(record: DesiredRecord, after: Mapping[str, str]) -> dict[str, Pin]:
    return {
        name: Pin(expr=expr, value=after[name])
        for name, expr in record.relative_times.items()
        if name in after
    }


def repin_change(
    record: DesiredRecord, recorded: RecordState, after: Mapping[str, str],
    pins: Mapping[str, Pin], associations: tuple[AssociationRef, ...],
) -> Change:
    """A record whose pins changed while every value stays as it is: a state-only change."""
    changed = sorted(name for name, pin in pins.items() if recorded.pinned.get(name) != pin)
    what = ", ".join(_pin_label(name) for name in changed) or "pins"
    return Change(
        action="repin", object_type=record.object_type, key=record.key,
        reason=f"{what}: the definition changed, the value did not",
        hubspot_id=recorded.id, after=after, associations=associations, pins=pins,
        source=record.source,
    )


def _pin_label(name: str) -> str:
    return f"association {name[len(PICK_PREFIX):]}" if name.startswith(PICK_PREFIX) else name


def rederived_pins(
    record: DesiredRecord, recorded: RecordState, known: Mapping[str, DesiredRecord],
    owner_ids: Mapping[str, str],
) -> dict[str, Pin]:
    """The pins of a record found in the portal (its digest's, ``recorded.pinned``), with
    the re-pins a kept state would have applied: a pin whose definition changed while the
    value the spec gives now is the one the portal holds is the spec's pin.

    A re-pin writes nothing to the portal, so the digest there keeps the pin it replaced;
    a rebuild from it plans exactly what the kept state would (``No changes.``), not the
    same re-pin again.
    """
    _after, wanted = desired_properties(record, recorded, owner_ids)
    _associations, picks = picked_associations(record, recorded, known)
    pinned = dict(recorded.pinned)
    for name, pin in {**wanted, **picks}.items():
        old = pinned.get(name)
        if old is None:
            held = recorded.properties.get(name)
            if not name.startswith(PICK_PREFIX) and held is not None and same_value(
                held, pin.value
            ):
                pinned[name] = pin
        elif old.expr != pin.expr and same_value(old.value, pin.value):
            pinned[name] = pin
    return pinned

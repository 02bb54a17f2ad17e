"""The checks themselves: a ``DesiredState`` against a ``Catalogue``, plain data in, findings out.

Each rule mirrors a refusal HubSpot answers a write with (facts §10: PROPERTY_DOESNT_EXIST,
INVALID_OPTION, INVALID_INTEGER, INVALID_DATE, INVALID_BOOLEAN, read-only values, owners
and labels that do not exist, associations to records that do not exist), so ``plan``
reports it with the place in the spec instead of ``apply`` failing on it. No I/O here:
``reconciler.workflow.catalogue_reads`` reads the portal, ``positions`` finds lines.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone

from reconciler.associations import HUBSPOT_DEFINED_TYPE_IDS
from reconciler.identity.markers import MARKER_PROPERTY, PROJECT_PROPERTY
from reconciler.loading.friendly import MAX_TEXT_CHARACTERS
from reconciler.loading.issues import did_you_mean
from reconciler.model import AssociationRef, DesiredRecord, DesiredState
from reconciler.planning.catalogue.definitions import Catalogue, PropertyInfo
from reconciler.planning.schema_changes import placeholder_of

#: The reconciler's own properties share this prefix: its markers (``MARKER_PROPERTY``,
#: ``PROJECT_PROPERTY``) and what it keeps beside them (the applied digest). Apply creates
#: them (``marker_writes.ensure_markers``) and writes them; a spec never has to.
TOOL_PREFIX = "reconciler_"
assert MARKER_PROPERTY.startswith(TOOL_PREFIX) and PROJECT_PROPERTY.startswith(TOOL_PREFIX)
#: How many options a message lists before "and N more".
_SHOWN_OPTIONS = 10

_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?")
_THOUSANDS = re.compile(r"-?\d{1,3}(,\d{3})+(\.\d+)?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_MILLIS = re.compile(r"-?\d+")


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem of one record, before it has a line and column.

    It is about the property ``prop`` (as written, or the field that set it), or about the
    record's association number ``association`` (its ``label:``, or the target naming an
    id when ``about_target``), or else about the record as a whole.
    """

    address: str
    message: str
    prop: str | None = None
    association: int | None = None
    about_target: bool = False
    at_key: bool = False


def find_problems(
    desired: DesiredState,
    catalogue: Catalogue,
    *,
    owner_emails: Mapping[str, str] | None = None,
    existing: Mapping[str, frozenset[str]] | None = None,
) -> list[Finding]:
    """Everything in ``desired`` the portal described by ``catalogue`` would refuse.

    ``owner_emails`` (lowercase email → owner id) and ``existing`` (object type → the ids
    of the existing-id associations that were found) are checked only when given; types
    and label pairs the catalogue does not hold are not checked at all.
    """
    findings: list[Finding] = []
    reported_types: set[str] = set()
    seen: dict[tuple[str, str, str], str | None] = {}  # values repeat: check each once
    for record in desired.records.values():  # in the order of the files
        object_type = record.object_type
        if object_type in catalogue.unknown_types:
            if object_type not in reported_types:
                reported_types.add(object_type)
                message = f"object type {object_type!r} does not exist in this portal"
                findings.append(Finding(record.address, message, at_key=True))
            continue
        properties = catalogue.properties.get(object_type)
        if properties is not None:
            findings.extend(_property_findings(record, properties, catalogue, seen))
        if owner_emails is not None and record.owner_email:
            if record.owner_email.lower() not in owner_emails:
                findings.append(Finding(record.address, _unknown_owner_email(
                    record.owner_email, catalogue.deactivated_owners,
                ), prop="hubspot_owner_id"))
        findings.extend(_association_findings(record, catalogue, existing))
    return findings


def _property_findings(
    record: DesiredRecord,
    properties: Mapping[str, PropertyInfo],
    catalogue: Catalogue,
    seen: dict[tuple[str, str, str], str | None],
) -> list[Finding]:
    findings: list[Finding] = []
    for name, value in record.properties.items():
        if name.startswith(TOOL_PREFIX):
            continue
        info = properties.get(name)
        if info is None:
            hint = did_you_mean(name, [p for p in properties if not p.startswith(TOOL_PREFIX)])
            message = (
                f"property {name!r} does not exist for {record.object_type} in this portal{hint}"
            )
            findings.append(Finding(record.address, message, prop=name, at_key=True))
            continue
        key = (record.object_type, name, value)
        if key in seen:
            problem = seen[key]
        else:
            problem = seen[key] = value_problem(
                info, value, catalogue.owner_ids, catalogue.deactivated_owners
            )
        if problem is not None:
            findings.append(Finding(record.address, problem, prop=name))
    return findings


def value_problem(
    info: PropertyInfo,
    value: str,
    owner_ids: frozenset[str] | None,
    deactivated: Mapping[str, str] | None = None,
) -> str | None:
    """Why HubSpot would refuse ``value`` for this property, or None if it would take it.

    ``deactivated``: the portal's deactivated owners (id → email), to name them."""
    if info.calculated:
        return f"{info.name} is calculated by HubSpot and cannot be set; remove it"
    if info.read_only:
        return f"{info.name} is read-only (HubSpot sets it); remove it"
    if value == "":
        return None  # an empty value clears the property, whatever its type
    text = value.strip()
    kind = info.type
    if kind == "string" and len(value) > MAX_TEXT_CHARACTERS:
        return (
            f"{info.name} is {len(value):,} characters; HubSpot's text properties hold at "
            f"most {MAX_TEXT_CHARACTERS:,}"
        )
    if kind == "number":
        if _NUMBER.fullmatch(text):
            return None
        if _THOUSANDS.fullmatch(text):
            fix = f"write {text.replace(',', '')}"
        else:
            fix = "write digits with an optional decimal point, like 1500.5"
        return f"{info.name} must be a number, not {value!r}; {fix}"
    if kind == "bool":
        if text.lower() in ("true", "false"):
            return None
        return f"{info.name} must be true or false, not {value!r}"
    if kind == "date":
        if _is_date(text):
            return None
        return f"{info.name} must be a date (YYYY-MM-DD), not {value!r}"
    if kind == "datetime":
        if _is_datetime(text):
            return None
        return (
            f"{info.name} must be a date and time (ISO 8601, like 2026-12-01T10:00:00Z), "
            f"not {value!r}"
        )
    if kind == "enumeration":
        items = value.split(";") if info.multiple else [value]
        if info.owner:
            if owner_ids is None:
                return None
            for item in items:
                if item not in owner_ids:
                    if deactivated and item in deactivated:
                        return _deactivated(item, deactivated[item])
                    return f"{item} is not an owner id in this portal; use an owner's id or email"
            return None
        if not info.options or info.external_options:
            return None  # options from elsewhere (or none listed): nothing to check against
        values = [v for v, _label in info.options]
        for item in items:
            if item not in values:
                return _option_problem(info, item)
    return None


def _unknown_owner_email(email: str, deactivated: Mapping[str, str]) -> str:
    for owner_id, known in deactivated.items():
        if known and known.lower() == email.lower():
            return _deactivated(owner_id, email)
    return f"{email} is not an owner in this portal; use an owner's email or id"


def _deactivated(owner_id: str, email: str) -> str:
    """HubSpot keeps deactivated users as archived owners (owners guide: ``archived=true``
    lists "users that were deactivated"); a record cannot be given to one."""
    who = f"{email} is a deactivated owner in this portal (owner id {owner_id})" if email else (
        f"{owner_id} is a deactivated owner in this portal"
    )
    return f"{who}; choose an active owner"


def _option_problem(info: PropertyInfo, item: str) -> str:
    wanted = _folded(item)
    for value, label in info.options:
        if _folded(label) == wanted and label != value:
            made = placeholder_of(value)  # (a key of the spec: never a value to write)
            if made is not None:
                key = made[1].split("/")[1]
                if made[0] == "pipeline":
                    return f"{item!r} is the label of pipeline {key}; write its key, {key}"
                return (f"{item!r} is a stage of pipeline {key} in the spec, not of this "
                        f"record's pipeline; name that pipeline too ({key})")
            return f"{item!r} is the label of the {info.name} option {value!r}; write {value}"
    for value, _label in info.options:
        if value.lower() == item.lower():
            return f"{item!r} is not an option of {info.name}; did you mean {value!r}?"
    values = [value for value, _label in info.options]
    hint = did_you_mean(item, values)
    if hint:
        return f"{item!r} is not an option of {info.name}{hint}"
    shown = ", ".join(values[:_SHOWN_OPTIONS])
    if len(values) > _SHOWN_OPTIONS:
        shown += f" and {len(values) - _SHOWN_OPTIONS} more"
    return f"{item!r} is not an option of {info.name}; use one of: {shown}"


def _folded(text: str) -> str:
    return " ".join(text.replace("_", " ").replace("-", " ").split()).lower()


def _is_date(text: str) -> bool:
    if _DATE.fullmatch(text):
        try:
            datetime.strptime(text, "%Y-%m-%d")
        except ValueError:
            return False
        return True
    if _MILLIS.fullmatch(text):  # HubSpot also takes midnight UTC in Unix milliseconds
        try:
            moment = datetime.fromtimestamp(int(text) / 1000, tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            return False
        return moment.hour == moment.minute == moment.second == moment.microsecond == 0
    return False


def _is_datetime(text: str) -> bool:
    if _MILLIS.fullmatch(text):
        try:
            datetime.fromtimestamp(int(text) / 1000, tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            return False
        return True
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return False
    return True


def _association_findings(
    record: DesiredRecord,
    catalogue: Catalogue,
    existing: Mapping[str, frozenset[str]] | None,
) -> list[Finding]:
    findings: list[Finding] = []
    for index, ref in enumerate(record.associations):
        pair = (record.object_type, ref.to_type)
        if ref.label is not None and pair in catalogue.labels:
            labels = catalogue.labels[pair]
            if ref.label.lower() not in {label.lower() for label in labels}:
                hint = did_you_mean(ref.label, labels)
                if not hint:
                    hint = (
                        f"; defined: {', '.join(labels)}"
                        if labels
                        else "; none is defined (create it in HubSpot first)"
                    )
                message = (
                    f"association label {ref.label!r} does not exist for "
                    f"{record.object_type} → {ref.to_type} in this portal{hint}"
                )
                findings.append(Finding(record.address, message, association=index))
        problem = type_id_problem(record.object_type, ref, catalogue)
        if problem is not None:
            findings.append(Finding(record.address, problem, association=index))
        if ref.to_id is not None and existing is not None and ref.to_type in existing:
            if ref.to_id not in existing[ref.to_type]:
                message = (
                    f"no {ref.to_type} record has the id {ref.to_id} in this portal "
                    "(deleted, archived, or a typo?)"
                )
                findings.append(
                    Finding(record.address, message, association=index, about_target=True)
                )
    return findings


def checks_type_id(from_type: str, ref: AssociationRef) -> bool:
    """Whether ``ref``'s type id needs the portal's word: HubSpot-defined ids of the pair
    are known (``reconciler.associations``; one of another pair is refused at validate);
    any other id, or a user-defined one, is checked against the pair's listed types."""
    if ref.type_id is None or ref.label is not None:
        return False
    known = HUBSPOT_DEFINED_TYPE_IDS.get((from_type, ref.to_type), frozenset())
    return ref.category != "HUBSPOT_DEFINED" or ref.type_id not in known


def type_id_problem(from_type: str, ref: AssociationRef, catalogue: Catalogue) -> str | None:
    """Why the portal would refuse ``ref``'s ``type_id`` for this pair (HubSpot takes the
    pair from the type id, and answers another pair's with a misleading "CONTACT=… is not
    valid": hubspot-api-nodejs#646), or None."""
    pair = (from_type, ref.to_type)
    listed = catalogue.type_ids.get(pair)
    if listed is None or not checks_type_id(from_type, ref) or ref.type_id is None:
        return None
    if (ref.category, ref.type_id) in listed:
        return None
    for category, type_id in listed:
        if type_id == ref.type_id:
            return (f"type_id {ref.type_id} is {category} for {from_type} → {ref.to_type} in this "
                    f"portal; add category: {category}")
    shown = ", ".join(f"{type_id} ({category})" for category, type_id in listed[:_SHOWN_OPTIONS])
    more = f" and {len(listed) - _SHOWN_OPTIONS} more" if len(listed) > _SHOWN_OPTIONS else ""
    return (
        f"type_id {ref.type_id} is not an association type of {from_type} → {ref.to_type} in "
        f"this portal; it has {shown or 'none'}{more}"
    )

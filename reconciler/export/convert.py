"""Portal records → spec record bodies: local keys, friendly fields, owners, associations.

The reverse of ``reconciler.loading.records``: a property the spec has a friendly field for
is written as that field (when its value fits the field's schema: a portal's custom call
outcome is not one of ``status``'s values, so it stays a raw property); times become ISO
8601 with the offset of the project's timezone; ``hubspot_owner_id`` becomes the owner's
email where the owners API knows it; an email's ``hs_email_headers`` become its
``from``/``to``/``cc``/``bcc``; pipelines and stages (deals', tickets') are named by the
keys of the exported ``schema:``. Only properties a spec can write are kept: read-only,
calculated and hidden ones, those HubSpot sets itself, ids that mean nothing in another
portal, and the reconciler's own markers are left out.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from reconciler.associations import default_type_id
from reconciler.export.emails import email_fields
from reconciler.export.reading import DECLARED_PAIRS, PortalSnapshot
from reconciler.hubspot.records import RemoteRecord
from reconciler.loading.friendly import OPTION_ALIASES
from reconciler.loading.records import CALL_DISPOSITIONS, FRIENDLY_FIELDS
from reconciler.loading.schema import load_schema
from reconciler.loading.schema_references import PIPELINE_PROPERTIES
from reconciler.loading.times import zone
from reconciler.model import ASSOCIATION_TARGET_NAMES
from reconciler.object_types import object_type as object_type_row

#: Properties HubSpot sets itself, or whose values are ids of this portal (files, users,
#: the callee record) and mean nothing in another one. Anything starting with
#: ``reconciler_`` (the markers) is left out too: the copy gets its own.
SYSTEM_PROPERTIES = frozenset({
    "hs_object_id", "hs_createdate", "hs_lastmodifieddate", "createdate", "lastmodifieddate",
    "hs_unique_creation_key", "hs_engagement_source", "hs_engagement_source_id",
    "hs_body_preview", "hs_unique_id", "hs_meeting_source", "hs_attachment_ids",
    "hs_attendee_owner_ids", "hs_call_callee_object_id", "hs_call_callee_object_type",
    "hs_call_source", "hs_include_description_in_reminder", "hubspot_owner_id",
})
_OWN_PREFIX = "reconciler_"
#: The friendly field the key is slugged from, in order of preference, per type.
_KEY_SOURCES: Mapping[str, tuple[tuple[str, ...], ...]] = {
    "meetings": (("hs_meeting_title",),),
    "calls": (("hs_call_title",),),
    "contacts": (("firstname", "lastname"), ("email",)),
    "companies": (("name",), ("domain",)),
    "deals": (("dealname",),),
    "tickets": (("subject",),),
    "tasks": (("hs_task_subject",),),
    "emails": (("hs_email_subject",),),
    # (notes have no title: keyed by their date)
}
_SINGULAR = {plural: singular for singular, plural in ASSOCIATION_TARGET_NAMES.items()}
_SECTION_DEFS = {"meetings": "meeting", "calls": "call", "notes": "note", "tasks": "task",
                 "emails": "email", "contacts": "contact", "companies": "company",
                 "deals": "deal"}
#: The order sections are written in: what activities hang on first.
_SECTION_ORDER = ("companies", "contacts", "deals", "tickets", "meetings", "calls", "emails",
                  "tasks", "notes")
#: HubSpot's option → the plainer word the spec takes for it (an email's ``EMAIL`` →
#: ``outgoing``).
_OPTION_WORDS = {prop: {hubspot: word.lower() for word, hubspot in aliases.items()}
                 for prop, aliases in OPTION_ALIASES.items()}
#: Letters that do not decompose into ASCII, spelled out (else a slug would drop them).
_SPELLED_OUT = str.maketrans({"ß": "ss", "æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O", "œ": "oe",
                              "Œ": "OE", "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "þ": "th"})
#: Room left after a slug for a "-123" suffix within the 100 characters a key may have.
_SLUG_LENGTH = 60
#: Fields written first, so a record reads title, then when.
_FIRST_FIELDS = ("title", "subject", "start", "end", "timestamp", "due")
_GUID = re.compile(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}")
_DISPOSITION_NAMES = {guid: name for name, guid in CALL_DISPOSITIONS.items()}


@dataclass
class SchemaKeys:
    """The keys the exported ``schema:`` gives what records name by id in the portal."""

    #: (deals or tickets, pipeline id) → key
    pipelines: dict[tuple[str, str], str] = field(default_factory=dict)
    #: (deals or tickets, pipeline id) → stage id → key
    stages: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    labels: dict[tuple[str, str, int], str] = field(default_factory=dict)  # → label key


@dataclass
class Converted:
    """The spec of an export: section → key → body, each key's HubSpot id, and notes."""

    sections: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)  # "type/key" → HubSpot id
    notes: list[str] = field(default_factory=list)
    #: associations to records outside the export, left out
    dropped_associations: int = 0


def slug(text: str) -> str:
    """A local key from free text: ``"Northwind kickoff!"`` → ``northwind-kickoff``."""
    spelled = text.translate(_SPELLED_OUT)
    ascii_text = unicodedata.normalize("NFKD", spelled).encode("ascii", "ignore").decode()
    lowered = re.sub(r"[^a-z0-9._-]+", "-", ascii_text.lower())
    lowered = re.sub(r"-{2,}", "-", lowered).strip("-._")
    if len(lowered) > _SLUG_LENGTH:
        cut = lowered[:_SLUG_LENGTH]
        lowered = (cut.rsplit("-", 1)[0] if "-" in cut[20:] else cut).strip("-._")
    return lowered


def _key_base(object_type: str, record: RemoteRecord, tz: str) -> str:
    props = record.properties
    for names in _KEY_SOURCES.get(object_type, ()):
        text = " ".join(str(props.get(n) or "").strip() for n in names).strip()
        made = slug(text)
        if made:
            return made
    singular = _SINGULAR.get(object_type, "record")
    moment = _parse_time(props.get("hs_timestamp") or props.get("hs_meeting_start_time"))
    if moment is not None:
        return f"{singular}-{moment.astimezone(zone(tz)).date().isoformat()}"
    return singular


def assign_keys(object_type: str, records: Mapping[str, RemoteRecord], tz: str) -> dict[str, str]:
    """HubSpot id → a unique readable key; the oldest record (lowest id) gets the plain
    slug, later ones ``-2``, ``-3`` (skipping any suffixed key already taken)."""
    keys: dict[str, str] = {}
    used: set[str] = set()
    #: base → the suffix its last key took: every smaller one is taken for good (a record
    #: per base goes on where the last left off, not from 1: 10,000 calls of one title)
    last: dict[str, int] = {}
    for hubspot_id in sorted(records, key=lambda i: (len(i), i)):
        base = _key_base(object_type, records[hubspot_id], tz)
        n = last.get(base, 1)
        key = base if n == 1 else f"{base}-{n}"
        while key in used:
            n += 1
            key = f"{base}-{n}"
        last[base] = n
        used.add(key)
        keys[hubspot_id] = key
    return keys


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    text = value.strip()
    try:
        if text.lstrip("-").isdigit():
            return datetime.fromtimestamp(int(text) / 1000, tz=timezone.utc)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def local_iso(value: str | None, tz: str) -> str | None:
    """HubSpot's UTC time → ISO 8601 with the offset of ``tz`` (milliseconds only if any)."""
    moment = _parse_time(value)
    if moment is None:
        return None
    local = moment.astimezone(zone(tz))
    return local.isoformat(timespec="milliseconds" if local.microsecond else "seconds")


def relative_text(value: str | None, tz: str, reference: datetime) -> str | None:
    """HubSpot's UTC time → a relative time against ``reference`` that the loader resolves
    back to the same moment: ``-3d 10:00`` (whole days on the calendar of ``tz``, then
    the wall-clock time there), ``today 09:30:15``. Milliseconds are dropped."""
    moment = _parse_time(value)
    if moment is None:
        return None
    local = moment.astimezone(zone(tz))
    days = (local.date() - reference.astimezone(zone(tz)).date()).days
    clock = local.strftime("%H:%M:%S" if local.second else "%H:%M")
    if days == 0:
        return f"today {clock}"
    return f"{'+' if days > 0 else '-'}{abs(days)}d {clock}"


def duration_text(millis: str | None) -> str | None:
    """``"1500000"`` → ``"25m"``: whole seconds as a spec duration, else None."""
    if not millis or not millis.strip().isdigit():
        return None
    total = int(millis.strip())
    if total <= 0 or total % 1000 or total > 3650 * 86_400_000:
        return None
    seconds = total // 1000
    parts = []
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)):
        amount, seconds = divmod(seconds, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts)


def _missing_time(object_type: str, record: RemoteRecord) -> str | None:
    """The required time an activity lacks (a start, a timestamp, a due time), else None."""
    props = record.properties
    if object_type == "meetings" and local_iso(
        props.get("hs_meeting_start_time") or props.get("hs_timestamp"), "UTC"
    ) is None:
        return "start time"
    if object_type in ("calls", "notes", "tasks", "emails") and local_iso(
        props.get("hs_timestamp"), "UTC"
    ) is None:
        return "hs_timestamp"
    return None


def _fits(section: str, field_name: str, value: str) -> bool:
    """Whether ``value`` is one the spec's schema takes for this friendly field."""
    definition = load_schema("spec")["$defs"][_SECTION_DEFS[section]]["properties"][field_name]
    if "enum" in definition and value not in definition["enum"]:
        return False
    if "pattern" in definition and not re.search(str(definition["pattern"]), value):
        return False
    return len(value) >= int(definition.get("minLength", 0))


class _Builder:
    def __init__(self, snapshot: PortalSnapshot, tz: str, relative_to: datetime | None,
                 schema: SchemaKeys | None) -> None:
        self.snapshot = snapshot
        self.tz = tz
        self.relative_to = relative_to
        self.schema = schema
        self.out = Converted()
        self.keys: dict[str, dict[str, str]] = {}

    def build(self) -> Converted:
        for object_type, records in self.snapshot.records.items():
            keys = assign_keys(object_type, records, self.tz)
            for hubspot_id, record in records.items():
                missing = _missing_time(object_type, record)
                if missing:
                    # Left out before any association names it: a key of a record that is
                    # not written would be an unknown reference.
                    self.out.notes.append(
                        f"{object_type}/{keys.pop(hubspot_id)} (id {hubspot_id}) has no "
                        f"{missing}, which the spec requires; left out"
                    )
            self.keys[object_type] = keys
        for object_type in _SECTION_ORDER:
            found = self.snapshot.records.get(object_type)
            if not found:
                continue
            bodies: list[tuple[Any, str, dict[str, Any]]] = []
            for hubspot_id, key in self.keys[object_type].items():
                record = found[hubspot_id]
                body = self._body(object_type, key, record)
                self.out.sources[f"{object_type}/{key}"] = hubspot_id
                bodies.append((self._order(object_type, key, record), key, body))
            bodies.sort(key=lambda item: item[0])
            if bodies:
                self.out.sections[object_type] = {key: body for _o, key, body in bodies}
        return self.out

    def _order(self, object_type: str, key: str, record: RemoteRecord) -> tuple[str, str]:
        row = object_type_row(object_type)
        if row is not None and row.engagement:
            moment = _parse_time(record.properties.get("hs_timestamp")
                                 or record.properties.get("hs_meeting_start_time"))
            return (moment.isoformat() if moment else "", key)
        return ("", key)

    # -- one record ---------------------------------------------------------------------

    def _body(self, object_type: str, key: str, record: RemoteRecord) -> dict[str, Any]:
        props = {n: v for n, v in record.properties.items() if v not in (None, "")}
        body: dict[str, Any] = {}
        used: set[str] = set()
        if object_type == "meetings":
            self._meeting_times(props, body, used)
        if object_type == "emails" and props.get("hs_email_headers"):
            addresses = email_fields(str(props["hs_email_headers"]))
            if addresses is not None:
                body.update(addresses)
                used.add("hs_email_headers")
        for field_name, (prop, kind) in FRIENDLY_FIELDS.get(object_type, {}).items():
            if prop in used or prop not in props or kind == "headers":
                continue
            value = self._friendly(object_type, field_name, kind, str(props[prop]))
            if value is not None:
                body[field_name] = value
                used.add(prop)
        if object_type == "deals" and self.schema is not None:
            self._pipeline_keys(object_type, props, body)
        if object_type == "meetings" and "title" not in body:
            body = {"title": f"Meeting {record.id}", **body}
            self.out.notes.append(f"meetings/{key} (id {record.id}) has no title; wrote "
                                  f"{body['title']!r} (the spec requires one)")
        owner = props.get("hubspot_owner_id")
        row = object_type_row(object_type)
        if owner and row is not None and not row.owned:
            self.out.notes.append(
                f"{object_type}/{key}: owner {owner} left out (a spec gives {object_type} no "
                "owner:)"
            )
        elif owner:
            email = self.snapshot.owner_emails.get(str(owner))
            body["owner"] = email if email else str(owner)
            if not email:
                self.out.notes.append(
                    f"{object_type}/{key}: owner {owner} is not in the owners API; kept as an "
                    "id, which means nothing in another portal (map it with the target's "
                    "owners:)"
                )
        raw = self._raw(object_type, props, used)
        if object_type == "tickets" and self.schema is not None:
            self._pipeline_keys(object_type, props, raw)
        if raw:
            body["properties"] = raw
        associations = self._associations(object_type, record.id)
        if associations:
            body["associations"] = associations
        first = [f for f in _FIRST_FIELDS if f in body]
        return {**{f: body[f] for f in first}, **body}

    def _pipeline_keys(self, object_type: str, props: Mapping[str, Any],
                       body: dict[str, Any]) -> None:
        """A deal's or ticket's pipeline and stage by the keys the exported schema gives
        them: a deal's as ``pipeline``/``stage``, a ticket's as its raw properties."""
        assert self.schema is not None
        pipeline_prop, stage_prop = PIPELINE_PROPERTIES[object_type]
        default = "default" if object_type == "deals" else "0"
        pipeline = (object_type, str(props.get(pipeline_prop) or default))
        key = self.schema.pipelines.get(pipeline)
        stage = self.schema.stages.get(pipeline, {}).get(str(props.get(stage_prop) or ""))
        if key is None or (props.get(stage_prop) and stage is None):
            return  # (not declared: the ids stay, as before)
        fields = ("pipeline", "stage") if object_type == "deals" else PIPELINE_PROPERTIES[
            object_type]
        body[fields[0]] = key
        if stage is not None:
            body[fields[1]] = stage

    def _meeting_times(
        self, props: dict[str, Any], body: dict[str, Any], used: set[str]
    ) -> None:
        body["start"] = self._time(
            props.get("hs_meeting_start_time") or props.get("hs_timestamp")
        )
        end = self._time(props.get("hs_meeting_end_time"))
        if end is not None:
            body["end"] = end
        # hs_timestamp is written from start (the spec keeps them equal, as HubSpot asks).
        used.update({"hs_meeting_start_time", "hs_meeting_end_time", "hs_timestamp"})

    def _time(self, value: str | None) -> str | None:
        if self.relative_to is None:
            return local_iso(value, self.tz)
        return relative_text(value, self.tz, self.relative_to)

    def _friendly(self, section: str, field_name: str, kind: str, value: str) -> Any:
        if kind in ("time", "time_ms"):
            return self._time(value)
        if kind == "duration_ms":
            return duration_text(value)
        if kind == "disposition":
            guid = value.strip().lower()
            if guid in _DISPOSITION_NAMES:
                return _DISPOSITION_NAMES[guid]
            return guid if _GUID.fullmatch(guid) else None
        if kind == "number":
            return int(value) if re.fullmatch(r"-?[1-9][0-9]{0,14}|0", value) else value
        if not _fits(section, field_name, value):
            return None
        if kind == "option":
            return _OPTION_WORDS.get(FRIENDLY_FIELDS[section][field_name][0], {}).get(
                value, value)
        return value

    def _raw(self, object_type: str, props: Mapping[str, Any], used: set[str]) -> dict[str, str]:
        infos = self.snapshot.properties.get(object_type, {})
        raw: dict[str, str] = {}
        for name in sorted(props):
            if name in used or name in SYSTEM_PROPERTIES or name.startswith(_OWN_PREFIX):
                continue
            info = infos.get(name)
            if info is None or not info.writable:
                continue
            raw[name] = str(props[name])
        return raw

    # -- associations ---------------------------------------------------------------

    def _associations(self, from_type: str, from_id: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for pair in DECLARED_PAIRS:
            if pair[0] != from_type:
                continue
            to_type = pair[1]
            linked = self.snapshot.associations.get(pair, {}).get(from_id, ())
            to_keys = self.keys.get(to_type, {})
            default = default_type_id(from_type, to_type)
            for to_id, type_id in sorted(
                linked, key=lambda p: (to_keys.get(p[0], ""), p[1] != default, p[1])
            ):
                if to_id not in to_keys:
                    self.out.dropped_associations += 1
                    continue
                item = self._association_item(from_type, to_type, to_keys[to_id], type_id)
                if item is not None and item not in items:
                    items.append(item)
        return items

    def _association_item(
        self, from_type: str, to_type: str, to_key: str, type_id: int
    ) -> dict[str, Any] | None:
        item: dict[str, Any] = {_SINGULAR[to_type]: to_key}
        if type_id == default_type_id(from_type, to_type):
            return item
        label = self.snapshot.labels.get((from_type, to_type), {}).get(type_id)
        if label is None:
            self.out.notes.append(
                f"{from_type} → {to_type} association type {type_id} is not one the portal "
                "lists; left out"
            )
            return None
        declared = (self.schema.labels.get((from_type, to_type, type_id))
                    if self.schema is not None else None)
        if declared is not None:
            item["label"] = declared  # the key of the label the schema declares
            return item
        if label.category == "USER_DEFINED" and label.label:
            # A label's type id differs between portals; its name does not.
            item["label"] = label.label
        else:
            item["type_id"] = type_id
        if label.category != "HUBSPOT_DEFINED":
            item["category"] = label.category
        return item


def convert(
    snapshot: PortalSnapshot, tz: str, *, relative_to: datetime | None = None,
    schema: SchemaKeys | None = None,
) -> Converted:
    """The spec sections of everything in ``snapshot``, times in the timezone ``tz``
    (relative to ``relative_to`` when given), pipelines, stages and labels by the keys of
    ``schema`` where it declares them."""
    return _Builder(snapshot, tz, relative_to, schema).build()


__all__ = ["SYSTEM_PROPERTIES", "Converted", "SchemaKeys", "assign_keys", "convert",
           "duration_text", "local_iso", "relative_text", "slug"]

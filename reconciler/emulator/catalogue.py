"""The properties catalogue: what properties each object type has, and how values are checked.

HubSpot rejects unknown property names and bad values with ``Property values were not
valid: [...]`` (facts §10); to do the same the emulator must know every built-in property
of the types it serves, with its type and options. Custom properties are added at runtime
through ``POST /crm/v3/properties/{type}`` and stored next to the records.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from functools import lru_cache
from typing import Any

# HubSpot types → the fieldType HubSpot shows for built-ins of that type.
_FIELD_TYPES = {
    "string": "text",
    "number": "number",
    "datetime": "date",
    "date": "date",
    "bool": "booleancheckbox",
    "enumeration": "select",
}


@dataclass(frozen=True)
class PropertyDef:
    """One property of an object type."""

    name: str
    type: str  # string | number | datetime | date | bool | enumeration
    options: tuple[str, ...] = ()
    label: str = ""
    group_name: str = "default"
    field_type: str = ""
    has_unique_value: bool = False
    read_only: bool = False
    custom: bool = False
    hidden: bool = False
    form_field: bool = False
    created_at: str = "2020-01-01T00:00:00.000Z"
    description: str = ""
    option_labels: dict[str, str] = field(default_factory=dict)
    #: a custom property's stored ``Property`` body (``properties.py``); None: a built-in
    definition: dict[str, Any] | None = field(default=None, compare=False)

    def to_api(self) -> dict[str, Any]:
        """HubSpot's ``Property`` shape."""
        if self.definition is not None:
            return {
                **self.definition,
                "hubspotDefined": False,
                "modificationMetadata": {
                    "archivable": True, "readOnlyDefinition": False, "readOnlyOptions": False,
                    "readOnlyValue": False,
                },
            }
        return {
            "name": self.name,
            "label": self.label or self.name.replace("_", " ").title(),
            "type": self.type,
            "fieldType": self.field_type or _FIELD_TYPES.get(self.type, "text"),
            "groupName": self.group_name,
            "description": self.description,
            "options": [
                {
                    "label": self.option_labels.get(value, value),
                    "value": value,
                    "displayOrder": index,
                    "hidden": False,
                }
                for index, value in enumerate(self.options)
            ],
            "hasUniqueValue": self.has_unique_value,
            "hidden": self.hidden,
            "formField": self.form_field,
            "calculated": False,
            "externalOptions": False,
            "hubspotDefined": not self.custom,
            "modificationMetadata": {
                "archivable": self.custom,
                "readOnlyDefinition": not self.custom,
                "readOnlyValue": self.read_only,
            },
            "createdAt": self.created_at,
            "updatedAt": self.created_at,
            "archived": False,
        }


def _s(*names: str) -> list[PropertyDef]:
    return [PropertyDef(name, "string") for name in names]


def _e(name: str, *options: str | tuple[str, str]) -> PropertyDef:
    """An enumeration; each option is its internal value, or ``(value, label)``."""
    values = tuple(option if isinstance(option, str) else option[0] for option in options)
    labels = {option[0]: option[1] for option in options if not isinstance(option, str)}
    return PropertyDef(name, "enumeration", values, option_labels=labels)


def _labelled(*values: str) -> tuple[tuple[str, str], ...]:
    """Options whose label is the value in words (``NO_SHOW`` → ``No Show``)."""
    return tuple((value, value.replace("_", " ").title()) for value in values)


_COMMON = [
    PropertyDef("hs_object_id", "number", read_only=True),
    PropertyDef("hs_createdate", "datetime", read_only=True),
    PropertyDef("hs_lastmodifieddate", "datetime", read_only=True),
    PropertyDef("hubspot_owner_id", "enumeration", field_type="select"),
    # Unique, but HubSpot sets it itself: a write is refused (READ_ONLY_VALUE) like any
    # read-only property, so it cannot serve as a client-side idempotency key.
    PropertyDef("hs_unique_creation_key", "string", has_unique_value=True, read_only=True),
]

_ENGAGEMENT = [
    PropertyDef("hs_timestamp", "datetime"),
    PropertyDef("hs_attachment_ids", "enumeration", field_type="checkbox"),
    PropertyDef("hs_activity_type", "enumeration"),  # portal-defined options: anything goes
    *_s("hs_engagement_source", "hs_engagement_source_id", "hs_body_preview"),
]

# Built-in options as HubSpot ships them (values and labels): a value outside them is
# refused with INVALID_OPTION, as a real portal refuses it. A portal can add options
# (custom call and meeting outcomes, deal stages of other pipelines); the emulator has
# only the defaults.
MEETING_OUTCOMES = ("SCHEDULED", "COMPLETED", "RESCHEDULED", "NO_SHOW", "CANCELED")  # MEET-GUIDE
CALL_STATUSES = (  # CALL-GUIDE, plus the calling-extensions spec's HOLD, MISSED, UNKNOWN
    "BUSY", "CALLING_CRM_USER", "CANCELED", "COMPLETED", "CONNECTING", "FAILED", "IN_PROGRESS",
    "NO_ANSWER", "QUEUED", "RINGING", "HOLD", "MISSED", "UNKNOWN",
)
CALL_DISPOSITIONS = (  # CALL-GUIDE: the default outcomes' GUIDs (facts §5)
    ("9d9162e7-6cf3-4944-bf63-4dff82258764", "Busy"),
    ("f240bbac-87c9-4f6e-bf70-924b57d47db7", "Connected"),
    ("a4c4c377-d246-4b32-a13b-75a56a4cd0ff", "Left live message"),
    ("b2cf5968-551e-4856-9783-52b3da59a7d0", "Left voicemail"),
    ("73a0d17f-1163-4015-bdd5-ec830791da20", "No answer"),
    ("17b47fee-58de-441e-a44c-c6300d46f273", "Wrong number"),
)
#: The default pipelines' stages (``schema_model`` adds probabilities and states); a portal's
#: pipeline and stage options are its pipelines' (``Portal.properties_of`` fills them in).
DEAL_STAGES = (  # the default deal pipeline ("Sales Pipeline")
    ("appointmentscheduled", "Appointment Scheduled"),
    ("qualifiedtobuy", "Qualified To Buy"),
    ("presentationscheduled", "Presentation Scheduled"),
    ("decisionmakerboughtin", "Decision Maker Bought-In"),
    ("contractsent", "Contract Sent"),
    ("closedwon", "Closed Won"),
    ("closedlost", "Closed Lost"),
)
TICKET_STAGES = (("1", "New"), ("2", "Waiting on contact"), ("3", "Waiting on us"), ("4", "Closed"))
LIFECYCLE_STAGES = (
    ("subscriber", "Subscriber"), ("lead", "Lead"),
    ("marketingqualifiedlead", "Marketing Qualified Lead"),
    ("salesqualifiedlead", "Sales Qualified Lead"), ("opportunity", "Opportunity"),
    ("customer", "Customer"), ("evangelist", "Evangelist"), ("other", "Other"),
)
LEAD_STATUSES = (
    ("NEW", "New"), ("OPEN", "Open"), ("IN_PROGRESS", "In Progress"), ("OPEN_DEAL", "Open Deal"),
    ("UNQUALIFIED", "Unqualified"), ("ATTEMPTED_TO_CONTACT", "Attempted to Contact"),
    ("CONNECTED", "Connected"), ("BAD_TIMING", "Bad Timing"),
)
#: The company ``industry`` values (the list HubSpot's validation error names).
INDUSTRIES = (
    "ACCOUNTING", "AIRLINES_AVIATION", "ALTERNATIVE_DISPUTE_RESOLUTION", "ALTERNATIVE_MEDICINE",
    "ANIMATION", "APPAREL_FASHION", "ARCHITECTURE_PLANNING", "ARTS_AND_CRAFTS", "AUTOMOTIVE",
    "AVIATION_AEROSPACE", "BANKING", "BIOTECHNOLOGY", "BROADCAST_MEDIA", "BUILDING_MATERIALS",
    "BUSINESS_SUPPLIES_AND_EQUIPMENT", "CAPITAL_MARKETS", "CHEMICALS", "CIVIC_SOCIAL_ORGANIZATION",
    "CIVIL_ENGINEERING", "COMMERCIAL_REAL_ESTATE", "COMPUTER_NETWORK_SECURITY", "COMPUTER_GAMES",
    "COMPUTER_HARDWARE", "COMPUTER_NETWORKING", "COMPUTER_SOFTWARE", "INTERNET", "CONSTRUCTION",
    "CONSUMER_ELECTRONICS", "CONSUMER_GOODS", "CONSUMER_SERVICES", "COSMETICS", "DAIRY",
    "DEFENSE_SPACE", "DESIGN", "EDUCATION_MANAGEMENT", "E_LEARNING",
    "ELECTRICAL_ELECTRONIC_MANUFACTURING", "ENTERTAINMENT", "ENVIRONMENTAL_SERVICES",
    "EVENTS_SERVICES", "EXECUTIVE_OFFICE", "FACILITIES_SERVICES", "FARMING", "FINANCIAL_SERVICES",
    "FINE_ART", "FISHERY", "FOOD_BEVERAGES", "FOOD_PRODUCTION", "FUND_RAISING", "FURNITURE",
    "GAMBLING_CASINOS", "GLASS_CERAMICS_CONCRETE", "GOVERNMENT_ADMINISTRATION",
    "GOVERNMENT_RELATIONS", "GRAPHIC_DESIGN", "HEALTH_WELLNESS_AND_FITNESS", "HIGHER_EDUCATION",
    "HOSPITAL_HEALTH_CARE", "HOSPITALITY", "HUMAN_RESOURCES", "IMPORT_AND_EXPORT",
    "INDIVIDUAL_FAMILY_SERVICES", "INDUSTRIAL_AUTOMATION", "INFORMATION_SERVICES",
    "INFORMATION_TECHNOLOGY_AND_SERVICES", "INSURANCE", "INTERNATIONAL_AFFAIRS",
    "INTERNATIONAL_TRADE_AND_DEVELOPMENT", "INVESTMENT_BANKING", "INVESTMENT_MANAGEMENT",
    "JUDICIARY", "LAW_ENFORCEMENT", "LAW_PRACTICE", "LEGAL_SERVICES", "LEGISLATIVE_OFFICE",
    "LEISURE_TRAVEL_TOURISM", "LIBRARIES", "LOGISTICS_AND_SUPPLY_CHAIN", "LUXURY_GOODS_JEWELRY",
    "MACHINERY", "MANAGEMENT_CONSULTING", "MARITIME", "MARKET_RESEARCH",
    "MARKETING_AND_ADVERTISING", "MECHANICAL_OR_INDUSTRIAL_ENGINEERING", "MEDIA_PRODUCTION",
    "MEDICAL_DEVICES", "MEDICAL_PRACTICE", "MENTAL_HEALTH_CARE", "MILITARY", "MINING_METALS",
    "MOTION_PICTURES_AND_FILM", "MUSEUMS_AND_INSTITUTIONS", "MUSIC", "NANOTECHNOLOGY",
    "NEWSPAPERS", "NON_PROFIT_ORGANIZATION_MANAGEMENT", "OIL_ENERGY", "ONLINE_MEDIA",
    "OUTSOURCING_OFFSHORING", "PACKAGE_FREIGHT_DELIVERY", "PACKAGING_AND_CONTAINERS",
    "PAPER_FOREST_PRODUCTS", "PERFORMING_ARTS", "PHARMACEUTICALS", "PHILANTHROPY", "PHOTOGRAPHY",
    "PLASTICS", "POLITICAL_ORGANIZATION", "PRIMARY_SECONDARY_EDUCATION", "PRINTING",
    "PROFESSIONAL_TRAINING_COACHING", "PROGRAM_DEVELOPMENT", "PUBLIC_POLICY",
    "PUBLIC_RELATIONS_AND_COMMUNICATIONS", "PUBLIC_SAFETY", "PUBLISHING", "RAILROAD_MANUFACTURE",
    "RANCHING", "REAL_ESTATE", "RECREATIONAL_FACILITIES_AND_SERVICES", "RELIGIOUS_INSTITUTIONS",
    "RENEWABLES_ENVIRONMENT", "RESEARCH", "RESTAURANTS", "RETAIL", "SECURITY_AND_INVESTIGATIONS",
    "SEMICONDUCTORS", "SHIPBUILDING", "SPORTING_GOODS", "SPORTS", "STAFFING_AND_RECRUITING",
    "SUPERMARKETS", "TELECOMMUNICATIONS", "TEXTILES", "THINK_TANKS", "TOBACCO",
    "TRANSLATION_AND_LOCALIZATION", "TRANSPORTATION_TRUCKING_RAILROAD", "UTILITIES",
    "VENTURE_CAPITAL_PRIVATE_EQUITY", "VETERINARY", "WAREHOUSING", "WHOLESALE",
    "WINE_AND_SPIRITS", "WIRELESS", "WRITING_AND_EDITING", "MOBILE_GAMES",
)

BUILTIN_PROPERTIES: dict[str, list[PropertyDef]] = {
    "meetings": [
        *_COMMON,
        *_ENGAGEMENT,
        *_s("hs_meeting_title", "hs_meeting_body", "hs_internal_meeting_notes"),
        *_s("hs_meeting_external_url", "hs_meeting_location", "hs_unique_id"),
        PropertyDef("hs_meeting_start_time", "datetime"),
        PropertyDef("hs_meeting_end_time", "datetime"),
        _e("hs_meeting_outcome", *_labelled(*MEETING_OUTCOMES)),
        # The scheduler takes ADDRESS|CUSTOM|PHONE; portals also hold VCE (facts §4).
        _e("hs_meeting_location_type", *_labelled("ADDRESS", "CUSTOM", "PHONE"),
           ("VCE", "Video conference")),
        PropertyDef("hs_include_description_in_reminder", "bool"),
        PropertyDef("hs_attendee_owner_ids", "enumeration", field_type="checkbox"),
        _e("hs_meeting_source",
           *_labelled("CRM_UI", "MEETINGS_PUBLIC", "INTEGRATION", "BIDIRECTIONAL_API")),
    ],
    "calls": [
        *_COMMON,
        *_ENGAGEMENT,
        *_s("hs_call_title", "hs_call_body", "hs_call_callee_object_id",
            "hs_call_callee_object_type"),
        *_s("hs_call_from_number", "hs_call_to_number", "hs_call_recording_url"),
        _e("hs_call_disposition", *CALL_DISPOSITIONS),
        _e("hs_call_direction", *_labelled("INBOUND", "OUTBOUND")),
        PropertyDef("hs_call_duration", "number"),
        _e("hs_call_status", *_labelled(*CALL_STATUSES)),
        _e("hs_call_source", ("INTEGRATIONS_PLATFORM", "Integrations platform")),
        PropertyDef("hs_call_has_voicemail", "bool"),
    ],
    # The notes, tasks and emails guides (facts §14): their documented values only; a portal
    # may show more task statuses (IN_PROGRESS, WAITING, DEFERRED), which this one has not.
    "notes": [*_COMMON, *_ENGAGEMENT, *_s("hs_note_body")],
    "tasks": [
        *_COMMON,
        *_ENGAGEMENT,
        *_s("hs_task_subject", "hs_task_body"),
        _e("hs_task_status", ("NOT_STARTED", "Not started"), ("COMPLETED", "Completed")),
        _e("hs_task_priority", *_labelled("LOW", "MEDIUM", "HIGH")),
        _e("hs_task_type", ("EMAIL", "Email"), ("CALL", "Call"), ("TODO", "To-do")),
        # "the timestamp for when to send a reminder ... Unix timestamp in milliseconds"
        PropertyDef("hs_task_reminders", "number"),
    ],
    "emails": [
        *_COMMON,
        *_ENGAGEMENT,
        *_s("hs_email_subject", "hs_email_text", "hs_email_html", "hs_email_headers"),
        _e("hs_email_direction", ("EMAIL", "Sent"), ("INCOMING_EMAIL", "Reply"),
           ("FORWARDED_EMAIL", "Forwarded")),
        _e("hs_email_status", *_labelled("BOUNCED", "FAILED", "SCHEDULED", "SENDING", "SENT")),
        # Filled by HubSpot from hs_email_headers (emulator/emails.py), read-only to clients.
        *(PropertyDef(name, "string", read_only=True) for name in (
            "hs_email_from_email", "hs_email_from_firstname", "hs_email_from_lastname",
            "hs_email_to_email", "hs_email_to_firstname", "hs_email_to_lastname",
        )),
    ],
    "contacts": [
        *_COMMON,
        *_s("email", "firstname", "lastname", "phone", "mobilephone", "company", "website"),
        *_s("jobtitle", "address", "city", "state", "zip", "country", "hs_additional_emails"),
        PropertyDef("createdate", "datetime", read_only=True),
        PropertyDef("lastmodifieddate", "datetime", read_only=True),
        _e("lifecyclestage", *LIFECYCLE_STAGES),
        _e("hs_lead_status", *LEAD_STATUSES),
        PropertyDef("date_of_birth", "date"),
    ],
    "companies": [
        *_COMMON,
        *_s("name", "domain", "website", "phone", "address", "city", "state", "zip", "country"),
        *_s("description"),
        _e("industry", *_labelled(*INDUSTRIES)),
        PropertyDef("createdate", "datetime", read_only=True),
        PropertyDef("numberofemployees", "number"),
        PropertyDef("annualrevenue", "number"),
        _e("lifecyclestage", *LIFECYCLE_STAGES),
        _e("type", *_labelled("PROSPECT", "PARTNER", "RESELLER", "VENDOR", "OTHER")),
    ],
    "deals": [
        *_COMMON,
        *_s("dealname", "description"),
        PropertyDef("createdate", "datetime", read_only=True),
        PropertyDef("amount", "number"),
        PropertyDef("closedate", "datetime"),
        _e("dealstage", *DEAL_STAGES),
        _e("pipeline", ("default", "Sales Pipeline")),
        _e("dealtype", ("newbusiness", "New Business"), ("existingbusiness", "Existing Business")),
        _e("hs_priority", ("low", "Low"), ("medium", "Medium"), ("high", "High")),
    ],
    "tickets": [
        *_COMMON,
        *_s("subject", "content", "source_type"),
        PropertyDef("createdate", "datetime", read_only=True),
        _e("hs_pipeline", ("0", "Support Pipeline")),
        _e("hs_pipeline_stage", *TICKET_STAGES),
        _e("hs_ticket_priority", *_labelled("LOW", "MEDIUM", "HIGH", "URGENT")),
        _e("hs_ticket_category",
           *_labelled("PRODUCT_ISSUE", "BILLING_ISSUE", "FEATURE_REQUEST", "GENERAL_INQUIRY")),
    ],
}

CUSTOM_OBJECT_PROPERTIES: list[PropertyDef] = [*_COMMON, *_s("name", "description")]

#: Properties whose options come from the portal (owners) or are free lists (ids).
_FREE_ENUMERATIONS = {"hs_activity_type", "hs_attachment_ids"}
_OWNER_ENUMERATIONS = {"hubspot_owner_id", "hs_attendee_owner_ids"}

#: What a read returns when the client names no properties (HubSpot's defaults per type).
DEFAULT_READ_PROPERTIES: dict[str, tuple[str, ...]] = {
    "contacts": ("email", "firstname", "lastname", "createdate", "lastmodifieddate"),
    "companies": ("name", "domain", "createdate"),
    "deals": ("dealname", "amount", "dealstage", "pipeline", "closedate", "createdate"),
    "tickets": ("subject", "content", "hs_pipeline", "hs_pipeline_stage", "hs_ticket_priority",
                "createdate"),
    "meetings": ("hs_timestamp",),
    "calls": ("hs_timestamp",),
    "notes": ("hs_timestamp",),  # as meetings and calls (unverified)
    "tasks": ("hs_timestamp",),
    "emails": ("hs_timestamp",),
}
ALWAYS_RETURNED = ("hs_object_id", "hs_createdate", "hs_lastmodifieddate")

#: Types where HubSpot documents unique-value properties (facts §7); not engagements.
UNIQUE_VALUE_TYPES = {"contacts", "companies", "deals", "tickets"}


@dataclass(frozen=True)
class ValueProblem:
    """One bad property value, in the terms HubSpot's error body uses."""

    name: str
    error: str  # PROPERTY_DOESNT_EXIST, INVALID_OPTION, INVALID_INTEGER, INVALID_DATE, ...
    message: str


#: "A plain text string, limited to 65,536 characters" (properties guide, type table);
#: counted in characters, as the guide says. HubSpot's refusal is unverified (code ours).
MAX_TEXT = 65_536

_NUMBER = re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def format_timestamp(moment: datetime) -> str:
    """HubSpot's wire form of a datetime: UTC with milliseconds and a Z."""
    moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def format_millis(millis: float) -> str:
    return format_timestamp(datetime.fromtimestamp(millis / 1000, tz=timezone.utc))


def parse_datetime(value: str) -> datetime | None:
    """Unix milliseconds or ISO 8601 (a date alone is midnight UTC); None if neither."""
    text = value.strip()
    if text.lstrip("-").isdigit():
        try:
            return datetime.fromtimestamp(int(text) / 1000, tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment


@lru_cache(maxsize=4096)
def _normalized_datetime(text: str) -> str | None:
    moment = parse_datetime(text)
    return format_timestamp(moment) if moment is not None else None


def normalize_value(
    prop: PropertyDef, value: Any, owner_ids: frozenset[str]
) -> tuple[str | None, ValueProblem | None]:
    """Check one value against its property; return the stored string or the problem.

    An empty string (or None) clears the property, as HubSpot does.
    """
    if value is None:
        return "", None
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (int, float)):
        text = repr(value) if isinstance(value, float) else str(value)
    elif isinstance(value, str):
        text = value
    else:
        return None, ValueProblem(prop.name, "INVALID_VALUE", f"{value!r} is not a valid value")
    if text == "":
        return "", None
    kind = prop.type
    if kind == "number":
        if not _NUMBER.match(text.strip()):
            return None, ValueProblem(
                prop.name, "INVALID_INTEGER", f"{text} was not a valid number"
            )
        return text.strip(), None
    if kind == "datetime":
        normalized = _normalized_datetime(text)
        if normalized is None:
            return None, ValueProblem(
                prop.name, "INVALID_DATE", f"{text} was not a valid date time (Unix ms or ISO 8601)"
            )
        return normalized, None
    if kind == "date":
        moment = parse_datetime(text)
        if moment is None or (not _ISO_DATE.match(text) and (moment.hour or moment.minute)):
            return None, ValueProblem(
                prop.name, "INVALID_DATE",
                f"{text} is not a valid date (midnight UTC ms or YYYY-MM-DD)",
            )
        return date(moment.year, moment.month, moment.day).isoformat(), None
    if kind == "bool":
        lowered = text.strip().lower()
        if lowered not in ("true", "false"):
            return None, ValueProblem(
                prop.name, "INVALID_BOOLEAN", f"{text} was not a valid boolean (true or false)"
            )
        return lowered, None
    if kind == "enumeration":
        if prop.name in _FREE_ENUMERATIONS:
            return text, None
        allowed: tuple[str, ...] | frozenset[str]
        allowed = owner_ids if prop.name in _OWNER_ENUMERATIONS else prop.options
        values = text.split(";") if prop.field_type == "checkbox" else [text]
        for item in values:
            if item not in allowed:
                shown = ", ".join(sorted(allowed) if isinstance(allowed, frozenset) else allowed)
                return None, ValueProblem(
                    prop.name,
                    "INVALID_OPTION",
                    f"{item} was not one of the allowed options: [{shown}]",
                )
        return text, None
    if kind == "string" and len(text) > MAX_TEXT:
        return None, ValueProblem(
            prop.name, "INVALID_STRING_LENGTH",
            f"{prop.name} is {len(text):,} characters; a text property holds at most {MAX_TEXT:,}",
        )
    return text, None


def property_def_from_api(object_type: str, body: dict[str, Any], created_at: str) -> PropertyDef:
    """A custom property from its stored ``Property`` body (``properties.py`` builds it)."""
    options = tuple(str(option.get("value", "")) for option in body.get("options") or [])
    labels = {str(o.get("value", "")): str(o.get("label", "")) for o in body.get("options") or []}
    return PropertyDef(
        name=str(body["name"]),
        type=str(body["type"]),
        options=options,
        label=str(body.get("label", "")),
        group_name=str(body.get("groupName", "")),
        field_type=str(body.get("fieldType", "")),
        has_unique_value=bool(body.get("hasUniqueValue", False)),
        custom=True,
        hidden=bool(body.get("hidden", False)),
        form_field=bool(body.get("formField", False)),
        created_at=created_at,
        description=str(body.get("description", "")),
        option_labels=labels,
        definition=body,
    )

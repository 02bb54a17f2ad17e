"""What a record shows to the templates that read it (``parent.<field>``,
``pick.<name>.<field>``): a generated record its values by field name; a hand-written one
its friendly fields, read back from its properties (``firstname`` → ``first_name``), its
raw ``properties`` and its owner. An optional pick that found no one is an ``EmptyPick``.
"""

from __future__ import annotations

from typing import Any

from reconciler.generate.inputs import HandRecord
from reconciler.generate.templates import TemplateProblem

#: Friendly fields that are not read back: times resolve at each run, and these store
#: another form than the one written (milliseconds, a GUID).
_NOT_READ_BACK = ("time", "duration_ms", "disposition", "reminder_ms", "headers")


def hand_view(record: HandRecord, section: str, n: int) -> dict[str, Any]:
    """A hand-written record as templates read it."""
    from reconciler.loading.records import FRIENDLY_FIELDS

    properties = dict(record.properties)
    view: dict[str, Any] = {}
    for name, (prop, kind) in FRIENDLY_FIELDS.get(section, {}).items():
        if prop in properties and kind not in _NOT_READ_BACK:
            view[name] = properties[prop]
    owner = record.owner or properties.get("hubspot_owner_id")
    if owner:
        view["owner"] = owner
    view.update(key=record.key, n=n, properties=properties)
    return view


def hand_fields(section: str) -> list[str]:
    """The names a hand-written record of ``section`` may show (for did-you-mean)."""
    from reconciler.loading.records import FRIENDLY_FIELDS

    names = [n for n, (_, kind) in FRIENDLY_FIELDS.get(section, {}).items()
             if kind not in _NOT_READ_BACK]
    return [*names, "owner", "key", "n", "properties"]


class EmptyPick:
    """An optional pick that found no one: false in ``{% if pick.x %}``, empty when
    printed, and a located error when a template reads a field through it."""

    __slots__ = ("name", "reason")

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason

    def __bool__(self) -> bool:
        return False

    def __str__(self) -> str:
        return ""

    def __getattr__(self, attribute: str) -> Any:
        if attribute.startswith("_"):  # Python's and Jinja's own lookups
            raise AttributeError(attribute)
        raise TemplateProblem(self.problem(attribute))

    def __getitem__(self, attribute: Any) -> Any:
        raise TemplateProblem(self.problem(str(attribute)))

    def problem(self, attribute: str) -> str:
        return (
            f"pick.{self.name} is empty for this record ({self.reason}), so it has no "
            f"{attribute}; guard it with {{% if pick.{self.name} %}}...{{% endif %}}"
        )

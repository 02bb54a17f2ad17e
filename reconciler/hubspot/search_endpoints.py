"""CRM search: every match (the one pager: by ``hs_object_id``, past the 10,000 cap), one
page with its total, and IN lookups.

Search lags writes by a few moments and matches ``IN`` values only in lowercase
(facts §7); both rules live here.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.hubspot.endpoints import Endpoints
from reconciler.hubspot.records import (
    AnswerShapeError,
    RemoteRecord,
    as_object,
    search_page_from_api,
)

#: Search takes at most this many values in one IN filter and 200 results a page (facts §7).
SEARCH_IN_VALUES = 100
SEARCH_PAGE_LIMIT = 200


@dataclass(frozen=True, slots=True)
class SearchPage:
    """One search answer: its records, how many match in all (capped at 10,000 by HubSpot),
    and the ``after`` cursor of the next page (None: the last page)."""

    records: list[RemoteRecord]
    total: int
    after: str | None


class SearchEndpoints(Endpoints):
    """``/crm/objects/{type}/search``."""

    def search(
        self,
        object_type: str,
        filter_groups: list[dict[str, Any]],
        properties: Sequence[str],
        *,
        limit: int = SEARCH_PAGE_LIMIT,
    ) -> Iterator[RemoteRecord]:
        """Every match, oldest first, paged by ``hs_object_id`` (each next query asks for
        ids above the last one seen, in every filter group) instead of ``after``: search
        refuses to page past 10,000 results (facts §7), a portal may hold more. Search lags
        writes by a few moments (facts §7): an empty answer right after a write proves
        nothing. The values of every ``IN`` filter are sent lowercased (``search_page``)."""
        page_size = max(1, min(limit, SEARCH_PAGE_LIMIT))
        groups = filter_groups
        last: int | None = None
        while True:
            page = self.search_page(object_type, groups, properties, limit=page_size)
            yield from page.records
            if page.after is None or len(page.records) < page_size:
                return
            newest = page.records[-1].id
            if not newest.isdigit() or (last is not None and int(newest) <= last):
                return  # (ids that do not rise would page forever)
            last = int(newest)
            above = {"propertyName": "hs_object_id", "operator": "GT", "value": newest}
            groups = [{**g, "filters": [*(g.get("filters") or []), above]}
                      for g in filter_groups] or [{"filters": [above]}]

    def search_page(
        self,
        object_type: str,
        filter_groups: list[dict[str, Any]],
        properties: Sequence[str],
        *,
        sort: tuple[str, str] = ("hs_object_id", "ASCENDING"),
        limit: int = SEARCH_PAGE_LIMIT,
        after: str | None = None,
    ) -> SearchPage:
        """One search page with its ``total`` (HubSpot counts at most 10,000: facts §7),
        sorted by one property (``sort``: name, ASCENDING or DESCENDING)."""
        body: dict[str, Any] = {
            "filterGroups": _lowercase_in_values(filter_groups),
            "properties": list(properties),
            "limit": max(1, min(limit, SEARCH_PAGE_LIMIT)),
            "sorts": [{"propertyName": sort[0], "direction": sort[1]}],
        }
        if after is not None:
            body["after"] = after

        def parse(data: Any) -> SearchPage:
            records, following = search_page_from_api(data)
            total = as_object(data, "the answer").get("total", len(records))
            if isinstance(total, bool) or not isinstance(total, int) or total < 0:
                raise AnswerShapeError(f"'total' is {total!r}, not a count")
            return SearchPage(records, total, following)

        return self._call(
            "POST", f"{self.paths.objects(object_type)}/search", parse, json=body, search=True
        )

    def search_by_property_values(
        self, object_type: str, prop: str, values: Sequence[str], properties: Sequence[str]
    ) -> list[RemoteRecord]:
        """Records whose ``prop`` is one of ``values`` (IN filters, chunked).

        HubSpot matches ``IN`` only in lowercase ("inputted values must be in lowercase",
        facts §7), so every value is sent lowercased and matched without regard to case.
        A hit whose ``prop`` is none of the values asked for is ignored, never returned.
        """
        wanted = list(dict.fromkeys(str(v).lower() for v in values))
        asked = set(wanted)
        props = list(dict.fromkeys([*properties, prop]))
        found: dict[str, RemoteRecord] = {}
        for start in range(0, len(wanted), SEARCH_IN_VALUES):
            chunk = wanted[start : start + SEARCH_IN_VALUES]
            groups = [{"filters": [{"propertyName": prop, "operator": "IN", "values": chunk}]}]
            for record in self.search(object_type, groups, props):
                if str(record.properties.get(prop) or "").lower() in asked:
                    found.setdefault(record.id, record)
        return list(found.values())

def _lowercase_in_values(filter_groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``filter_groups`` with the string values of every ``IN`` filter lowercased
    ("This operator is case-sensitive, so inputted values must be in lowercase", facts §7)."""
    groups = []
    for group in filter_groups:
        filters = []
        for item in group.get("filters") or []:
            if item.get("operator") == "IN" and isinstance(item.get("values"), list):
                values = [v.lower() if isinstance(v, str) else v for v in item["values"]]
                item = {**item, "values": values}
            filters.append(item)
        groups.append({**group, "filters": filters})
    return groups


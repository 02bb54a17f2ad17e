"""Business days: the weekdays a team works, less a country's public holidays.

Relative times count them (``+2bd``, ``next business day 10:00``: ``reconciler.loading.times``)
and the generators' calendars place activities on them (``reconciler.generate.calendar``).
Without a ``calendar:`` block in ``reconciler.yaml`` a business day is Monday to Friday.

Holidays come from the ``holidays`` package (vacanza/holidays: ISO 3166 countries and their
subdivisions, released often). It is pinned exactly: a release that fixes a country's data
would otherwise move not-yet-applied activities between two runs. It is imported only when a
year's dates are not cached yet (``.reconciler/cache``, keyed by the package's version), so a
warm plan never imports it; holiday *data* is never part of a pin expression, so an upgrade
only moves what was not applied yet.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, timedelta
from typing import Any, Protocol

__all__ = ["WORKWEEK", "BusinessDays", "HolidayProblem", "country_holidays"]

#: Monday (0) to Friday (4).
WORKWEEK = frozenset(range(5))
#: ``+Nbd`` further than this is certainly a typo (about ten years of business days).
MOST_BUSINESS_DAYS = 2600


class HolidayProblem(ValueError):
    """A country or subdivision the holidays package does not know."""


class _Cache(Protocol):
    def key(self, content: bytes) -> str: ...
    def get(self, key: str, check: Callable[[dict[str, Any]], bool]) -> dict[str, Any] | None: ...
    def put(self, key: str, payload: dict[str, Any]) -> None: ...


class BusinessDays:
    """Which days are business days: ``weekdays`` (0 = Monday) less ``holidays(year)``
    and the ``extra`` days off."""

    def __init__(
        self,
        weekdays: Iterable[int] = WORKWEEK,
        holidays: Callable[[int], frozenset[date]] | None = None,
        extra: Iterable[date] = (),
    ) -> None:
        self.weekdays = frozenset(weekdays)
        self._holidays = holidays
        self._extra = frozenset(extra)
        self._years: dict[int, frozenset[date]] = {}

    def days_off(self, year: int) -> frozenset[date]:
        """The holidays and extra days off of ``year``."""
        found = self._years.get(year)
        if found is None:
            found = self._holidays(year) if self._holidays is not None else frozenset()
            found = self._years[year] = found | {d for d in self._extra if d.year == year}
        return found

    def is_business_day(self, day: date) -> bool:
        return day.weekday() in self.weekdays and day not in self.days_off(day.year)

    def on_or_after(self, day: date) -> date:
        """``day`` if it is a business day, else the next one."""
        for _ in range(400):
            if self.is_business_day(day):
                return day
            day += timedelta(days=1)
        raise ValueError("the calendar has no business day within a year")

    def on_or_before(self, day: date) -> date:
        """``day`` if it is a business day, else the one before."""
        for _ in range(400):
            if self.is_business_day(day):
                return day
            day -= timedelta(days=1)
        raise ValueError("the calendar has no business day within a year")

    def shift(self, day: date, count: int) -> date:
        """``count`` business days after ``day`` (before it, when negative), skipping the
        rest. From a day that is not a business day, ``+1`` is the next business day and
        ``-1`` the one before; ``0`` is ``day`` if it is one, else the next."""
        if abs(count) > MOST_BUSINESS_DAYS:
            raise ValueError(f"{count} business days is more than ten years")
        if count == 0:
            return self.on_or_after(day)
        step = timedelta(days=1 if count > 0 else -1)
        left = abs(count)
        for _ in range(left * 7 + 400):
            day += step
            if self.is_business_day(day):
                left -= 1
                if left == 0:
                    return day
        raise ValueError("the calendar has too few business days")

    def between(self, first: date, last: date) -> list[date]:
        """The business days from ``first`` to ``last``, both included."""
        days: list[date] = []
        day = first
        while day <= last:
            if self.is_business_day(day):
                days.append(day)
            day += timedelta(days=1)
        return days


#: Workweek only: no calendar configured.
PLAIN = BusinessDays()


def country_holidays(
    country: str, subdiv: str | None, cache: _Cache | None = None
) -> Callable[[int], frozenset[date]]:
    """A function of a year → the public holidays of ``country`` (and ``subdiv``) that
    year, read from ``cache`` when it has them (the package is imported only when not)."""

    def dates(year: int) -> frozenset[date]:
        version = _package_version()
        key = ""
        if cache is not None:
            key = cache.key(f"holidays\x00{country}\x00{subdiv}\x00{year}\x00{version}".encode())
            payload = cache.get(key, _dates_are_sound)
            if payload is not None:
                return frozenset(date.fromisoformat(d) for d in payload["dates"])
        made = _load(country, subdiv, year)
        if cache is not None:
            cache.put(key, {"dates": sorted(d.isoformat() for d in made)})
        return made

    return dates


def _dates_are_sound(payload: dict[str, Any]) -> bool:
    found = payload.get("dates")
    if type(found) is not list or not all(type(d) is str for d in found):
        return False
    try:
        for text in found:
            date.fromisoformat(text)
    except ValueError:
        return False
    return True


def check_country(country: str, subdiv: str | None) -> str | None:
    """What is wrong with a holidays country and subdivision, or None (imports the package)."""
    try:
        _load(country, subdiv, 2026)
    except HolidayProblem as exc:
        return str(exc)
    return None


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("holidays")
    except PackageNotFoundError:
        return "missing"


def _load(country: str, subdiv: str | None, year: int) -> frozenset[date]:
    from reconciler.loading.issues import did_you_mean

    try:
        import holidays
    except ImportError:  # pragma: no cover - it is a dependency
        raise HolidayProblem(
            "holidays: needs the 'holidays' package (pip install holidays)"
        ) from None
    supported: dict[str, list[str]] = holidays.list_supported_countries()
    if country not in supported:
        hint = did_you_mean(country, sorted(supported))
        raise HolidayProblem(
            f"{country!r} is not a country the holidays package knows{hint}; use an ISO 3166 "
            "code like DE, US or GB"
        )
    if subdiv is not None and subdiv not in supported[country]:
        known = supported[country]
        hint = did_you_mean(subdiv, known) or (
            f"; {country} has {', '.join(known[:20])}{'...' if len(known) > 20 else ''}"
            if known else f"; {country} has no subdivisions"
        )
        raise HolidayProblem(f"{subdiv!r} is not a subdivision of {country}{hint}")
    try:
        found = holidays.country_holidays(country, subdiv=subdiv, years=year)
    except NotImplementedError as exc:  # pragma: no cover - checked above
        raise HolidayProblem(str(exc)) from None
    return frozenset(found)

"""Faker behind an allowlist: only providers that make short, plain demo values.

Faker can write zip and tar archives, images, JSON/XML/CSV documents, Python objects and
whole profiles; none of that belongs in a CRM property, and some of it is slow or large.
So a provider is callable only if it is named here, its arguments are plain and small, and
its result is text, a number, a boolean or a date. Faker objects stay in this module.
"""

from __future__ import annotations

import datetime as _dt
import decimal
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from faker import Faker
from faker.config import AVAILABLE_LOCALES

#: Faker providers a spec may call, by what they make.
ALLOWED_PROVIDERS: frozenset[str] = frozenset(
    """
    name first_name last_name name_female name_male first_name_female first_name_male
    last_name_female last_name_male prefix suffix prefix_female prefix_male
    address street_address street_name building_number secondary_address city country
    country_code current_country postcode zipcode state state_abbr administrative_unit
    company company_suffix catch_phrase bs job
    email safe_email free_email company_email domain_name domain_word tld user_name url
    hostname slug ascii_email ascii_safe_email ascii_company_email ipv4 ipv4_private
    phone_number basic_phone_number country_calling_code msisdn
    word words sentence sentences paragraph paragraphs text
    color_name safe_color_name hex_color
    currency_code currency_name currency_symbol pricetag
    date date_between date_this_year date_this_month past_date future_date day_of_week
    month_name year time am_pm iso8601
    latitude longitude
    license_plate iban swift ean13 isbn13 uuid4 boolean
    bothify numerify lexify hexify random_int random_digit random_letter random_element
    user_agent chrome firefox safari
    """.split()
)

#: Largest number argument, whole or not (``paragraphs(nb=10**9)`` would never finish,
#: and ``text(max_nb_chars=3e8)`` neither).
MAX_NUMBER_ARGUMENT = 1000
#: Longest text argument (``bothify`` patterns, ``ext_word_list`` items).
MAX_TEXT_ARGUMENT = 200
#: Most items in a list argument (``random_element(elements=[...])``).
MAX_LIST_ARGUMENT = 200


class FakeError(ValueError):
    """A provider that is not allowed, arguments out of bounds, or Faker failing."""


def check_provider(name: str) -> None:
    """FakeError unless ``name`` is an allowed provider (with a did-you-mean)."""
    if name in ALLOWED_PROVIDERS:
        return
    from reconciler.loading.issues import did_you_mean

    hint = did_you_mean(name, sorted(ALLOWED_PROVIDERS))
    raise FakeError(
        f"unknown Faker provider {name!r}{hint} (allowed: names, addresses, companies, "
        "internet, phone numbers, lorem text, dates and a few more; see the README)"
    )


def check_locale(locale: str) -> None:
    if locale not in AVAILABLE_LOCALES:
        from reconciler.loading.issues import did_you_mean

        raise FakeError(f"unknown Faker locale {locale!r}{did_you_mean(locale, AVAILABLE_LOCALES)}")


def check_arguments(arguments: Mapping[str, Any]) -> None:
    for name, value in arguments.items():
        _check_argument(name, value)


def _check_argument(name: str, value: Any) -> None:
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, (int, float)):
        if value != value:
            raise FakeError(f"argument {name} is not a number (NaN)")
        if abs(value) > MAX_NUMBER_ARGUMENT:
            raise FakeError(f"argument {name}={value} is over the limit of {MAX_NUMBER_ARGUMENT}")
        return
    if isinstance(value, str):
        if len(value) > MAX_TEXT_ARGUMENT:
            raise FakeError(
                f"argument {name} is longer than {MAX_TEXT_ARGUMENT} characters"
            )
        return
    if isinstance(value, list):
        if len(value) > MAX_LIST_ARGUMENT:
            raise FakeError(f"argument {name} has more than {MAX_LIST_ARGUMENT} items")
        for item in value:
            if isinstance(item, (list, dict)):
                raise FakeError(f"argument {name} must be a list of plain values")
            _check_argument(name, item)
        return
    raise FakeError(f"argument {name} must be text, a number, true/false or a list")


@lru_cache(maxsize=16)
def _generator(locale: str) -> Any:
    return Faker(locale)[locale]


def prepare(locale: str) -> None:
    """Load Faker for ``locale`` now (a fifth of a second, once), not while a record is
    being made, where it would count towards the record's CPU budget."""
    if locale in AVAILABLE_LOCALES:
        _generator(locale)


def fake(provider: str, arguments: Mapping[str, Any], locale: str, seed: int) -> str | int | float:
    """One value from an allowed provider, seeded (same seed → same value, per Faker version).

    Dates become ISO text; anything but text, numbers, booleans and dates is refused.
    """
    check_provider(provider)
    check_arguments(arguments)
    generator = _generator(locale)
    generator.seed_instance(seed)
    try:
        value = getattr(generator, provider)(**arguments)
    except TypeError as exc:
        raise FakeError(f"fake {provider}: {exc}") from None
    except (ValueError, AttributeError, KeyError, IndexError, OverflowError) as exc:
        raise FakeError(f"fake {provider} failed: {exc}") from None
    return plain(value, provider)


def plain(value: Any, provider: str) -> str | int | float:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return value
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (_dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return " ".join(value)
    raise FakeError(f"fake {provider} makes {type(value).__name__}, not a plain value")

"""Input validation shared by every area: emails, phones, countries, names and billing profiles."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import phonenumbers
import pycountry
from email_validator import EmailNotValidError, validate_email

from resolvers.core.errors import Problem, UserErrorCode

Path = tuple[str, ...]

EU_COUNTRIES = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "CY",
        "CZ",
        "DE",
        "DK",
        "EE",
        "ES",
        "FI",
        "FR",
        "GR",
        "HR",
        "HU",
        "IE",
        "IT",
        "LT",
        "LU",
        "LV",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SE",
        "SI",
        "SK",
    ]
)


def normalise_email(value: str) -> str | None:
    """The address lower-cased, or None when it is not a syntactically valid email address."""
    try:
        result = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError:
        return None
    return result.normalized.lower()


def normalise_phone(value: str) -> str | None:
    """E.164 (+43123456) or EPP (+43.123456) in, E.164 out; None when it is neither."""
    candidate = value.strip().replace(" ", "")
    if not candidate.startswith("+"):
        return None
    candidate = candidate.replace(".", "", 1) if candidate.count(".") == 1 else candidate
    if not candidate[1:].isdigit() or not 4 <= len(candidate) - 1 <= 15:
        return None
    try:
        parsed = phonenumbers.parse(candidate, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def is_country(code: str) -> bool:
    return len(code) == 2 and code.isupper() and pycountry.countries.get(alpha_2=code) is not None


class Checker:
    """Collects every problem of one input, so the caller hears about all of them at once."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def fail(self, path: Path, message: str, code: UserErrorCode = UserErrorCode.INVALID) -> None:
        self.problems.append(Problem(message, code, path))

    def text(self, path: Path, value: str | None, *, max_length: int, required: bool = True) -> str:
        cleaned = (value or "").strip()
        if required and not cleaned:
            self.fail(path, "This field is required.")
        elif len(cleaned) > max_length:
            self.fail(path, f"At most {max_length} characters.")
        elif any(ord(ch) < 32 for ch in cleaned):
            self.fail(path, "Control characters are not allowed.")
        return cleaned

    def optional_text(self, path: Path, value: str | None, *, max_length: int) -> str | None:
        cleaned = self.text(path, value, max_length=max_length, required=False)
        return cleaned or None

    def email(self, path: Path, value: str) -> str:
        normalised = normalise_email(value)
        if normalised is None or len(normalised) > 254:
            self.fail(path, "Enter a valid email address.")
            return value
        return normalised

    def phone(self, path: Path, value: str) -> str:
        normalised = normalise_phone(value)
        if normalised is None:
            self.fail(path, "Enter the phone number in E.164 form, e.g. +43123456.")
            return value
        return normalised

    def country(self, path: Path, value: str) -> str:
        code = value.strip().upper()
        if not is_country(code):
            self.fail(path, "Enter an ISO 3166-1 alpha-2 country code, e.g. AT.")
        return code


@dataclass(frozen=True)
class Address:
    line1: str
    line2: str | None
    city: str
    state: str | None
    postal_code: str
    country_code: str


@dataclass(frozen=True)
class BillingProfile:
    first_name: str
    last_name: str
    company_name: str | None
    email: str
    phone: str
    address: Address
    tax_id: str | None


class AddressLike(Protocol):
    @property
    def line1(self) -> str: ...
    @property
    def line2(self) -> str | None: ...
    @property
    def city(self) -> str: ...
    @property
    def state(self) -> str | None: ...
    @property
    def postal_code(self) -> str: ...
    @property
    def country_code(self) -> str: ...


class ContactLike(Protocol):
    @property
    def first_name(self) -> str: ...
    @property
    def last_name(self) -> str: ...
    @property
    def company_name(self) -> str | None: ...
    @property
    def email(self) -> str: ...
    @property
    def phone(self) -> str: ...
    @property
    def address(self) -> AddressLike: ...


class BillingProfileLike(ContactLike, Protocol):
    @property
    def tax_id(self) -> str | None: ...


def check_address(check: Checker, path: Path, raw: AddressLike) -> Address:
    return Address(
        line1=check.text((*path, "line1"), raw.line1, max_length=200),
        line2=check.optional_text((*path, "line2"), raw.line2, max_length=200),
        city=check.text((*path, "city"), raw.city, max_length=100),
        state=check.optional_text((*path, "state"), raw.state, max_length=100),
        postal_code=check.text((*path, "postalCode"), raw.postal_code, max_length=20),
        country_code=check.country((*path, "countryCode"), raw.country_code),
    )


def check_tax_id(check: Checker, path: Path, value: str | None) -> str | None:
    cleaned = check.optional_text(path, value, max_length=32)
    if cleaned is None:
        return None
    compact = cleaned.replace(" ", "").upper()
    if not (4 <= len(compact) <= 20 and compact.isalnum()):
        check.fail(path, "Enter a VAT identification number, e.g. ATU12345678.")
    return compact


def check_billing_profile(check: Checker, path: Path, raw: BillingProfileLike) -> BillingProfile:
    return BillingProfile(
        first_name=check.text((*path, "firstName"), raw.first_name, max_length=100),
        last_name=check.text((*path, "lastName"), raw.last_name, max_length=100),
        company_name=check.optional_text((*path, "companyName"), raw.company_name, max_length=200),
        email=check.email((*path, "email"), raw.email),
        phone=check.phone((*path, "phone"), raw.phone),
        address=check_address(check, (*path, "address"), raw.address),
        tax_id=check_tax_id(check, (*path, "taxId"), raw.tax_id),
    )

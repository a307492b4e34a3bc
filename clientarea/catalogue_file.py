"""The product catalogue file (catalogue.toml): its format, read and validated strictly."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from models.catalogue import BillingCycle, ProductType

CATALOGUE_FILE = Path(__file__).with_name("catalogue.toml")

_KEY = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_TLD = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*(?:\.[a-z0-9]+(?:-[a-z0-9]+)*)*")
# Numeric(12, 2): at most ten digits before the point and two after it.
_AMOUNT = re.compile(r"\d{1,10}(?:\.\d{1,2})?")
_CYCLE_ORDER = {cycle: index for index, cycle in enumerate(BillingCycle)}

Amounts = tuple[tuple[BillingCycle, Decimal], ...]


class CatalogueError(ValueError):
    """The catalogue file is invalid; the message lists every problem with the product it is in."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"{source}: invalid product catalogue:\n" + "\n".join(f"  {p}" for p in problems))


@dataclass(frozen=True)
class ChoiceSpec:
    value: str
    name: str
    surcharges: Amounts


@dataclass(frozen=True)
class OptionSpec:
    key: str
    name: str
    choices: tuple[ChoiceSpec, ...]


@dataclass(frozen=True)
class ProductSpec:
    key: str
    name: str
    description: str | None
    type: ProductType
    tld: str | None
    prices: Amounts
    options: tuple[OptionSpec, ...]


def sorted_amounts(amounts: Iterable[tuple[BillingCycle, Decimal]]) -> Amounts:
    """Amounts in billing cycle order, shortest first: how specs compare and prices are listed."""
    return tuple(sorted(amounts, key=lambda item: _CYCLE_ORDER[item[0]]))


class _Reader:
    """Collects every problem of the file, so one run reports them all."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def fail(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    def table(self, raw: Any, where: str, *, required: set[str], optional: set[str]) -> dict[str, Any]:
        if not isinstance(raw, dict):
            self.fail(where, "must be a table")
            return {}
        for name in sorted(set(raw) - required - optional):
            self.fail(where, f"unknown field {name!r}")
        for name in sorted(required - set(raw)):
            self.fail(where, f"{name!r} is missing")
        return raw

    def text(self, raw: Any, where: str, name: str, pattern: re.Pattern[str] | None = None) -> str:
        if not isinstance(raw, str) or not raw.strip():
            self.fail(where, f"{name!r} must be a non-empty string")
            return ""
        if pattern is not None and not pattern.fullmatch(raw):
            self.fail(where, f"{name!r} {raw!r} is not valid (expected {pattern.pattern})")
        return raw

    def tables(self, raw: Any, where: str, name: str) -> list[Any]:
        if raw is None:
            return []
        if not isinstance(raw, list):
            self.fail(where, f"{name!r} must be an array of tables")
            return []
        return raw

    def amounts(self, raw: Any, where: str, name: str) -> dict[BillingCycle, Decimal]:
        if not isinstance(raw, dict):
            self.fail(where, f"{name!r} must be a table of billing cycle = amount")
            return {}
        found: dict[BillingCycle, Decimal] = {}
        for cycle_name, amount in raw.items():
            try:
                cycle = BillingCycle(cycle_name)
            except ValueError:
                self.fail(where, f"unknown billing cycle {cycle_name!r} in {name!r}")
                continue
            if not isinstance(amount, str):
                self.fail(where, f'{name}.{cycle_name} must be a decimal string like "4.90", not {amount!r}')
            elif amount.strip().startswith("-"):
                self.fail(where, f"{name}.{cycle_name} is negative: {amount!r}")
            elif not _AMOUNT.fullmatch(amount):
                self.fail(
                    where, f"{name}.{cycle_name} is not a decimal amount with at most 2 decimals: {amount!r}"
                )
            else:
                found[cycle] = Decimal(amount)
        return found

    def product(self, raw: Any, index: int) -> ProductSpec | None:
        where = f"product #{index + 1}"
        if isinstance(raw, dict) and isinstance(raw.get("key"), str):
            where = f"product {raw['key']!r}"
        data = self.table(
            raw,
            where,
            required={"key", "name", "type", "prices"},
            optional={"description", "tld", "options"},
        )
        if not data:
            return None
        before = len(self.problems)
        key = self.text(data.get("key"), where, "key", _KEY)
        name = self.text(data.get("name"), where, "name")
        description = data.get("description")
        if description is not None and not isinstance(description, str):
            self.fail(where, "'description' must be a string")
        product_type: ProductType | None = None
        try:
            product_type = ProductType(data.get("type"))
        except ValueError:
            self.fail(where, f"unknown product type {data.get('type')!r}")
        tld: str | None = None
        if product_type is ProductType.DOMAIN and "tld" not in data:
            self.fail(where, "a DOMAIN product needs a 'tld'")
        elif product_type is ProductType.DOMAIN:
            tld = self.text(data["tld"], where, "tld", _TLD)
        elif "tld" in data:
            self.fail(where, "only DOMAIN products have a 'tld'")
        prices = self.amounts(data.get("prices"), where, "prices")
        if not prices and "prices" in data:
            self.fail(where, "has no price")
        if product_type is ProductType.DOMAIN and set(prices) - {BillingCycle.ANNUALLY}:
            self.fail(where, "a DOMAIN product has only an ANNUALLY price (the price of one year)")
        options = self._options(data.get("options"), where, list(prices))
        if len(self.problems) > before or product_type is None:
            return None
        return ProductSpec(
            key=key,
            name=name,
            description=description,
            type=product_type,
            tld=tld,
            prices=sorted_amounts(prices.items()),
            options=options,
        )

    def _options(self, raw: Any, where: str, cycles: list[BillingCycle]) -> tuple[OptionSpec, ...]:
        options: list[OptionSpec] = []
        for index, raw_option in enumerate(self.tables(raw, where, "options")):
            at = f"{where}, option #{index + 1}"
            data = self.table(raw_option, at, required={"key", "name", "choices"}, optional=set())
            if not data:
                continue
            key = self.text(data.get("key"), at, "key", _KEY)
            at = f"{where}, option {key!r}"
            if key in {option.key for option in options}:
                self.fail(at, "duplicate option key")
            choices = self._choices(data.get("choices"), at, cycles)
            if not choices:
                self.fail(at, "needs at least one choice")
            options.append(OptionSpec(key=key, name=self.text(data.get("name"), at, "name"), choices=choices))
        return tuple(options)

    def _choices(self, raw: Any, where: str, cycles: list[BillingCycle]) -> tuple[ChoiceSpec, ...]:
        choices: list[ChoiceSpec] = []
        for index, raw_choice in enumerate(self.tables(raw, where, "choices")):
            at = f"{where}, choice #{index + 1}"
            data = self.table(raw_choice, at, required={"value", "name"}, optional={"surcharges"})
            if not data:
                continue
            value = self.text(data.get("value"), at, "value")
            at = f"{where}, choice {value!r}"
            if value in {choice.value for choice in choices}:
                self.fail(at, "duplicate choice value")
            surcharges: dict[BillingCycle, Decimal] = {}
            if "surcharges" in data:
                surcharges = self.amounts(data["surcharges"], at, "surcharges")
                if extra := [c.value for c in surcharges if c not in cycles]:
                    self.fail(at, f"surcharges for billing cycles the product is not sold in: {extra}")
                # A partial table is a forgotten cycle more often than a deliberate free one.
                if missing := [c.value for c in cycles if c not in surcharges]:
                    self.fail(at, f"surcharges missing for billing cycles {missing}")
            if not choices and any(surcharges.values()):
                self.fail(at, "the first choice is what an order without the option gets: it must cost 0")
            amounts = ((cycle, surcharges.get(cycle, Decimal(0))) for cycle in cycles)
            choices.append(
                ChoiceSpec(
                    value=value,
                    name=self.text(data.get("name"), at, "name"),
                    surcharges=sorted_amounts(amounts),
                )
            )
        return tuple(choices)


def parse_catalogue(data: Mapping[str, Any], source: str = "catalogue") -> list[ProductSpec]:
    """The products of a parsed catalogue file, in catalogue order; CatalogueError lists what is wrong."""
    reader = _Reader()
    raw_products = reader.tables(data.get("products"), source, "products")
    for name in sorted(set(data) - {"products"}):
        reader.fail(source, f"unknown field {name!r}")
    if not raw_products:
        reader.fail(source, "has no [[products]]")
    products: list[ProductSpec] = []
    for index, raw in enumerate(raw_products):
        spec = reader.product(raw, index)
        if spec is not None:
            products.append(spec)
    seen_keys: set[str] = set()
    seen_tlds: dict[str, str] = {}
    for spec in products:
        if spec.key in seen_keys:
            reader.fail(f"product {spec.key!r}", "duplicate key")
        seen_keys.add(spec.key)
        if spec.tld is not None:
            if spec.tld in seen_tlds:
                reader.fail(
                    f"product {spec.key!r}", f"tld {spec.tld!r} is already sold as {seen_tlds[spec.tld]!r}"
                )
            seen_tlds[spec.tld] = spec.key
    if reader.problems:
        raise CatalogueError(source, reader.problems)
    return products


def read_catalogue(path: Path = CATALOGUE_FILE) -> list[ProductSpec]:
    try:
        with path.open("rb") as file:
            data = tomllib.load(file)
    except tomllib.TOMLDecodeError as error:
        raise CatalogueError(str(path), [f"not valid TOML: {error}"]) from None
    return parse_catalogue(data, source=str(path))

"""What a catalogue product costs: its price per cycle plus the surcharges of the chosen options."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.catalogue import (
    BillingCycle,
    ConfigurableOption,
    OptionChoice,
    OptionChoicePrice,
    Product,
    ProductPrice,
)


@dataclass
class Choice:
    value: str
    name: str
    surcharges: dict[BillingCycle, Decimal] = field(default_factory=dict)


@dataclass
class Option:
    key: str
    name: str
    choices: list[Choice] = field(default_factory=list)

    def choice(self, value: str) -> Choice | None:
        return next((c for c in self.choices if c.value == value), None)


@dataclass
class PriceList:
    product: Product
    prices: dict[BillingCycle, Decimal] = field(default_factory=dict)
    options: list[Option] = field(default_factory=list)

    def option(self, key: str) -> Option | None:
        return next((o for o in self.options if o.key == key), None)

    def complete(self, chosen: Mapping[str, str]) -> list[dict[str, str]]:
        """Every option with its chosen value, in the product's order; left out: the first choice."""
        return [
            {"key": option.key, "value": chosen.get(option.key, option.choices[0].value)}
            for option in self.options
            if option.choices
        ]

    def amount(self, cycle: BillingCycle, specifications: Iterable[Mapping[str, str]]) -> Decimal:
        """Net price of one period: the cycle's price plus the chosen choices' surcharges."""
        total = self.prices[cycle]
        for spec in specifications:
            option = self.option(spec["key"])
            choice = option.choice(spec["value"]) if option else None
            if choice is not None:
                total += choice.surcharges.get(cycle, Decimal("0"))
        return total

    def describe(self, specifications: Iterable[Mapping[str, str]]) -> str:
        parts = []
        for spec in specifications:
            option = self.option(spec["key"])
            choice = option.choice(spec["value"]) if option else None
            if option and choice:
                parts.append(f"{option.name}: {choice.name}")
        return ", ".join(parts)


async def price_lists(session: AsyncSession, product_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, PriceList]:
    """The price lists of these products, in four statements whatever their number."""
    ids = list(set(product_ids))
    if not ids:
        return {}
    lists = {p.id: PriceList(p) for p in await session.scalars(select(Product).where(Product.id.in_(ids)))}
    for price in await session.scalars(select(ProductPrice).where(ProductPrice.product_id.in_(ids))):
        lists[price.product_id].prices[price.billing_cycle] = price.amount
    options: dict[uuid.UUID, Option] = {}
    option_rows = await session.scalars(
        select(ConfigurableOption)
        .where(ConfigurableOption.product_id.in_(ids))
        .order_by(ConfigurableOption.position)
    )
    for row in option_rows:
        options[row.id] = Option(row.key, row.name)
        lists[row.product_id].options.append(options[row.id])
    choices: dict[uuid.UUID, Choice] = {}
    grouped: dict[uuid.UUID, list[OptionChoice]] = defaultdict(list)
    if options:
        for choice_row in await session.scalars(
            select(OptionChoice).where(OptionChoice.option_id.in_(options)).order_by(OptionChoice.position)
        ):
            grouped[choice_row.option_id].append(choice_row)
        for option_id, rows in grouped.items():
            for choice_row in rows:
                choices[choice_row.id] = Choice(choice_row.value, choice_row.name)
                options[option_id].choices.append(choices[choice_row.id])
    if choices:
        for surcharge in await session.scalars(
            select(OptionChoicePrice).where(OptionChoicePrice.choice_id.in_(choices))
        ):
            choices[surcharge.choice_id].surcharges[surcharge.billing_cycle] = surcharge.amount
    return lists

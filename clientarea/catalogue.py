"""Making the database's product catalogue match the catalogue file, run after every migration."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from clientarea.catalogue_file import (
    CATALOGUE_FILE,
    ChoiceSpec,
    OptionSpec,
    ProductSpec,
    read_catalogue,
    sorted_amounts,
)
from models.base import uuid7
from models.catalogue import (
    BillingCycle,
    ConfigurableOption,
    OptionChoice,
    OptionChoicePrice,
    Product,
    ProductPrice,
)
from models.database import Database

logger = logging.getLogger("clientarea.catalogue")

# Any constant shared by every process that syncs: they take turns instead of racing on inserts.
_POSTGRES_LOCK = 0x636174616C6F67


@dataclass
class CatalogueChanges:
    """The keys of the products a sync inserted, changed and deactivated."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deactivated: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.deactivated)


async def _stored(session: AsyncSession) -> dict[str, tuple[Product, ProductSpec]]:
    """Every product in the database, active or not, with its prices and options as a spec."""
    products = list(await session.scalars(select(Product)))
    prices: dict[uuid.UUID, list[tuple[BillingCycle, Decimal]]] = {p.id: [] for p in products}
    for price in await session.scalars(select(ProductPrice)):
        prices[price.product_id].append((price.billing_cycle, price.amount))
    surcharges: dict[uuid.UUID, list[tuple[BillingCycle, Decimal]]] = {}
    for surcharge in await session.scalars(select(OptionChoicePrice)):
        surcharges.setdefault(surcharge.choice_id, []).append((surcharge.billing_cycle, surcharge.amount))
    choices: dict[uuid.UUID, list[ChoiceSpec]] = {}
    for choice in await session.scalars(select(OptionChoice).order_by(OptionChoice.position)):
        amounts = sorted_amounts(surcharges.get(choice.id, []))
        choices.setdefault(choice.option_id, []).append(ChoiceSpec(choice.value, choice.name, amounts))
    options: dict[uuid.UUID, list[OptionSpec]] = {p.id: [] for p in products}
    for option in await session.scalars(select(ConfigurableOption).order_by(ConfigurableOption.position)):
        spec = OptionSpec(option.key, option.name, tuple(choices.get(option.id, [])))
        options[option.product_id].append(spec)
    return {
        p.key: (
            p,
            ProductSpec(
                key=p.key,
                name=p.name,
                description=p.description,
                type=p.type,
                tld=p.tld,
                prices=sorted_amounts(prices[p.id]),
                options=tuple(options[p.id]),
            ),
        )
        for p in products
    }


@dataclass
class _Writes:
    """The rows a sync inserts, table by table, so each table takes one statement."""

    products: list[dict[str, Any]] = field(default_factory=list)
    prices: list[dict[str, Any]] = field(default_factory=list)
    options: list[dict[str, Any]] = field(default_factory=list)
    choices: list[dict[str, Any]] = field(default_factory=list)
    surcharges: list[dict[str, Any]] = field(default_factory=list)

    def add_prices(self, product_id: uuid.UUID, spec: ProductSpec) -> None:
        self.prices.extend(
            {"product_id": product_id, "billing_cycle": cycle, "amount": amount}
            for cycle, amount in spec.prices
        )

    def add_options(self, product_id: uuid.UUID, spec: ProductSpec) -> None:
        for position, option in enumerate(spec.options):
            option_id = uuid7()
            self.options.append(
                {
                    "id": option_id,
                    "product_id": product_id,
                    "key": option.key,
                    "name": option.name,
                    "position": position,
                }
            )
            for choice_position, choice in enumerate(option.choices):
                choice_id = uuid7()
                self.choices.append(
                    {
                        "id": choice_id,
                        "option_id": option_id,
                        "value": choice.value,
                        "name": choice.name,
                        "position": choice_position,
                    }
                )
                self.surcharges.extend(
                    {"choice_id": choice_id, "billing_cycle": cycle, "amount": amount}
                    for cycle, amount in choice.surcharges
                )


async def sync_catalogue(db: Database, path: Path = CATALOGUE_FILE) -> CatalogueChanges:
    """Make the database's catalogue match the file, in one transaction; a second run changes nothing.

    New products are inserted, changed ones updated (their prices and options replaced as a whole),
    products no longer in the file deactivated: orders and services keep referring to them.
    """
    specs = read_catalogue(path)
    changes = CatalogueChanges()
    writes = _Writes()
    async with db.begin() as session:
        if not db.is_sqlite:
            # SQLite's writer transaction already holds the database's write lock.
            await session.execute(select(func.pg_advisory_xact_lock(_POSTGRES_LOCK)))
        stored = await _stored(session)
        wanted = {spec.key for spec in specs}
        replace_prices: list[uuid.UUID] = []
        replace_options: list[uuid.UUID] = []
        updates: dict[uuid.UUID, dict[str, Any]] = {}
        moving_tld: list[uuid.UUID] = []
        for position, spec in enumerate(specs):
            fields = {
                "name": spec.name,
                "description": spec.description,
                "type": spec.type,
                "tld": spec.tld,
                "active": True,
                "position": position,
            }
            if spec.key not in stored:
                product_id = uuid7()
                writes.products.append({"id": product_id, "key": spec.key, **fields})
                writes.add_prices(product_id, spec)
                writes.add_options(product_id, spec)
                changes.added.append(spec.key)
                continue
            row, current = stored[spec.key]
            if spec.prices != current.prices:
                replace_prices.append(row.id)
                writes.add_prices(row.id, spec)
            if spec.options != current.options:
                replace_options.append(row.id)
                writes.add_options(row.id, spec)
            if any(getattr(row, name) != value for name, value in fields.items()):
                updates[row.id] = fields
                if row.tld != spec.tld:
                    moving_tld.append(row.id)
            if row.id in updates or spec.prices != current.prices or spec.options != current.options:
                changes.updated.append(spec.key)
        retired = [row for key, (row, _) in stored.items() if key not in wanted and row.active]
        changes.deactivated = sorted(row.key for row in retired)
        # Deactivate first, also every product whose TLD moves, so that the one-active-product-per-TLD
        # index holds after each statement even when a TLD passes from one product to another.
        if off := [row.id for row in retired] + moving_tld:
            await session.execute(update(Product).where(Product.id.in_(off)).values(active=False))
        if replace_prices:
            await session.execute(delete(ProductPrice).where(ProductPrice.product_id.in_(replace_prices)))
        if replace_options:
            # Their choices and surcharges go with them (ON DELETE CASCADE).
            await session.execute(
                delete(ConfigurableOption).where(ConfigurableOption.product_id.in_(replace_options))
            )
        for product_id, values in updates.items():
            await session.execute(update(Product).where(Product.id == product_id).values(**values))
        for model, rows in (
            (Product, writes.products),
            (ProductPrice, writes.prices),
            (ConfigurableOption, writes.options),
            (OptionChoice, writes.choices),
            (OptionChoicePrice, writes.surcharges),
        ):
            if rows:
                await session.execute(insert(model), rows)
    if changes.changed:
        logger.info(
            "product catalogue synced: added %s, updated %s, deactivated %s",
            changes.added or "none",
            changes.updated or "none",
            changes.deactivated or "none",
        )
    return changes

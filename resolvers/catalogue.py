"""The public product catalogue: listing active products, and batched loads of prices and options."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Select, select

from models.catalogue import (
    BillingCycle,
    ConfigurableOption,
    OptionChoice,
    OptionChoicePrice,
    Product,
    ProductPrice,
    ProductType,
)
from resolvers.core.loaders import ById, GroupLoader
from resolvers.core.pagination import Page, paginate

if TYPE_CHECKING:
    from resolvers.core.context import Context

_CYCLE_ORDER = {cycle: index for index, cycle in enumerate(BillingCycle)}


async def list_products(
    context: Context, *, first: int | None, after: str | None, type: ProductType | None
) -> Page[Any]:
    """One page of the products on sale, in catalogue order; open to anonymous callers."""
    statement = select(Product).where(Product.active.is_(True))
    if type is not None:
        statement = statement.where(Product.type == type)
    return await paginate(
        context.db,
        statement,
        keys=[Product.position, Product.id],
        key_of=lambda row: (row[0].position, row[0].id),
        first=first,
        after=after,
    )


async def product_by_id(context: Context, pk: uuid.UUID) -> Product | None:
    """Any product, also one no longer sold: the services and orders of it still show it."""
    return await context.loaders.catalogue.product.load(pk)


R = TypeVar("R")


class _GroupLoader(GroupLoader[uuid.UUID, R]):
    """The rows belonging to each key, read with one statement per batch."""


class ProductByIdLoader(ById[Product | None]):
    model = Product


class PricesByProductIdLoader(_GroupLoader[ProductPrice]):
    def statement(self, keys: Sequence[uuid.UUID]) -> Select[ProductPrice]:
        return select(ProductPrice).where(ProductPrice.product_id.in_(keys))

    def owner(self, row: ProductPrice) -> uuid.UUID:
        return row.product_id

    def ordered(self, rows: list[ProductPrice]) -> list[ProductPrice]:
        return sorted(rows, key=lambda row: _CYCLE_ORDER[row.billing_cycle])


class OptionsByProductIdLoader(_GroupLoader[ConfigurableOption]):
    def statement(self, keys: Sequence[uuid.UUID]) -> Select[ConfigurableOption]:
        return (
            select(ConfigurableOption)
            .where(ConfigurableOption.product_id.in_(keys))
            .order_by(ConfigurableOption.position)
        )

    def owner(self, row: ConfigurableOption) -> uuid.UUID:
        return row.product_id


class ChoicesByOptionIdLoader(_GroupLoader[OptionChoice]):
    def statement(self, keys: Sequence[uuid.UUID]) -> Select[OptionChoice]:
        return select(OptionChoice).where(OptionChoice.option_id.in_(keys)).order_by(OptionChoice.position)

    def owner(self, row: OptionChoice) -> uuid.UUID:
        return row.option_id


class SurchargesByChoiceIdLoader(_GroupLoader[OptionChoicePrice]):
    def statement(self, keys: Sequence[uuid.UUID]) -> Select[OptionChoicePrice]:
        return select(OptionChoicePrice).where(OptionChoicePrice.choice_id.in_(keys))

    def owner(self, row: OptionChoicePrice) -> uuid.UUID:
        return row.choice_id

    def ordered(self, rows: list[OptionChoicePrice]) -> list[OptionChoicePrice]:
        return sorted(rows, key=lambda row: _CYCLE_ORDER[row.billing_cycle])


class CatalogueLoaders:
    """A request's catalogue loaders: one statement per level, however many products a page holds."""

    def __init__(self, context: Context) -> None:
        self.product = ProductByIdLoader(context)
        self.prices = PricesByProductIdLoader(context)
        self.options = OptionsByProductIdLoader(context)
        self.choices = ChoicesByOptionIdLoader(context)
        self.surcharges = SurchargesByChoiceIdLoader(context)

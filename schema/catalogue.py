"""The public product catalogue: products, their prices per billing cycle and configurable options."""

from __future__ import annotations

import uuid
from decimal import Decimal

import strawberry
from strawberry.types import Info

from models import catalogue as models
from models.catalogue import CATALOGUE_CURRENCY, BillingCycle, ProductType
from resolvers import catalogue as resolve
from resolvers.core.context import Context
from resolvers.core.ids import encode_id
from schema.core.base import Connection, Money, Node


@strawberry.type
class Price:
    billing_cycle: BillingCycle
    amount: Money

    @classmethod
    def of(cls, billing_cycle: BillingCycle, amount: Decimal) -> Price:
        return cls(billing_cycle=billing_cycle, amount=Money.of(amount, CATALOGUE_CURRENCY))


@strawberry.type
class ConfigurableOptionChoice:
    value: str
    name: str
    choice_pk: strawberry.Private[uuid.UUID]

    @classmethod
    def of(cls, row: models.OptionChoice) -> ConfigurableOptionChoice:
        return cls(value=row.value, name=row.name, choice_pk=row.id)

    @strawberry.field(
        description=(
            "Added to the product's price per billing cycle. This is the surcharge in the product's "
            "first billing cycle (the first of its `pricing`); `surcharges` has every cycle."
        )
    )
    async def surcharge(self, info: Info[Context, None]) -> Money:
        surcharges = await info.context.loaders.catalogue.surcharges.load(self.choice_pk)
        first = surcharges[0].amount if surcharges else Decimal(0)
        return Money.of(first, CATALOGUE_CURRENCY)

    @strawberry.field(
        description="What the choice adds to the product's price, in each billing cycle the product has."
    )
    async def surcharges(self, info: Info[Context, None]) -> list[Price]:
        rows = await info.context.loaders.catalogue.surcharges.load(self.choice_pk)
        return [Price.of(row.billing_cycle, row.amount) for row in rows]


@strawberry.type(description="A specification a customer chooses for a product, e.g. disk space.")
class ConfigurableOption:
    key: str
    name: str
    option_pk: strawberry.Private[uuid.UUID]

    @classmethod
    def of(cls, row: models.ConfigurableOption) -> ConfigurableOption:
        return cls(key=row.key, name=row.name, option_pk=row.id)

    @strawberry.field(description="The first choice is what an order that leaves the option out gets.")
    async def choices(self, info: Info[Context, None]) -> list[ConfigurableOptionChoice]:
        rows = await info.context.loaders.catalogue.choices.load(self.option_pk)
        return [ConfigurableOptionChoice.of(row) for row in rows]


@strawberry.type(description="Something the provider sells. Prices are net, in EUR.")
class Product(Node):
    id: strawberry.ID
    name: str
    description: str | None
    type: ProductType
    tld: str | None = strawberry.field(
        description='For DOMAIN products: the top-level domain it registers, e.g. "at".'
    )
    product_pk: strawberry.Private[uuid.UUID]

    @classmethod
    def of(cls, row: models.Product) -> Product:
        return cls(
            id=strawberry.ID(encode_id("Product", row.id)),
            name=row.name,
            description=row.description,
            type=row.type,
            tld=row.tld,
            product_pk=row.id,
        )

    @strawberry.field(description="The price of one period of each billing cycle; for a domain, of one year.")
    async def pricing(self, info: Info[Context, None]) -> list[Price]:
        rows = await info.context.loaders.catalogue.prices.load(self.product_pk)
        return [Price.of(row.billing_cycle, row.amount) for row in rows]

    @strawberry.field
    async def configurable_options(self, info: Info[Context, None]) -> list[ConfigurableOption]:
        rows = await info.context.loaders.catalogue.options.load(self.product_pk)
        return [ConfigurableOption.of(row) for row in rows]


@strawberry.type
class CatalogueQueries:
    @strawberry.field(description="The public product catalogue.")
    async def products(
        self,
        info: Info[Context, None],
        first: int | None = None,
        after: str | None = None,
        type: ProductType | None = None,
    ) -> Connection[Product]:
        page = await resolve.list_products(info.context, first=first, after=after, type=type)
        return Connection.of(page, lambda row: Product.of(row[0]))

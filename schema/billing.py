"""Orders, their items and invoices; placing an order."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING

import strawberry
from strawberry.types import Info

from models import billing as models
from models.billing import InvoiceStatus, OrderStatus
from models.catalogue import BillingCycle
from resolvers.billing import orders as resolve
from resolvers.core.context import Context
from resolvers.core.ids import encode_id
from resolvers.core.policies import DOMAIN, INVOICE, ORDER, SERVICE
from schema.catalogue import Product
from schema.core.base import BillingProfile, Money, Node, UserError, account_field, shaped
from schema.core.ids import decode_id
from schema.core.policy import Granted, gated, mutation, on_account
from schema.hosting.domains import Domain, DomainContactsInput, contact_ids
from schema.hosting.services import Service, Specification, SpecificationInput
from schema.users import User, history_field, in_history

if TYPE_CHECKING:
    pass


@strawberry.enum
class DomainAction(Enum):
    REGISTER = "REGISTER"
    TRANSFER = "TRANSFER"


@strawberry.input
class InvoiceFilter:
    account_ids: list[strawberry.ID] | None = None
    status: list[InvoiceStatus] | None = None


_ITEM_SERVICE = dataclasses.replace(SERVICE.view, when="when the item has a service")
_ITEM_DOMAIN = dataclasses.replace(DOMAIN.view, when="when the item has a domain")


@strawberry.type
class OrderItem:
    billing_cycle: BillingCycle
    specifications: list[Specification]
    domain_name: str | None
    amount: Money
    account_pk: strawberry.Private[uuid.UUID]
    product_pk: strawberry.Private[uuid.UUID]
    service_pk: strawberry.Private[uuid.UUID | None]
    domain_pk: strawberry.Private[uuid.UUID | None]

    @classmethod
    def of(cls, row: models.OrderItem, *, account_id: uuid.UUID, currency_code: str) -> OrderItem:
        return cls(
            billing_cycle=row.billing_cycle,
            specifications=[Specification(key=s["key"], value=s["value"]) for s in row.specifications],
            domain_name=row.domain_name,
            amount=Money.of(row.amount, currency_code),
            account_pk=account_id,
            product_pk=row.product_id,
            service_pk=row.service_id,
            domain_pk=row.domain_id,
        )

    @strawberry.field
    async def product(self, info: Info[Context, None]) -> Product:
        row = await info.context.loaders.catalogue.product.load(self.product_pk)
        assert row is not None
        return Product.of(row)

    # Only an item that has a service (or a domain) needs the permission (DESIGN rule 8).
    @strawberry.field(**gated(_ITEM_SERVICE, account_of="service_account_pk"))
    async def service(self, info: Info[Context, None]) -> Service | None:
        if self.service_pk is None:
            return None
        row = await info.context.loaders.service.load(self.service_pk)
        return Service.of(row) if row else None

    @strawberry.field(**gated(_ITEM_DOMAIN, account_of="domain_account_pk"))
    async def domain(self, info: Info[Context, None]) -> Domain | None:
        if self.domain_pk is None:
            return None
        row = await info.context.loaders.domain.load(self.domain_pk)
        return Domain.of(row) if row else None

    @property
    def service_account_pk(self) -> uuid.UUID | None:
        return None if self.service_pk is None else self.account_pk

    @property
    def domain_account_pk(self) -> uuid.UUID | None:
        return None if self.domain_pk is None else self.account_pk


@strawberry.type
class InvoiceLine:
    description: str
    amount: Money = strawberry.field(description="Net.")


@strawberry.type
class TaxLine:
    name: str = strawberry.field(description='E.g. "USt 20 %" or "Reverse charge".')
    rate: Decimal
    amount: Money


@strawberry.type
class Invoice(Node):
    id: strawberry.ID
    number: str
    status: InvoiceStatus
    bill_to: BillingProfile = strawberry.field(
        description="Snapshot of the account's billing profile when the invoice was issued."
    )
    subtotal: Money
    total: Money = strawberry.field(description="Gross: subtotal plus taxes.")
    issued_at: datetime
    due_at: date
    paid_at: datetime | None
    account_pk: strawberry.Private[uuid.UUID]
    invoice_pk: strawberry.Private[uuid.UUID]
    currency_code: strawberry.Private[str]

    @classmethod
    def of(cls, row: models.Invoice) -> Invoice:
        from schema.core.base import Address

        return cls(
            id=strawberry.ID(encode_id("Invoice", row.id)),
            number=row.number,
            status=row.status,
            bill_to=BillingProfile(
                first_name=row.bill_to_first_name,
                last_name=row.bill_to_last_name,
                company_name=row.bill_to_company_name,
                email=row.bill_to_email,
                phone=row.bill_to_phone,
                address=Address(
                    line1=row.bill_to_line1,
                    line2=row.bill_to_line2,
                    city=row.bill_to_city,
                    state=row.bill_to_state,
                    postal_code=row.bill_to_postal_code,
                    country_code=row.bill_to_country_code,
                ),
                tax_id=row.bill_to_tax_id,
                currency_code=row.currency_code,
            ),
            subtotal=Money.of(row.subtotal, row.currency_code),
            total=Money.of(row.total, row.currency_code),
            issued_at=row.issued_at,
            due_at=row.due_at,
            paid_at=row.paid_at,
            account_pk=row.account_id,
            invoice_pk=row.id,
            currency_code=row.currency_code,
        )

    account = account_field()

    @strawberry.field
    async def lines(self, info: Info[Context, None]) -> list[InvoiceLine]:
        rows = await info.context.loaders.billing.lines.load(self.invoice_pk)
        return [
            InvoiceLine(description=r.description, amount=Money.of(r.amount, self.currency_code))
            for r in rows
        ]

    @strawberry.field
    async def taxes(self, info: Info[Context, None]) -> list[TaxLine]:
        rows = await info.context.loaders.billing.taxes.load(self.invoice_pk)
        return [
            TaxLine(name=r.name, rate=r.rate, amount=Money.of(r.amount, self.currency_code)) for r in rows
        ]


@shaped
@strawberry.type
class Order(Node):
    id: strawberry.ID
    number: str
    status: OrderStatus
    total: Money = strawberry.field(description="Gross: the invoice's total.")
    created_at: datetime
    account_pk: strawberry.Private[uuid.UUID]
    order_pk: strawberry.Private[uuid.UUID]
    placed_by_pk: strawberry.Private[uuid.UUID]
    currency_code: strawberry.Private[str]

    @classmethod
    def of(cls, row: models.Order) -> Order:
        return cls(
            id=strawberry.ID(encode_id("Order", row.id)),
            number=row.number,
            status=row.status,
            total=Money.of(row.total, row.currency_code),
            created_at=row.created_at,
            account_pk=row.account_id,
            order_pk=row.id,
            placed_by_pk=row.placed_by_id,
            currency_code=row.currency_code,
        )

    account = account_field()

    @strawberry.field(description=history_field("Who placed the order."))
    async def placed_by(self, info: Info[Context, None]) -> User:
        user = await in_history(info, self.placed_by_pk)
        assert user is not None
        return user

    @strawberry.field
    async def items(self, info: Info[Context, None]) -> list[OrderItem]:
        rows = await info.context.loaders.billing.items.load(self.order_pk)
        return [OrderItem.of(r, account_id=self.account_pk, currency_code=self.currency_code) for r in rows]

    @strawberry.field(**gated(INVOICE.view))
    async def invoice(self, info: Info[Context, None]) -> Invoice | None:
        row = await info.context.loaders.billing.invoice_of_order.load(self.order_pk)
        return Invoice.of(row) if row else None


@strawberry.input
class DomainOrderInput:
    name: str
    action: DomainAction
    period: int = strawberry.field(description="Years, 1 to 10.")
    auth_code: str | None = strawberry.field(
        default=None, description="For TRANSFER: the authorisation code from the current registrar."
    )
    contacts: DomainContactsInput
    nameservers: list[str] | None = None


@strawberry.input
class OrderItemInput:
    product_id: strawberry.ID
    billing_cycle: BillingCycle = strawberry.field(
        description="For DOMAIN products always ANNUALLY; the domain's period gives the years."
    )
    specifications: list[SpecificationInput] | None = strawberry.field(
        default=None, description="Options left out take their first choice."
    )
    domain: DomainOrderInput | None = strawberry.field(default=None, description="For DOMAIN products.")
    label: str | None = strawberry.field(
        default=None, description="For other products: the domain or hostname the service is for."
    )


@strawberry.input
class PlaceOrderInput:
    account_id: strawberry.ID
    items: list[OrderItemInput]
    idempotency_key: str = strawberry.field(
        description=(
            "Client-chosen key; the same key with the same input returns the same order, with a "
            "different input fails with IDEMPOTENCY_KEY_REUSED."
        )
    )


@strawberry.type
class PlaceOrderPayload:
    order: Order | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


def _item_keys(input: PlaceOrderInput) -> resolve.ItemKeys:
    """Every ID the items name, decoded before anything runs (DESIGN rule 11)."""
    products = [decode_id(str(item.product_id), "Product") for item in input.items]
    contacts: dict[tuple[int, str], uuid.UUID | None] = {}
    for index, item in enumerate(input.items):
        if item.domain is not None:
            for field, given in contact_ids(item.domain.contacts).items():
                contacts[(index, field.removesuffix("ContactId"))] = given
    return resolve.ItemKeys(products=products, contacts=contacts)


@strawberry.type
class OrderMutations:
    @mutation(
        on_account("account_id", ORDER.change),
        description=(
            "Place an order billed to the account; creates its invoice. Replaying the same "
            "idempotencyKey returns the first order."
        ),
        prepare=_item_keys,
    )
    async def place_order(
        self, info: Info[Context, None], input: PlaceOrderInput, granted: Granted
    ) -> PlaceOrderPayload:
        assert granted.key is not None
        row = await resolve.place_order(
            info.context,
            account_id=granted.key,
            items=input.items,  # type: ignore[arg-type]
            keys=granted.prepared,
            idempotency_key=input.idempotency_key,
        )
        return PlaceOrderPayload(order=Order.of(row))

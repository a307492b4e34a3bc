"""Services an account holds: hosting, email, SSL and servers."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from models import hosting as models
from models.catalogue import BillingCycle
from models.hosting import CancellationType, ServiceStatus
from resolvers.context import Context
from resolvers.ids import encode_id
from schema.base import Money, Node
from schema.catalogue import Product
from schema.users import User

if TYPE_CHECKING:
    from schema.accounts import ClientAccount


@strawberry.type
class Specification:
    key: str
    value: str


@strawberry.input
class SpecificationInput:
    key: str
    value: str


@strawberry.type
class CancellationRequest:
    type: CancellationType
    reason: str
    requested_at: datetime
    requested_by_pk: strawberry.Private[uuid.UUID | None]

    @strawberry.field
    async def requested_by(self, info: Info[Context, None]) -> User | None:
        if self.requested_by_pk is None:
            return None
        row = await info.context.loaders.user.load(self.requested_by_pk)
        return User.of(row) if row else None


@strawberry.type
class Service(Node):
    id: strawberry.ID
    label: str | None = strawberry.field(
        description="The domain or hostname the service is for, when it has one."
    )
    status: ServiceStatus
    billing_cycle: BillingCycle
    recurring_amount: Money
    specifications: list[Specification]
    next_due_date: date | None
    cancellation_request: CancellationRequest | None = strawberry.field(
        description="The open cancellation request, if any."
    )
    created_at: datetime
    account_pk: strawberry.Private[uuid.UUID]
    product_pk: strawberry.Private[uuid.UUID]

    @classmethod
    def of(cls, row: models.Service) -> Service:
        cancellation = None
        if row.cancellation_type is not None and row.cancellation_requested_at is not None:
            cancellation = CancellationRequest(
                type=row.cancellation_type,
                reason=row.cancellation_reason or "",
                requested_at=row.cancellation_requested_at,
                requested_by_pk=row.cancellation_requested_by_id,
            )
        return cls(
            id=strawberry.ID(encode_id("Service", row.id)),
            label=row.label,
            status=row.status,
            billing_cycle=row.billing_cycle,
            recurring_amount=Money.of(row.recurring_amount, row.currency_code),
            specifications=[Specification(key=s["key"], value=s["value"]) for s in row.specifications],
            next_due_date=row.next_due_date,
            cancellation_request=cancellation,
            created_at=row.created_at,
            account_pk=row.account_id,
            product_pk=row.product_id,
        )

    @strawberry.field
    async def account(
        self, info: Info[Context, None]
    ) -> Annotated[ClientAccount, strawberry.lazy("schema.accounts")]:
        from schema.accounts import ClientAccount

        row = await info.context.loaders.account.load(self.account_pk)
        assert row is not None
        return ClientAccount.of(row)

    @strawberry.field
    async def product(self, info: Info[Context, None]) -> Product:
        row = await info.context.loaders.catalogue.product.load(self.product_pk)
        assert row is not None
        return Product.of(row)

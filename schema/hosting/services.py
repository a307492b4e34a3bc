"""Services an account holds (hosting, email, SSL, servers); listing, upgrading and cancelling them."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from models import billing
from models import hosting as models
from models.catalogue import BillingCycle, ProductType
from models.hosting import CancellationType, ServiceStatus
from resolvers.core.context import Context
from resolvers.core.ids import encode_id
from resolvers.core.lookahead import at_hand, services_ahead
from resolvers.core.policies import SERVICE
from resolvers.hosting import services as resolve
from resolvers.hosting import upgrades as upgrades_resolve
from schema.catalogue import Product
from schema.core.base import Connection, Money, Node, UserError, account_field, account_keys, shape
from schema.core.lookahead import nodes_ahead
from schema.core.policy import Granted, OnObject, gated, mutation
from schema.users import User, history_field, in_history

if TYPE_CHECKING:
    from schema.billing import Order


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

    @strawberry.field(description=history_field("Who asked for the cancellation."))
    async def requested_by(self, info: Info[Context, None]) -> User | None:
        return await in_history(info, self.requested_by_pk)


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

    account = account_field()

    @strawberry.field
    def product(self, info: Info[Context, None]) -> Product:
        return at_hand(info.context.loaders.catalogue.product, self.product_pk, Product.of)


@strawberry.input
class ServiceFilter:
    account_ids: list[strawberry.ID] | None = None
    status: list[ServiceStatus] | None = None
    type: ProductType | None = strawberry.field(default=None, description="The product's type.")


async def service_connection(
    info: Info[Context, None],
    *,
    account_id: uuid.UUID | None,
    first: int | None,
    after: str | None,
    filter: ServiceFilter | None,
) -> Connection[Service]:
    """`ClientAccount.services` (one account) and `Viewer.services` (account_id None: all of them)."""
    query = resolve.service_query(
        account_ids=account_keys(filter.account_ids if filter else None),
        statuses=filter.status if filter else None,
        product_type=filter.type if filter else None,
    )
    if account_id is None:
        page = await resolve.viewer_services(info.context, first=first, after=after, query=query)
    else:
        page = await resolve.account_services(
            info.context, account_id=account_id, first=first, after=after, query=query
        )
    await services_ahead(info.context, [row for _, row in page.edges], nodes_ahead(info, page))
    return Connection.of(page, Service.of)


@strawberry.type
class _ServiceChangePayload:
    changed: strawberry.Private[models.Service | None] = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)

    # Changing a service needs more than seeing it; reading it back needs VIEW_SERVICES (DESIGN rule 8).
    @strawberry.field(**gated(SERVICE.view))
    def service(self) -> Service | None:
        return None if self.changed is None else Service.of(self.changed)

    @property
    def account_pk(self) -> uuid.UUID | None:
        return None if self.changed is None else self.changed.account_id


@strawberry.input
class ChangeServiceSpecificationsInput:
    service_id: strawberry.ID
    specifications: list[SpecificationInput]


@strawberry.type
class ChangeServiceSpecificationsPayload(_ServiceChangePayload):
    order_row: strawberry.Private[billing.Order | None] = None

    @strawberry.field(description="The upgrade or downgrade order that bills the change.")
    def order(self) -> Annotated[Order, strawberry.lazy("schema.billing")] | None:
        order: Order | None = shape("Order")(self.order_row) if self.order_row else None
        return order


@strawberry.input
class RequestServiceCancellationInput:
    service_id: strawberry.ID
    type: CancellationType
    reason: str


@strawberry.type
class RequestServiceCancellationPayload(_ServiceChangePayload):
    pass


@strawberry.type
class ServiceMutations:
    @mutation(
        OnObject("service_id", SERVICE, SERVICE.action("upgrade")),
        description=(
            "New specifications for an ACTIVE or PENDING service; options left out keep their value. "
            "The price difference for the rest of the current billing period is billed at once by an "
            "order (a downgrade is credited by a negative line)."
        ),
    )
    async def change_service_specifications(
        self, info: Info[Context, None], input: ChangeServiceSpecificationsInput, granted: Granted
    ) -> ChangeServiceSpecificationsPayload:
        service, order = await upgrades_resolve.change_service_specifications(
            info.context, service_id=granted.target.id, specifications=input.specifications
        )
        return ChangeServiceSpecificationsPayload(changed=service, order_row=order)

    @mutation(
        OnObject("service_id", SERVICE, SERVICE.action("cancel")),
        description=(
            "Ask for a service to be cancelled, now or at the end of its billing period; the provider "
            "carries it out."
        ),
    )
    async def request_service_cancellation(
        self, info: Info[Context, None], input: RequestServiceCancellationInput, granted: Granted
    ) -> RequestServiceCancellationPayload:
        service = await resolve.request_service_cancellation(
            info.context, service_id=granted.target.id, cancellation_type=input.type, reason=input.reason
        )
        return RequestServiceCancellationPayload(changed=service)

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
from models.permissions import Permission
from resolvers import services as resolve
from resolvers import upgrades as upgrades_resolve
from resolvers.context import Context
from resolvers.errors import Rejected
from resolvers.ids import decode_id, encode_id
from resolvers.lookahead import at_hand, services_ahead
from resolvers.permissions import require_in_account
from schema.base import Connection, Money, Node, UserError, authenticated, user_errors
from schema.catalogue import Product
from schema.lookahead import selected
from schema.users import User, history_field, in_history

if TYPE_CHECKING:
    from schema.accounts import ClientAccount
    from schema.orders import Order


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

    @strawberry.field
    def account(
        self, info: Info[Context, None]
    ) -> Annotated[ClientAccount, strawberry.lazy("schema.accounts")]:
        from schema.accounts import ClientAccount

        return at_hand(info.context.loaders.account, self.account_pk, ClientAccount.of)

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
        account_ids=None
        if filter is None or filter.account_ids is None
        else [str(i) for i in filter.account_ids],
        statuses=filter.status if filter else None,
        product_type=filter.type if filter else None,
    )
    if account_id is None:
        page = await resolve.viewer_services(info.context, first=first, after=after, query=query)
    else:
        page = await resolve.account_services(
            info.context, account_id=account_id, first=first, after=after, query=query
        )
    await services_ahead(info.context, [row for _, row in page.edges], selected(info, "edges", "node"))
    return Connection.of(page, Service.of)


async def _visible(info: Info[Context, None], row: models.Service | None) -> Service | None:
    """A payload's service, shown to members who may see services (DESIGN rule 8)."""
    if row is None:
        return None
    await require_in_account(info.context, row.account_id, Permission.VIEW_SERVICES)
    return Service.of(row)


@strawberry.input
class ChangeServiceSpecificationsInput:
    service_id: strawberry.ID
    specifications: list[SpecificationInput]


@strawberry.type
class ChangeServiceSpecificationsPayload:
    changed: strawberry.Private[models.Service | None] = None
    order_row: strawberry.Private[billing.Order | None] = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)

    @strawberry.field(description="Needs VIEW_SERVICES.")
    async def service(self, info: Info[Context, None]) -> Service | None:
        return await _visible(info, self.changed)

    @strawberry.field(description="The upgrade or downgrade order that bills the change.")
    def order(self) -> Annotated[Order, strawberry.lazy("schema.orders")] | None:
        from schema.orders import Order

        return Order.of(self.order_row) if self.order_row else None


@strawberry.input
class RequestServiceCancellationInput:
    service_id: strawberry.ID
    type: CancellationType
    reason: str


@strawberry.type
class RequestServiceCancellationPayload:
    changed: strawberry.Private[models.Service | None] = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)

    @strawberry.field(description="Needs VIEW_SERVICES.")
    async def service(self, info: Info[Context, None]) -> Service | None:
        return await _visible(info, self.changed)


@strawberry.type
class ServiceMutations:
    @strawberry.mutation(
        description=(
            "New specifications for an ACTIVE or PENDING service; options left out keep their value. "
            "Needs MANAGE_SERVICES and PLACE_ORDERS. The price difference for the rest of the current "
            "billing period is billed at once by an order (a downgrade is credited by a negative line)."
        ),
        extensions=authenticated(),
    )
    async def change_service_specifications(
        self, info: Info[Context, None], input: ChangeServiceSpecificationsInput
    ) -> ChangeServiceSpecificationsPayload:
        try:
            service, order = await upgrades_resolve.change_service_specifications(
                info.context,
                service_id=decode_id(input.service_id, "Service"),
                specifications=input.specifications,
            )
        except Rejected as rejected:
            return ChangeServiceSpecificationsPayload(user_errors=user_errors(rejected))
        return ChangeServiceSpecificationsPayload(changed=service, order_row=order)

    @strawberry.mutation(
        description=(
            "Ask for a service to be cancelled, now or at the end of its billing period; the provider "
            "carries it out. Needs PLACE_ORDERS."
        ),
        extensions=authenticated(),
    )
    async def request_service_cancellation(
        self, info: Info[Context, None], input: RequestServiceCancellationInput
    ) -> RequestServiceCancellationPayload:
        try:
            service = await resolve.request_service_cancellation(
                info.context,
                service_id=decode_id(input.service_id, "Service"),
                cancellation_type=input.type,
                reason=input.reason,
            )
        except Rejected as rejected:
            return RequestServiceCancellationPayload(user_errors=user_errors(rejected))
        return RequestServiceCancellationPayload(changed=service)

"""Types every area shares: Node, PageInfo, user errors, permissions, money and addresses."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Annotated, Any, Generic, TypeVar

import strawberry
from strawberry.extensions.field_extension import FieldExtension
from strawberry.permission import BasePermission, PermissionExtension
from strawberry.types import Info

from models.accounts import ClientAccount as ClientAccountRow
from resolvers.core.context import Context
from resolvers.core.errors import Rejected, Unauthenticated, UserErrorCode
from resolvers.core.lookahead import at_hand
from resolvers.core.pagination import Page
from schema.core.ids import decode_id

if TYPE_CHECKING:
    from schema.accounts.accounts import ClientAccount


@strawberry.interface(
    description="Relay global object identification: every entity is fetchable by its opaque global ID."
)
class Node:
    id: strawberry.ID


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None

    @classmethod
    def of(cls, page: Page[Any]) -> PageInfo:
        return cls(
            has_next_page=page.has_next_page,
            has_previous_page=page.has_previous_page,
            start_cursor=page.start_cursor,
            end_cursor=page.end_cursor,
        )


T = TypeVar("T")


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    """A keyset page; Strawberry names `Connection[Membership]` MembershipConnection."""

    edges: list[Edge[T]]
    page_info: PageInfo
    page: strawberry.Private[Page[Any]]

    @strawberry.field
    async def total_count(self) -> int:
        return await self.page.count()

    @classmethod
    def of(cls, page: Page[Any], wrap: Callable[[Any], T]) -> Connection[T]:
        return cls(
            edges=[Edge(cursor=cursor, node=wrap(row)) for cursor, row in page.edges],
            page_info=PageInfo.of(page),
            page=page,
        )


@strawberry.type(description="One problem with a mutation's input or with what it asked for.")
class UserError:
    field: list[str] | None = strawberry.field(
        description=(
            'Path to the input field that caused the error, e.g. ["input", "email"]; '
            "null when not tied to a field."
        )
    )
    message: str
    code: UserErrorCode


def user_errors(rejected: Rejected) -> list[UserError]:
    return [
        UserError(field=list(p.field) if p.field else None, message=p.message, code=p.code)
        for p in rejected.problems
    ]


@strawberry.type
class Address:
    line1: str
    line2: str | None
    city: str
    state: str | None
    postal_code: str
    country_code: str = strawberry.field(description="ISO 3166-1 alpha-2, e.g. AT.")


@strawberry.input
class AddressInput:
    line1: str
    line2: str | None = None
    city: str
    state: str | None = None
    postal_code: str
    country_code: str


class _Authenticated(BasePermission):
    def has_permission(self, source: Any, info: Info[Context, Any], **kwargs: Any) -> bool:
        return info.context.principal is not None

    def on_unauthorized(self) -> None:
        raise Unauthenticated


def authenticated() -> list[FieldExtension]:
    """Field extension list: anonymous callers get a top-level UNAUTHENTICATED error (rule 9)."""
    return [PermissionExtension(permissions=[_Authenticated()], use_directives=False)]


def account_keys(account_ids: list[strawberry.ID] | None) -> list[uuid.UUID] | None:
    """The accounts a filter names (None: any). An undecodable ID is BAD_USER_INPUT (rule 11);
    an ID of another type matches nothing."""
    if account_ids is None:
        return None
    keys = [decode_id(str(global_id), "ClientAccount") for global_id in account_ids]
    return [key for key in keys if key is not None]


@strawberry.type
class BillingProfile:
    first_name: str
    last_name: str
    company_name: str | None
    email: str
    phone: str
    address: Address
    tax_id: str | None
    currency_code: str

    @classmethod
    def of(cls, row: ClientAccountRow) -> BillingProfile:
        return cls(
            first_name=row.billing_first_name,
            last_name=row.billing_last_name,
            company_name=row.billing_company_name,
            email=row.billing_email,
            phone=row.billing_phone,
            address=Address(
                line1=row.billing_line1,
                line2=row.billing_line2,
                city=row.billing_city,
                state=row.billing_state,
                postal_code=row.billing_postal_code,
                country_code=row.billing_country_code,
            ),
            tax_id=row.billing_tax_id,
            currency_code=row.currency_code,
        )


CENT = Decimal("0.01")


@strawberry.type
class Money:
    amount: Decimal
    currency_code: str = strawberry.field(description="ISO-4217 code, e.g. EUR.")

    @classmethod
    def of(cls, amount: Decimal, currency_code: str) -> Money:
        # Strawberry serialises Decimal with str(): "4.9" would read as a different price than "4.90".
        return cls(amount=amount.quantize(CENT, rounding=ROUND_HALF_UP), currency_code=currency_code)


_SHAPES: dict[str, Callable[[Any], Any]] = {}
TypeT = TypeVar("TypeT")


def shaped(cls: TypeT) -> TypeT:
    """Registers a type's `of` (its row → object), so an area below the one defining the type can
    build it from a row by name, without importing the area above it: schema/accounts, which
    reaches every other area, sits on top, and imports between the areas run one way only."""
    _SHAPES[cls.__name__] = cls.of  # type: ignore[attr-defined]
    return cls


def shape(type_name: str) -> Callable[[Any], Any]:
    """The `of` a type registered with `shaped`; every type is registered once the schema is built."""
    return _SHAPES[type_name]


def _account(
    root: Any, info: Info[Context, Any]
) -> Annotated[ClientAccount, strawberry.lazy("schema.accounts.accounts")]:
    account: ClientAccount = at_hand(info.context.loaders.account, root.account_pk, shape("ClientAccount"))
    return account


def account_field() -> Any:
    """The `account` field of an object that belongs to one (its `account_pk`): built at once when
    the request holds the account's row already (the look-ahead, the access check or another field
    read it), else once the account loader has read it."""
    return strawberry.field(resolver=_account)

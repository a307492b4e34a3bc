"""Creating client accounts (for oneself or on a customer's behalf) and changing their billing profile."""

from __future__ import annotations

from typing import TYPE_CHECKING

import strawberry
from strawberry.types import Info

from models.permissions import Permission
from resolvers.accounts import accounts as resolve
from resolvers.core.context import Context
from resolvers.core.policies import (
    ACCOUNT,
)
from schema.core.base import (
    AddressInput,
    UserError,
)
from schema.core.policy import Granted, Identity, mutation, on_account

if TYPE_CHECKING:
    pass
from schema.accounts.accounts import ClientAccount, Membership


@strawberry.input
class BillingProfileInput:
    first_name: str
    last_name: str
    company_name: str | None = None
    email: str
    phone: str = strawberry.field(description="E.164 (+43123456) or its EPP form (+43.123456).")
    address: AddressInput
    tax_id: str | None = strawberry.field(
        default=None,
        description=(
            "VAT identification number; with it, an EU business outside the provider's country "
            "is invoiced by reverse charge."
        ),
    )


@strawberry.input
class CreateClientAccountInput:
    name: str
    billing_profile: BillingProfileInput


@strawberry.type
class CreateClientAccountPayload:
    account: ClientAccount | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class UpdateBillingProfileInput:
    account_id: strawberry.ID
    billing_profile: BillingProfileInput


@strawberry.type
class UpdateBillingProfilePayload:
    account: ClientAccount | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class AccountMutations:
    @mutation(
        Identity(),
        description=(
            "A further client account owned by the viewer (e.g. an agency's own account, billed to it)."
        ),
    )
    async def create_client_account(
        self, info: Info[Context, None], input: CreateClientAccountInput, granted: Granted
    ) -> CreateClientAccountPayload:
        assert granted.principal is not None
        row = await resolve.create_client_account(
            info.context, granted.principal, name=input.name, billing=input.billing_profile
        )
        return CreateClientAccountPayload(account=ClientAccount.of(row))

    @mutation(on_account("account_id", ACCOUNT.change))
    async def update_billing_profile(
        self, info: Info[Context, None], input: UpdateBillingProfileInput, granted: Granted
    ) -> UpdateBillingProfilePayload:
        assert granted.access is not None
        row = await resolve.update_billing_profile(
            info.context, granted.access.account_id, billing=input.billing_profile
        )
        return UpdateBillingProfilePayload(account=ClientAccount.of(row))


@strawberry.input
class AccountOwnerInput:
    email: str
    name: str


@strawberry.input
class CreateClientAccountOnBehalfInput:
    owner: AccountOwnerInput
    name: str
    billing_profile: BillingProfileInput
    permissions: list[Permission] = strawberry.field(
        description="The permissions the viewer (the agency) receives in the new account."
    )
    power_of_attorney: bool = strawberry.field(
        description="Must be true: the viewer confirms they hold the customer's power of attorney."
    )


@strawberry.type
class CreateClientAccountOnBehalfPayload:
    account: ClientAccount | None = None
    membership: Membership | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class AccountOnBehalfMutations:
    # Registering someone else's address reaches beyond the viewer's own account (rules 13, 14).
    @mutation(
        Identity(verified=True),
        description=(
            "An agency, holding its customer's power of attorney, registers a client account\n"
            "for the customer: the customer becomes owner (and is sent an email to set a\n"
            "password), the viewer becomes a user of it with the permissions asked for."
        ),
    )
    async def create_client_account_on_behalf(
        self, info: Info[Context, None], input: CreateClientAccountOnBehalfInput, granted: Granted
    ) -> CreateClientAccountOnBehalfPayload:
        assert granted.principal is not None
        account, membership = await resolve.create_client_account_on_behalf(
            info.context,
            granted.principal,
            owner_email=input.owner.email,
            owner_name=input.owner.name,
            name=input.name,
            billing=input.billing_profile,
            permissions=input.permissions,
            power_of_attorney=input.power_of_attorney,
        )
        if await info.context.access(account.id) is None:
            # An API token restricted to other accounts does not reach the new one (DESIGN rule 5).
            return CreateClientAccountOnBehalfPayload()
        return CreateClientAccountOnBehalfPayload(
            account=ClientAccount.of(account), membership=Membership.of(membership)
        )

"""The affiliate programme: an account's affiliate, its commissions, and activating it."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

import strawberry
from strawberry.types import Info

from models import affiliates as models
from models.accounts import ClientAccount as ClientAccountRow
from models.affiliates import CommissionStatus
from resolvers import affiliates as resolve
from resolvers.core.context import Context
from resolvers.core.numbers import cents
from resolvers.core.policies import AFFILIATE
from schema.core.base import Connection, Money, UserError
from schema.core.policy import Granted, mutation, on_account


@strawberry.type(
    description=(
        "What a referred account's paid hosting earned the affiliate. It is PENDING for a holding "
        "period after the invoice is paid, then CLEARED if the services are still active, else VOID."
    )
)
class AffiliateCommission:
    amount: Money
    status: CommissionStatus
    clears_at: datetime
    created_at: datetime
    referred_account_name: str = strawberry.field(
        description="The referred account's name; the account itself is not the affiliate's to see."
    )

    @classmethod
    def of(cls, row: tuple[models.AffiliateCommission, str]) -> AffiliateCommission:
        commission, account_name = row
        return cls(
            amount=Money.of(commission.amount, commission.currency_code),
            status=commission.status,
            clears_at=commission.clears_at,
            created_at=commission.created_at,
            referred_account_name=account_name,
        )


@strawberry.type
class Affiliate:
    referral_code: str
    commission_rate: Decimal
    pk: strawberry.Private[uuid.UUID]
    currency_code: strawberry.Private[str]

    @classmethod
    def of(cls, row: models.Affiliate, *, currency_code: str) -> Affiliate:
        return cls(
            referral_code=row.referral_code,
            commission_rate=cents(row.commission_rate),
            pk=row.id,
            currency_code=currency_code,
        )

    @strawberry.field(description="The sum of the cleared commissions, in the account's currency.")
    async def balance(self, info: Info[Context, None]) -> Money:
        sums = await info.context.loaders.affiliates.balances.load(self.pk)
        return Money.of(sums.get(self.currency_code, Decimal("0")), self.currency_code)

    @strawberry.field
    async def referred_accounts_count(self, info: Info[Context, None]) -> int:
        count: int = await info.context.loaders.affiliates.referred_counts.load(self.pk)
        return count

    @strawberry.field(description="Newest first.")
    async def commissions(
        self, info: Info[Context, None], first: int | None = None, after: str | None = None
    ) -> Connection[AffiliateCommission]:
        page = await resolve.affiliate_commissions(
            info.context, affiliate_id=self.pk, first=first, after=after
        )
        return Connection.of(page, AffiliateCommission.of)


async def affiliate_of_account(info: Info[Context, None], account: ClientAccountRow) -> Affiliate | None:
    """`ClientAccount.affiliate`, once its permission has been checked."""
    row = await info.context.loaders.affiliates.by_account.load(account.id)
    return Affiliate.of(row, currency_code=account.currency_code) if row else None


@strawberry.input
class ActivateAffiliateInput:
    account_id: strawberry.ID


@strawberry.type
class ActivateAffiliatePayload:
    affiliate: Affiliate | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class AffiliateMutations:
    @mutation(
        on_account("account_id", AFFILIATE.change),
        description=(
            "Join the affiliate programme: the account gets a referral code. Activating again returns "
            "the account's affiliate unchanged."
        ),
    )
    async def activate_affiliate(
        self, info: Info[Context, None], input: ActivateAffiliateInput, granted: Granted
    ) -> ActivateAffiliatePayload:
        assert granted.access is not None
        row = await resolve.activate_affiliate(info.context, granted.access.account_id)
        account = await info.context.loaders.account.load(row.account_id)
        assert account is not None
        return ActivateAffiliatePayload(affiliate=Affiliate.of(row, currency_code=account.currency_code))

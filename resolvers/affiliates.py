"""The affiliate programme: activation and referral codes, who referred an account, and the
commissions a referred account's paid hosting earns, held for a while before they count."""

from __future__ import annotations

import secrets
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from models.accounts import ClientAccount, Membership, MembershipRole
from models.affiliates import Affiliate, AffiliateCommission, CommissionStatus
from models.billing import Invoice, InvoiceLine, OrderItem
from models.catalogue import Product, ProductType
from models.database import Database
from models.hosting import Service, ServiceStatus
from models.permissions import to_mask
from resolvers.core.audit import record
from resolvers.core.context import Context
from resolvers.core.errors import UserErrorCode
from resolvers.core.ids import encode_id
from resolvers.core.loaders import Loader
from resolvers.core.numbers import cents
from resolvers.core.pagination import Page, paginate
from resolvers.core.policies import AFFILIATE
from resolvers.core.validation import Checker

if TYPE_CHECKING:
    from resolvers.core.settings import Settings

# Crockford-style base32 without the look-alikes 0/O, 1/I/L and U: read aloud or typed from a
# flyer, a code cannot be mistaken for another. 12 characters of 30 symbols are ~59 bits.
REFERRAL_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"
REFERRAL_CODE_LENGTH = 12
# A collision of random 59-bit codes is already rare; a handful of attempts cannot all collide.
ACTIVATION_ATTEMPTS = 5
CLEARING_BATCH = 500


def new_referral_code() -> str:
    return "".join(secrets.choice(REFERRAL_ALPHABET) for _ in range(REFERRAL_CODE_LENGTH))


async def activate_affiliate(context: Context, account_id: uuid.UUID) -> Affiliate:
    """The account's affiliate, created on the first activation with a fresh code and the rate
    of the moment; activating again returns it unchanged (the viewer holds AFFILIATE's `change`)."""
    for _ in range(ACTIVATION_ATTEMPTS):
        try:
            affiliate = await _existing_or_new(context, account_id)
        except IntegrityError:
            # A concurrent activation of this account won (the next attempt finds its affiliate),
            # or the code was taken (the next attempt draws another).
            continue
        context.loaders.affiliates.by_account.clear(account_id).prime(account_id, affiliate)
        return affiliate
    raise RuntimeError("could not draw an unused referral code")


async def _existing_or_new(context: Context, account_id: uuid.UUID) -> Affiliate:
    async with context.db.begin() as session:
        existing = await session.scalar(select(Affiliate).where(Affiliate.account_id == account_id))
        if existing is not None:
            return existing
        affiliate = Affiliate(
            account_id=account_id,
            referral_code=new_referral_code(),
            commission_rate=cents(context.settings.affiliate_commission_rate),
        )
        session.add(affiliate)
        await session.flush()
        record(
            session,
            context,
            "affiliate.activated",
            account_id=account_id,
            subject_id=encode_id("ClientAccount", account_id),
        )
    return affiliate


async def referrer_by_code(db: Database, check: Checker, code: str | None) -> uuid.UUID | None:
    """The affiliate a sign-up's referral code names. A blank code is no code; a code that names
    no affiliate is an INVALID problem, so a mistyped code is told rather than silently lost."""
    cleaned = (code or "").strip().upper()
    if not cleaned:
        return None
    async with db.read() as session:
        found = await session.scalar(select(Affiliate.id).where(Affiliate.referral_code == cleaned))
    if found is None:
        check.fail(("input", "referralCode"), "This referral code is not valid.", UserErrorCode.INVALID)
    return found


async def referrer_of_agent(session: AsyncSession, user_id: uuid.UUID) -> uuid.UUID | None:
    """The affiliate credited with an account the user registers on a customer's behalf.

    Only affiliate accounts where the user may manage the programme count (the owner, or a member
    holding MANAGE_AFFILIATE): an agency that is merely a member of some customer's account is not
    acting for that customer's programme. Of several, the one of an account the user owns wins, then
    the account created first, so the choice is stable however many accounts the agency has.
    """
    owned = Membership.role == MembershipRole.OWNER
    statement = (
        select(Affiliate.id)
        .join(Membership, Membership.account_id == Affiliate.account_id)
        .join(ClientAccount, ClientAccount.id == Affiliate.account_id)
        .where(
            Membership.user_id == user_id,
            or_(owned, Membership.permissions.op("&")(to_mask(AFFILIATE.change.any_of)) != 0),
        )
        .order_by(owned.desc(), ClientAccount.created_at, ClientAccount.id)
        .limit(1)
    )
    return await session.scalar(statement)


async def _is_own_purchase(session: AsyncSession, affiliate: Affiliate, account_id: uuid.UUID) -> bool:
    """An account never earns on its own purchases: neither on the affiliate's own account nor on
    an account owned by the affiliate account's owner (e.g. after an ownership transfer)."""
    if affiliate.account_id == account_id:
        return True
    buyer, earner = aliased(Membership), aliased(Membership)
    same_owner = await session.scalar(
        select(func.count())
        .select_from(buyer)
        .join(earner, earner.user_id == buyer.user_id)
        .where(
            buyer.account_id == account_id,
            buyer.role == MembershipRole.OWNER,
            earner.account_id == affiliate.account_id,
            earner.role == MembershipRole.OWNER,
        )
    )
    return bool(same_owner)


async def record_commissions(session: AsyncSession, *, invoice: Invoice, settings: Settings) -> None:
    """In the unit of work that marks `invoice` paid: when its account was referred, the affiliate
    earns its rate of the invoice's net hosting lines (domains and other products earn nothing),
    PENDING until the hold has passed. Recording twice for one invoice records once."""
    if invoice.order_id is None or invoice.paid_at is None:
        return
    account = await session.get_one(ClientAccount, invoice.account_id)
    if account.referred_by_affiliate_id is None:
        return
    affiliate = await session.get(Affiliate, account.referred_by_affiliate_id)
    if affiliate is None or await _is_own_purchase(session, affiliate, account.id):
        return
    # An invoice line and the order item it bills share their position.
    hosting = (
        await session.execute(
            select(InvoiceLine.amount, OrderItem.service_id)
            .join(
                OrderItem,
                and_(OrderItem.order_id == invoice.order_id, OrderItem.position == InvoiceLine.position),
            )
            .join(Product, Product.id == OrderItem.product_id)
            .where(InvoiceLine.invoice_id == invoice.id, Product.type == ProductType.HOSTING)
            .order_by(InvoiceLine.position)
        )
    ).all()
    net = sum((amount for amount, _ in hosting), Decimal("0"))
    amount = cents(net * affiliate.commission_rate / 100)
    if amount <= 0:
        return
    service_ids = list(dict.fromkeys(str(service_id) for _, service_id in hosting if service_id))
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement: Any = (
        insert(AffiliateCommission)
        .values(
            affiliate_id=affiliate.id,
            invoice_id=invoice.id,
            referred_account_id=account.id,
            service_ids=",".join(service_ids),
            amount=amount,
            currency_code=invoice.currency_code,
            status=CommissionStatus.PENDING,
            clears_at=invoice.paid_at + timedelta(days=settings.affiliate_hold_days),
        )
        .on_conflict_do_nothing(index_elements=["affiliate_id", "invoice_id"])
    )
    await session.execute(statement)


async def void_pending_commissions(session: AsyncSession, *, invoice_id: uuid.UUID) -> None:
    """A refunded invoice earns nothing; a commission that already cleared stays cleared."""
    await session.execute(
        update(AffiliateCommission)
        .where(
            AffiliateCommission.invoice_id == invoice_id,
            AffiliateCommission.status == CommissionStatus.PENDING,
        )
        .values(status=CommissionStatus.VOID)
    )


def _service_ids(commission: AffiliateCommission) -> list[uuid.UUID]:
    return [uuid.UUID(part) for part in commission.service_ids.split(",") if part]


async def clear_commissions(db: Database, *, now: datetime) -> int:
    """PENDING commissions whose hold has passed become CLEARED when every service they were earned
    on is still ACTIVE, VOID otherwise. Returns how many were decided. Batches skip rows another
    runner holds, so two `jobs run` at once never decide one commission twice."""
    processed = 0
    while True:
        async with db.begin() as session:
            due = list(
                await session.scalars(
                    select(AffiliateCommission)
                    .where(
                        AffiliateCommission.status == CommissionStatus.PENDING,
                        AffiliateCommission.clears_at <= now,
                    )
                    .order_by(AffiliateCommission.clears_at, AffiliateCommission.id)
                    .limit(CLEARING_BATCH)
                    .with_for_update(skip_locked=True)
                )
            )
            wanted = {service_id for commission in due for service_id in _service_ids(commission)}
            statuses: dict[uuid.UUID, ServiceStatus] = {}
            if wanted:
                rows = await session.execute(select(Service.id, Service.status).where(Service.id.in_(wanted)))
                statuses = {row[0]: row[1] for row in rows}
            for commission in due:
                earned_on = _service_ids(commission)
                if earned_on and all(statuses.get(s) is ServiceStatus.ACTIVE for s in earned_on):
                    commission.status = CommissionStatus.CLEARED
                    commission.cleared_at = now
                else:
                    commission.status = CommissionStatus.VOID
        processed += len(due)
        if len(due) < CLEARING_BATCH:
            return processed


async def affiliate_commissions(
    context: Context, *, affiliate_id: uuid.UUID, first: int | None, after: str | None
) -> Page[tuple[AffiliateCommission, str]]:
    """The affiliate's commissions, newest first, each with the referred account's name (and only
    that: the affiliate's members are no members of the referred account)."""
    statement: Any = (
        select(AffiliateCommission, ClientAccount.name)
        .join(ClientAccount, ClientAccount.id == AffiliateCommission.referred_account_id)
        .where(AffiliateCommission.affiliate_id == affiliate_id)
    )
    page = await paginate(
        context.db,
        statement,
        keys=[AffiliateCommission.id],
        key_of=lambda row: (row[0].id,),
        first=first,
        after=after,
        descending=True,
    )
    return page.map(lambda row: (row[0], row[1]))


class AffiliateByAccountIdLoader(Loader[uuid.UUID, Affiliate | None]):
    async def fetch(self, keys: Sequence[uuid.UUID]) -> Mapping[uuid.UUID, Affiliate | None]:
        async with self.context.db.read() as session:
            return {
                a.account_id: a
                for a in await session.scalars(select(Affiliate).where(Affiliate.account_id.in_(keys)))
            }


class BalancesByAffiliateIdLoader(Loader[uuid.UUID, dict[str, Decimal]]):
    """The sum of each affiliate's CLEARED commissions, per currency."""

    def missing(self) -> dict[str, Decimal]:
        return {}

    async def fetch(self, keys: Sequence[uuid.UUID]) -> Mapping[uuid.UUID, dict[str, Decimal]]:
        statement = (
            select(
                AffiliateCommission.affiliate_id,
                AffiliateCommission.currency_code,
                func.sum(AffiliateCommission.amount),
            )
            .where(
                AffiliateCommission.affiliate_id.in_(keys),
                AffiliateCommission.status == CommissionStatus.CLEARED,
            )
            .group_by(AffiliateCommission.affiliate_id, AffiliateCommission.currency_code)
        )
        sums: dict[uuid.UUID, dict[str, Decimal]] = defaultdict(dict)
        async with self.context.db.read() as session:
            for affiliate_id, currency_code, total in await session.execute(statement):
                sums[affiliate_id][currency_code] = Decimal(total)
        return sums


class ReferredCountByAffiliateIdLoader(Loader[uuid.UUID, int]):
    def missing(self) -> int:
        return 0

    async def fetch(self, keys: Sequence[uuid.UUID]) -> Mapping[uuid.UUID, int]:
        statement = (
            select(ClientAccount.referred_by_affiliate_id, func.count())
            .where(ClientAccount.referred_by_affiliate_id.in_(keys))
            .group_by(ClientAccount.referred_by_affiliate_id)
        )
        async with self.context.db.read() as session:
            counts: dict[Any, int] = {row[0]: int(row[1]) for row in await session.execute(statement)}
        return counts


class AffiliateLoaders:
    def __init__(self, context: Context) -> None:
        self.by_account = AffiliateByAccountIdLoader(context)
        self.balances = BalancesByAffiliateIdLoader(context)
        self.referred_counts = ReferredCountByAffiliateIdLoader(context)

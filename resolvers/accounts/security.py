"""An account's security settings: whether acting in it requires two-factor sign-in (DESIGN rule 17)."""

from __future__ import annotations

import uuid

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.accounts import ClientAccount, Membership, MembershipRole
from models.two_factor import TwoFactorCredential
from models.users import User
from resolvers.core.audit import record
from resolvers.core.context import Context
from resolvers.core.emails import language_of_user
from resolvers.core.errors import UserErrorCode, not_found, reject
from resolvers.core.ids import encode_id
from resolvers.core.outbox import enqueue
from resolvers.core.permissions import grant
from resolvers.core.policies import MEMBERSHIP_ONLY
from resolvers.core.principal import Principal
from resolvers.two_factor import two_factor


async def update_account_security(
    context: Context, principal: Principal, *, account_id: uuid.UUID | None, require_two_factor: bool
) -> ClientAccount:
    """The owner, in a cookie session, sets the requirement; they must have two-factor on to set it."""
    access = await context.access(account_id) if account_id is not None else None
    if access is None or account_id is None:
        raise not_found("input", "accountId")
    if access.role is not MembershipRole.OWNER or principal.credential != "session":
        raise reject(
            "Only the account's owner, signed in in a browser, changes its security settings.",
            UserErrorCode.FORBIDDEN,
        )
    # An owner who turned two-factor off meanwhile holds nothing here until they turn it on again.
    await grant(context, account_id, MEMBERSHIP_ONLY)
    async with context.db.begin() as session:
        if require_two_factor and not await two_factor.is_enabled(session, principal.user_id):
            raise reject(
                "Turn on two-factor sign-in for yourself before you require it in the account.",
                UserErrorCode.TWO_FACTOR_REQUIRED,
                "input",
                "requireTwoFactor",
            )
        account = await session.get_one(ClientAccount, account_id, with_for_update=True)
        turned_on = require_two_factor and not account.require_two_factor
        account.require_two_factor = require_two_factor
        record(
            session,
            context,
            "account.two_factor_required" if require_two_factor else "account.two_factor_not_required",
            account_id=account_id,
            subject_id=encode_id("ClientAccount", account_id),
        )
        if turned_on:
            await _tell_members_without_two_factor(session, context, account)
    context.loaders.account.clear(account_id).prime(account_id, account)
    context.loaders.access.clear(account_id)
    return account


async def _tell_members_without_two_factor(
    session: AsyncSession, context: Context, account: ClientAccount
) -> None:
    """Emails the members the requirement shuts out, so they know why and what to do."""
    members = await session.scalars(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(
            Membership.account_id == account.id,
            ~exists().where(
                TwoFactorCredential.user_id == User.id, TwoFactorCredential.enabled_at.is_not(None)
            ),
        )
        .order_by(User.id)
    )
    for user in list(members):
        language = await language_of_user(session, user.id)
        enqueue(
            session,
            to=user.email,
            template="two_factor_required",
            language=language,
            params={
                "name": user.name,
                "account": account.name,
                "link": context.settings.public_url.rstrip("/") + "/settings/security",
            },
        )

"""Turning two-factor sign-in on and off, and its second sign-in step (DESIGN rules 14 and 17).

Every change needs a cookie session (declared on the mutations): an API token never changes how its
user signs in.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.accounts import ClientAccount, Membership, MembershipRole
from models.base import utcnow
from models.two_factor import TwoFactorCredential, TwoFactorRecoveryCode
from models.users import User
from resolvers.core.audit import record
from resolvers.core.context import Context
from resolvers.core.credentials import verify_password
from resolvers.core.emails import format_expiry, language_of_user
from resolvers.core.errors import Rejected, UserErrorCode, reject
from resolvers.core.ids import encode_id
from resolvers.core.outbox import enqueue
from resolvers.core.principal import Principal
from resolvers.core.sessions import open_session
from resolvers.two_factor import two_factor

CODE_FAILED = "user.two_factor_failed"
PASSWORD_FAILED = "user.password_check_failed"


class _WrongAnswer(Exception):
    """Rolls a unit of work back when a code was wrong, so the failure is recorded on its own."""


@dataclass(frozen=True)
class Setup:
    secret: str
    otpauth_uri: str


async def notify(
    session: AsyncSession, context: Context, user_id: uuid.UUID, template: str, **params: str
) -> None:
    """Emails the user about a change to their sign-in, in the unit of work that makes it."""
    user = await session.get_one(User, user_id)
    language = await language_of_user(session, user_id)
    enqueue(
        session,
        to=user.email,
        template=template,
        language=language,
        params={
            **params,
            "name": user.name,
            "when": format_expiry(utcnow(), language),
            "link": context.settings.public_url.rstrip("/") + "/settings/security",
        },
    )


async def _check_password(context: Context, user_id: uuid.UUID, password: str) -> str:
    """The password, counted before it is checked; returns the throttle key to refund on success."""
    key = two_factor.throttle_key("password", user_id)
    await two_factor.count_attempt(context, key, action=PASSWORD_FAILED, user_id=user_id)
    async with context.db.read() as session:
        password_hash = await session.scalar(select(User.password_hash).where(User.id == user_id))
    if not await verify_password(context.settings, password_hash, password):
        await two_factor.attempt_failed(context, action=PASSWORD_FAILED, user_id=user_id)
        raise reject("Wrong password.", UserErrorCode.INVALID_CREDENTIALS, "input", "password")
    return key


async def _accepted(
    session: AsyncSession, context: Context, user_id: uuid.UUID, action: str, *keys: str
) -> None:
    """A right answer: the attempts counted for it are taken back, and what it did is audited."""
    for key in keys:
        await two_factor.refund_attempt(session, key)
    record(session, context, action, actor_id=user_id, subject_id=encode_id("User", user_id))


@asynccontextmanager
async def _wrong_code_refused(context: Context, user_id: uuid.UUID) -> AsyncIterator[None]:
    """A wrong code rolls its unit of work back, is audited on its own and answered as wrong."""
    try:
        yield
    except _WrongAnswer:
        await two_factor.attempt_failed(context, action=CODE_FAILED, user_id=user_id)
        raise two_factor.wrong_code() from None


async def _credential(context: Context, user_id: uuid.UUID) -> TwoFactorCredential | None:
    async with context.db.read() as session:
        return await session.get(TwoFactorCredential, user_id)


def _already_on() -> Rejected:
    return reject(
        "Two-factor sign-in is already on; turn it off first to move it to another app.",
        UserErrorCode.INVALID,
    )


async def begin_setup(context: Context, principal: Principal, *, password: str) -> Setup:
    """A new secret, kept (encrypted) until confirmTwoFactor proves the app has it."""
    existing = await _credential(context, principal.user_id)
    if existing is not None and existing.enabled_at is not None:
        raise _already_on()
    key = await _check_password(context, principal.user_id, password)
    secret = two_factor.new_totp_secret()
    encrypted = two_factor.encrypt_secret(context.settings, secret)
    async with context.db.begin() as session:
        row = await session.get(TwoFactorCredential, principal.user_id, with_for_update=True)
        if row is not None and row.enabled_at is not None:
            raise _already_on()
        if row is None:
            session.add(TwoFactorCredential(user_id=principal.user_id, secret_encrypted=encrypted))
        else:
            row.secret_encrypted, row.last_used_step, row.created_at = encrypted, None, utcnow()
        await _accepted(session, context, principal.user_id, "user.two_factor_setup_started", key)
    return Setup(secret, two_factor.otpauth_uri(context.settings, secret=secret, email=principal.email))


async def confirm(context: Context, principal: Principal, *, code: str) -> list[str]:
    """Turns two-factor sign-in on with a current code (which is then used up); the recovery codes."""
    kind, cleaned = two_factor.code_kind(code)
    if kind != "totp":
        raise reject(
            "Enter the 6-digit code your authenticator app shows.", UserErrorCode.INVALID, "input", "code"
        )
    pending = await _credential(context, principal.user_id)
    if pending is not None and pending.enabled_at is not None:
        raise _already_on()
    if pending is None:
        raise reject("Begin the setup first (beginTwoFactorSetup).", UserErrorCode.INVALID)
    key = two_factor.throttle_key("code", principal.user_id)
    await two_factor.count_attempt(context, key, action=CODE_FAILED, user_id=principal.user_id)
    async with _wrong_code_refused(context, principal.user_id), context.db.begin() as session:
        row = await session.get(TwoFactorCredential, principal.user_id, with_for_update=True)
        if row is None or row.enabled_at is not None:
            raise _already_on()
        secret = two_factor.decrypt_secret(context.settings, row.secret_encrypted)
        step = two_factor.matching_step(secret, cleaned, now=utcnow(), after=None)
        if step is None:
            raise _WrongAnswer
        # The confirming code is used up like any other (DESIGN rule 17).
        row.enabled_at, row.last_used_step = utcnow(), step
        await session.execute(
            delete(TwoFactorRecoveryCode).where(TwoFactorRecoveryCode.user_id == principal.user_id)
        )
        codes = two_factor.add_recovery_codes(session, principal.user_id)
        await _accepted(session, context, principal.user_id, "user.two_factor_enabled", key)
        await notify(session, context, principal.user_id, "two_factor_enabled")
    return codes


async def _owned_accounts_requiring_it(session: AsyncSession, user_id: uuid.UUID) -> list[str]:
    names = await session.scalars(
        select(ClientAccount.name)
        .join(Membership, Membership.account_id == ClientAccount.id)
        .where(
            Membership.user_id == user_id,
            Membership.role == MembershipRole.OWNER,
            ClientAccount.require_two_factor.is_(True),
        )
        .order_by(ClientAccount.name)
    )
    return list(names)


def _refuse_owner_who_requires_it(owned: list[str]) -> None:
    """The owner would lock themself out of their own accounts."""
    if owned:
        raise reject(
            f"You own accounts that require two-factor sign-in ({', '.join(owned)}); "
            "stop requiring it there first.",
            UserErrorCode.INVALID,
        )


async def disable(context: Context, principal: Principal, *, password: str, code: str) -> None:
    """Turns two-factor sign-in off with the password and a current or recovery code."""
    kind, cleaned = two_factor.code_kind(code)
    current = await _credential(context, principal.user_id)
    if current is None or current.enabled_at is None:
        raise reject("Two-factor sign-in is not on.", UserErrorCode.INVALID)
    async with context.db.read() as session:
        _refuse_owner_who_requires_it(await _owned_accounts_requiring_it(session, principal.user_id))
    password_key = await _check_password(context, principal.user_id, password)
    code_key = two_factor.throttle_key("code", principal.user_id)
    await two_factor.count_attempt(context, code_key, action=CODE_FAILED, user_id=principal.user_id)
    async with _wrong_code_refused(context, principal.user_id), context.db.begin() as session:
        # Again, inside the change: the owner may have required it meanwhile.
        _refuse_owner_who_requires_it(await _owned_accounts_requiring_it(session, principal.user_id))
        if not await two_factor.use_code(
            session, context.settings, user_id=principal.user_id, kind=kind, code=cleaned
        ):
            raise _WrongAnswer
        await session.execute(
            delete(TwoFactorRecoveryCode).where(TwoFactorRecoveryCode.user_id == principal.user_id)
        )
        await session.execute(
            delete(TwoFactorCredential).where(TwoFactorCredential.user_id == principal.user_id)
        )
        await _accepted(
            session, context, principal.user_id, "user.two_factor_disabled", password_key, code_key
        )
        await notify(session, context, principal.user_id, "two_factor_disabled")
    # What the request reached so far was computed with two-factor on.
    context.become(principal)


CHALLENGE_INVALID = "This sign-in expired or was completed already; sign in again."


async def complete_sign_in(context: Context, *, challenge: str, code: str) -> User:
    """The second step: a code redeems the challenge exactly once, and the session starts."""
    async with context.db.read() as session:
        found = await two_factor.find_challenge(session, challenge)
    if found is None:
        raise reject(CHALLENGE_INVALID, UserErrorCode.TOKEN_INVALID, "input", "twoFactorChallenge")
    challenge_id, user = found
    kind, cleaned = two_factor.code_kind(code)
    key = two_factor.throttle_key("code", user.id)
    await two_factor.count_attempt(context, key, action=CODE_FAILED, user_id=user.id)
    async with _wrong_code_refused(context, user.id), context.db.begin() as session:
        if not await two_factor.redeem_challenge(session, challenge_id):
            raise reject(CHALLENGE_INVALID, UserErrorCode.TOKEN_INVALID, "input", "twoFactorChallenge")
        if not await two_factor.use_code(session, context.settings, user_id=user.id, kind=kind, code=cleaned):
            raise _WrongAnswer
        if kind == "recovery":
            await _accepted(session, context, user.id, "user.recovery_code_used", key)
            left = await two_factor.unused_recovery_codes(session, user.id)
            await notify(session, context, user.id, "two_factor_recovery_code_used", left=str(left))
        else:
            await two_factor.refund_attempt(session, key)
    await open_session(context, user)
    return user

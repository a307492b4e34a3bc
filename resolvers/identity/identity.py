"""Signing up, signing in and out, resetting a password, and API tokens for partner integrations."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from models.accounts import ClientAccount
from models.base import utcnow
from models.identity import ApiToken, Session
from models.users import User
from resolvers.accounts.accounts import add_account, check_account
from resolvers.affiliates import referrer_by_code
from resolvers.core.audit import record
from resolvers.core.context import Context
from resolvers.core.credentials import (
    hash_password,
    start_session,
    verify_password,
)
from resolvers.core.emails import language_for_country
from resolvers.core.errors import Rejected, UserErrorCode, reject
from resolvers.core.ids import encode_id
from resolvers.core.passwords import password_weakness
from resolvers.core.principal import Principal
from resolvers.core.ratelimits import Limits, allowed, count_attempt, release_attempt
from resolvers.core.sessions import (
    _begin_session,
    _clear_session_cookie,
    _revoke_current_session,
    client_address,
    open_session,
)
from resolvers.core.validation import BillingProfileLike, Checker
from resolvers.email_verification import mark_verified, send_verification_link
from resolvers.password_resets.resets import find_usable_token, redeem_token
from resolvers.two_factor import two_factor


async def sign_up(
    context: Context,
    *,
    email: str,
    name: str,
    password: str,
    account_name: str,
    billing: BillingProfileLike,
    referral_code: str | None = None,
) -> tuple[User, ClientAccount]:
    # signUp tells whether an email is registered (the seed's rule), so it is limited per client.
    async with context.db.begin() as session:
        within = await allowed(session, Limits.of(context.settings).sign_up, client_address(context))
    if not within:
        raise reject("Too many sign-ups from here; try again later.", UserErrorCode.RATE_LIMITED)
    check = Checker()
    email = check.email(("input", "email"), email)
    name = check.text(("input", "name"), name, max_length=200)
    weakness = password_weakness(password, email=email)
    if weakness:
        check.fail(("input", "password"), weakness, UserErrorCode.WEAK_PASSWORD)
    account_name, profile = check_account(check, account_name, billing, name_path=("input", "accountName"))
    referrer = await referrer_by_code(context.db, check, referral_code)
    if check.problems:
        raise Rejected(check.problems)
    password_hash = await hash_password(context.settings, password)
    await _revoke_current_session(context)
    try:
        async with context.db.begin() as session:
            taken = await session.scalar(select(User.id).where(User.email == email))
            if taken is not None:
                raise _email_taken()
            user = User(email=email, name=name, password_hash=password_hash, last_login_at=utcnow())
            session.add(user)
            await session.flush()
            account, _ = await add_account(session, name=account_name, billing=profile, owner_id=user.id)
            account.referred_by_affiliate_id = referrer
            secret, login = start_session(session, context.settings, user.id)
            send_verification_link(
                session,
                context.settings,
                user=user,
                language=language_for_country(profile.address.country_code),
            )
            await session.flush()
            record(
                session,
                context,
                "user.signed_up",
                actor_id=user.id,
                account_id=account.id,
                subject_id=encode_id("User", user.id),
            )
    except IntegrityError:
        # Two sign-ups with one email at once: the unique index decides, the loser hears why.
        raise _email_taken() from None
    await _begin_session(context, user, secret, login.id)
    return user, account


def _email_taken() -> Rejected:
    return reject(
        "A user with this email already exists; sign in instead.",
        UserErrorCode.EMAIL_ALREADY_REGISTERED,
        "input",
        "email",
    )


@dataclass(frozen=True)
class SignedIn:
    """A right password: the user, and either a started session or, with two-factor sign-in on,
    the challenge that completeSignIn redeems with a code (no session yet)."""

    user: User
    challenge: str | None = None


async def sign_in(context: Context, *, email: str, password: str) -> SignedIn:
    normalised = (email or "").strip().lower()
    limit = Limits.of(context.settings).sign_in
    async with context.db.read() as session:
        user = await session.scalar(select(User).where(User.email == normalised))
    # Counted (and committed) before the password is checked: of N parallel attempts at most the
    # limit's worth get a check (DESIGN rule 18). A refused attempt counts too: while they go on,
    # the lock goes on.
    async with context.db.begin() as session:
        attempt = await count_attempt(session, limit.key(normalised), limit=limit.count, window=limit.window)
        if not attempt.allowed:
            _audit_failure(session, context, user)
    if not attempt.allowed:
        minutes = int(limit.window.total_seconds() // 60)
        raise reject(
            f"Too many failed sign-ins for this email; try again in {minutes} minutes.",
            UserErrorCode.RATE_LIMITED,
        )
    # The same work and the same answer whether the email is unknown or the password wrong.
    matched = await verify_password(context.settings, user.password_hash if user else None, password)
    if user is None or not matched:
        # The attempt stays counted as a failure; audited in its own transaction, so the refusal
        # that follows does not roll it back.
        async with context.db.begin() as session:
            _audit_failure(session, context, user)
        raise reject("Wrong email or password.", UserErrorCode.INVALID_CREDENTIALS)
    # A right password is no failure: its place in the count is given back.
    async with context.db.begin() as session:
        await release_attempt(session, attempt)
    challenge = await two_factor.challenge_if_enabled(context, user.id)
    if challenge is not None:
        return SignedIn(user, challenge)
    await open_session(context, user)
    return SignedIn(user)


def _audit_failure(session: AsyncSession, context: Context, user: User | None) -> None:
    record(
        session,
        context,
        "user.sign_in_failed",
        actor_id=user.id if user else None,
        subject_id=encode_id("User", user.id) if user else None,
    )


async def sign_out(context: Context, principal: Principal) -> None:
    if principal.credential == "session":
        async with context.db.begin() as session:
            await session.execute(
                update(Session)
                .where(Session.id == principal.credential_id, Session.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
            record(session, context, "user.signed_out", subject_id=encode_id("User", principal.user_id))
    _clear_session_cookie(context)
    context.become(None)


TOKEN_INVALID_MESSAGE = "This link is invalid, used or expired; ask for a new one."


async def reset_password(context: Context, *, token: str, password: str) -> SignedIn:
    """Sets the password from an emailed token, ends every other session of the user, starts one
    (with two-factor sign-in on: a challenge for the second step instead)."""
    async with context.db.read() as session:
        found = await find_usable_token(session, token)
    check = Checker()
    if found is None:
        check.fail(("input", "token"), TOKEN_INVALID_MESSAGE, UserErrorCode.TOKEN_INVALID)
    weakness = password_weakness(password, email=found[1].email if found else None)
    if weakness:
        check.fail(("input", "password"), weakness, UserErrorCode.WEAK_PASSWORD)
    if check.problems or found is None:
        raise Rejected(check.problems)
    token_id, user = found
    password_hash = await hash_password(context.settings, password)
    async with context.db.begin() as session:
        if not await redeem_token(session, token_id=token_id, user_id=user.id):
            raise reject(TOKEN_INVALID_MESSAGE, UserErrorCode.TOKEN_INVALID, "input", "token")
        now = utcnow()
        await session.execute(
            update(User).where(User.id == user.id).values(password_hash=password_hash, last_login_at=now)
        )
        record(
            session,
            context,
            "user.password_reset",
            actor_id=user.id,
            subject_id=encode_id("User", user.id),
        )
        # The link proves the mailbox; whoever knew the old password, or registered the address
        # before its owner proved it, loses every session and API token (DESIGN rule 13).
        await mark_verified(session, context, user.id)
        await end_credentials(session, context, user.id, now=now)
        # With two-factor sign-in on, the emailed link is one factor: the session waits for the other.
        challenge = (
            await two_factor.issue_challenge(session, user.id)
            if await two_factor.is_enabled(session, user.id)
            else None
        )
        if challenge is None:
            secret, login = start_session(session, context.settings, user.id)
        await session.flush()
    await _revoke_current_session(context)
    if challenge is not None:
        _clear_session_cookie(context)
        return SignedIn(user, challenge)
    await _begin_session(context, user, secret, login.id)
    return SignedIn(user)


async def end_credentials(
    session: AsyncSession, context: Context, user_id: uuid.UUID, *, now: datetime
) -> None:
    """Revokes every session and API token of the user, each token audited as revoked."""
    await session.execute(
        update(Session).where(Session.user_id == user_id, Session.revoked_at.is_(None)).values(revoked_at=now)
    )
    token_ids = list(
        await session.scalars(
            update(ApiToken)
            .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=now)
            .returning(ApiToken.id)
        )
    )
    for token_id in token_ids:
        record(
            session,
            context,
            "api_token.revoked",
            actor_id=user_id,
            subject_id=encode_id("ApiToken", token_id),
        )
    record(session, context, "user.sessions_ended", actor_id=user_id, subject_id=encode_id("User", user_id))

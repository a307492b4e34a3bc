"""Signing up, signing in and out, resetting a password, and API tokens for partner integrations."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from clientarea.auth import (
    digest,
    hash_password,
    new_api_token,
    start_session,
    token_display_prefix,
    verify_password,
)
from models.accounts import ClientAccount
from models.auth import ApiToken, ApiTokenAccount, Session
from models.base import utcnow
from models.permissions import Permission, to_mask
from models.users import User
from resolvers import two_factor
from resolvers.accounts import add_account, check_account
from resolvers.affiliates import referrer_by_code
from resolvers.audit import record
from resolvers.context import Context, Principal
from resolvers.email_verification import mark_verified, send_verification_link
from resolvers.emails import language_for_country
from resolvers.errors import Rejected, UserErrorCode, not_found, reject
from resolvers.ids import encode_id
from resolvers.password_resets import find_usable_token, redeem_token
from resolvers.passwords import password_weakness
from resolvers.permissions import require_principal
from resolvers.ratelimits import Limits, allowed, count_attempt, release_attempt
from resolvers.scope_changes import (
    ScopeRequest,
    choose_scope,
    copy_scope,
    require_scoped_permissions,
    write_scope,
)
from resolvers.scopes import API_TOKEN_SCOPE
from resolvers.validation import BillingProfileLike, Checker


def client_address(context: Context) -> str:
    """The caller's address (uvicorn resolves trusted proxies' X-Forwarded-For)."""
    client = context.request.client if context.request is not None else None
    return client.host if client else "unknown"


def _set_session_cookie(context: Context, secret: str) -> None:
    settings = context.settings
    if context.response is not None:
        context.response.set_cookie(
            settings.cookie_name,
            secret,
            max_age=settings.session_absolute_days * 86400,
            httponly=True,
            secure=settings.cookie_secure,
            samesite="lax",
            path="/",
        )


def _clear_session_cookie(context: Context) -> None:
    settings = context.settings
    if context.response is not None:
        context.response.delete_cookie(
            settings.cookie_name,
            httponly=True,
            secure=settings.cookie_secure,
            samesite="lax",
            path="/",
        )


def _current_cookie(context: Context) -> str | None:
    if context.request is None:
        return None
    return context.request.cookies.get(context.settings.cookie_name)


async def _revoke_current_session(context: Context) -> None:
    """A sign-in replaces whatever session the browser had (no session fixation)."""
    secret = _current_cookie(context)
    if secret:
        async with context.db.begin() as session:
            await session.execute(
                update(Session)
                .where(Session.token_hash == digest(secret), Session.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )


async def _begin_session(context: Context, user: User, secret: str, session_id: uuid.UUID) -> None:
    _set_session_cookie(context, secret)
    context.become(
        Principal(user_id=user.id, email=user.email, credential="session", credential_id=session_id)
    )


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


async def open_session(context: Context, user: User) -> None:
    """Signs the user in: a new session replaces the browser's old one; audited."""
    await _revoke_current_session(context)
    async with context.db.begin() as session:
        secret, login = start_session(session, context.settings, user.id)
        await session.execute(update(User).where(User.id == user.id).values(last_login_at=utcnow()))
        await session.flush()
        record(
            session,
            context,
            "user.signed_in",
            actor_id=user.id,
            subject_id=encode_id("User", user.id),
        )
    await _begin_session(context, user, secret, login.id)


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


@dataclass(frozen=True)
class MintedToken:
    secret: str
    token: ApiToken


async def create_api_token(
    context: Context,
    principal: Principal,
    *,
    name: str,
    account_ids: list[uuid.UUID | None] | None,
    permissions: list[Permission] | None,
    expires_at: datetime | None,
    scope: ScopeRequest | None = None,
) -> MintedToken:
    """A new token of the viewer (a session or an unrestricted token of a proven address: rules 13
    and 14); `account_ids` decoded, None for a well-formed ID of another type."""
    check = Checker()
    name = check.text(("input", "name"), name, max_length=100)
    now = utcnow()
    if expires_at is not None:
        if expires_at.tzinfo is None:
            check.fail(("input", "expiresAt"), "Give the time with a timezone.")
        elif expires_at <= now:
            check.fail(("input", "expiresAt"), "The expiry must be in the future.")
        elif expires_at > now + timedelta(days=366 * 5):
            check.fail(("input", "expiresAt"), "A token can live at most five years.")
    if check.problems:
        raise Rejected(check.problems)

    # Only an unrestricted token gets here; what it mints never lives longer than itself.
    scoped_accounts: list[uuid.UUID] | None = None
    if account_ids is not None:
        scoped_accounts = []
        for index, account_id in enumerate(account_ids):
            if account_id is None or await context.access(account_id) is None:
                raise not_found("input", "accountIds", str(index))
            if account_id not in scoped_accounts:
                scoped_accounts.append(account_id)
    scoped_permissions = frozenset(permissions) if permissions is not None else None
    if principal.credential == "token":
        async with context.db.read() as session:
            parent_expiry = await session.scalar(
                select(ApiToken.expires_at).where(ApiToken.id == principal.credential_id)
            )
        if parent_expiry is not None:
            if expires_at is None:
                expires_at = parent_expiry
            elif expires_at > parent_expiry:
                raise reject(
                    "A token cannot outlive the token creating it.",
                    UserErrorCode.PERMISSION_ESCALATION,
                    "input",
                    "expiresAt",
                )
    chosen_scope = None
    if scope is not None:
        if scoped_permissions is not None:
            require_scoped_permissions(scoped_permissions)
        # Through the viewer's scoped loaders: never wider than the user's (or this token's) scope.
        chosen_scope = await choose_scope(
            context, scope, account_ids=None if scoped_accounts is None else frozenset(scoped_accounts)
        )

    secret = new_api_token()
    async with context.db.begin() as session:
        token = ApiToken(
            user_id=principal.user_id,
            name=name,
            prefix=token_display_prefix(secret),
            token_hash=digest(secret),
            all_accounts=scoped_accounts is None,
            permissions=None if scoped_permissions is None else to_mask(scoped_permissions),
            expires_at=expires_at,
            scoped=chosen_scope is not None or principal.token_scoped,
        )
        session.add(token)
        await session.flush()
        for account_id in scoped_accounts or []:
            session.add(ApiTokenAccount(token_id=token.id, account_id=account_id))
        if chosen_scope is not None:
            await write_scope(session, API_TOKEN_SCOPE, token.id, chosen_scope)
        elif principal.token_scoped:
            # Minted by a scoped token without a scope of its own: it inherits its parent's.
            await copy_scope(session, API_TOKEN_SCOPE, principal.credential_id, API_TOKEN_SCOPE, token.id)
        record(session, context, "api_token.created", subject_id=encode_id("ApiToken", token.id))
    context.loaders.token_accounts.prime(token.id, scoped_accounts or [])
    return MintedToken(secret=secret, token=token)


async def revoke_api_token(context: Context, principal: Principal, *, token_id: uuid.UUID | None) -> ApiToken:
    if principal.restricted and token_id != principal.credential_id:
        # Whatever the target: a restricted token may end itself, nothing else (DESIGN rule 14).
        raise reject(
            "An API token restricted to some accounts or permissions can revoke only itself.",
            UserErrorCode.FORBIDDEN,
        )
    async with context.db.begin() as session:
        token = None
        if token_id is not None:
            token = await session.scalar(
                select(ApiToken)
                .where(
                    ApiToken.id == token_id,
                    ApiToken.user_id == principal.user_id,
                    ApiToken.revoked_at.is_(None),
                )
                .with_for_update()
            )
        if token is None:
            raise not_found("input", "apiTokenId")
        token.revoked_at = utcnow()
        record(session, context, "api_token.revoked", subject_id=encode_id("ApiToken", token.id))
    return token


async def viewer_api_tokens(context: Context) -> list[ApiToken]:
    principal = require_principal(context)
    statement = select(ApiToken).where(ApiToken.user_id == principal.user_id, ApiToken.revoked_at.is_(None))
    if principal.restricted:
        # A restricted token sees only itself, never the user's wider tokens (DESIGN rule 14).
        statement = statement.where(ApiToken.id == principal.credential_id)
    async with context.db.read() as session:
        tokens = await session.scalars(statement.order_by(ApiToken.id))
        return list(tokens)


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

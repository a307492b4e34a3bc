"""Authentication: password hashing, session and API-token secrets, and who a request is from."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import string
import uuid
import zlib
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models.base import columns_of, stored, utcnow
from models.database import Database
from models.identity import ApiToken, ApiTokenAccount, Session
from models.permissions import from_mask
from models.users import User
from resolvers.core.principal import Principal
from resolvers.core.settings import Settings

TOKEN_PREFIX = "ca_"
_ALPHABET = string.digits + string.ascii_letters
_SECRET_LENGTH = 32  # base62 characters: 190 random bits
_CHECKSUM_LENGTH = 6
# Writes that only record activity happen at most this often per credential.
TOUCH_INTERVAL = timedelta(minutes=1)


class InvalidToken(Exception):
    """An Authorization header carried a token that is unknown, malformed, revoked or expired."""


# --- passwords ----------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _hasher(time_cost: int, memory_kib: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)


def password_hasher(settings: Settings) -> PasswordHasher:
    return _hasher(settings.password_time_cost, settings.password_memory_kib, settings.password_parallelism)


@lru_cache(maxsize=4)
def _dummy_hash(hasher: PasswordHasher) -> str:
    return hasher.hash(secrets.token_urlsafe(16))


async def hash_password(settings: Settings, password: str) -> str:
    # argon2 is deliberately slow: keep it off the event loop.
    return await asyncio.to_thread(password_hasher(settings).hash, password)


async def verify_password(settings: Settings, password_hash: str | None, password: str) -> bool:
    """Whether the password matches; an absent hash costs the same time as a wrong password."""
    hasher = password_hasher(settings)
    target = password_hash if password_hash else await asyncio.to_thread(_dummy_hash, hasher)

    def verify() -> bool:
        try:
            return hasher.verify(target, password)
        except (VerificationError, InvalidHashError):
            return False

    matched = await asyncio.to_thread(verify)
    return matched and password_hash is not None


# --- secrets ------------------------------------------------------------------------------


def digest(secret: str) -> bytes:
    """Secrets are random and long, so a plain SHA-256 is the right stored form (no salt needed)."""
    return hashlib.sha256(secret.encode()).digest()


def new_session_secret() -> str:
    return secrets.token_urlsafe(32)


def _checksum(body: str) -> str:
    value = zlib.crc32(body.encode())
    out = []
    for _ in range(_CHECKSUM_LENGTH):
        value, rem = divmod(value, len(_ALPHABET))
        out.append(_ALPHABET[rem])
    return "".join(out)


def new_api_token() -> str:
    """`ca_` + 190 random bits in base62 + a CRC32 checksum, so scanners can recognise and check it."""
    body = "".join(secrets.choice(_ALPHABET) for _ in range(_SECRET_LENGTH))
    return f"{TOKEN_PREFIX}{body}{_checksum(body)}"


def is_well_formed_token(token: str) -> bool:
    if not token.startswith(TOKEN_PREFIX):
        return False
    rest = token[len(TOKEN_PREFIX) :]
    if len(rest) != _SECRET_LENGTH + _CHECKSUM_LENGTH or any(c not in _ALPHABET for c in rest):
        return False
    body, checksum = rest[:_SECRET_LENGTH], rest[_SECRET_LENGTH:]
    return secrets.compare_digest(_checksum(body), checksum)


def token_display_prefix(token: str) -> str:
    return token[: len(TOKEN_PREFIX) + 6]


# --- sessions -----------------------------------------------------------------------------


def start_session(db_session: AsyncSession, settings: Settings, user_id: uuid.UUID) -> tuple[str, Session]:
    """Adds a new session to the unit of work; returns the secret for the cookie and the row."""
    secret = new_session_secret()
    now = utcnow()
    row = Session(
        token_hash=digest(secret),
        user_id=user_id,
        last_seen_at=now,
        expires_at=now + timedelta(days=settings.session_absolute_days),
    )
    db_session.add(row)
    return secret, row


# --- requests -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SignedIn:
    """Who a request comes from: their principal, and their user row, read by the same statement
    (the dashboard shows the viewer on every page; their row then costs no statement of its own)."""

    principal: Principal
    user: User


async def authenticate(
    db: Database, settings: Settings, *, cookie: str | None, authorization: str | None
) -> SignedIn | None:
    """Who is behind a request. A bad bearer token raises; a stale cookie is anonymous."""
    if authorization is not None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not is_well_formed_token(token.strip()):
            raise InvalidToken
        return await _authenticate_token(db, token.strip())
    if cookie:
        return await _authenticate_session(db, settings, cookie)
    return None


# Every request's first statement: built once, its values bound when it runs.
_LIVE_SESSION = (
    select(Session.id, Session.last_seen_at, *columns_of(User))
    .join(User, User.id == Session.user_id)
    .where(
        Session.token_hash == bindparam("token_hash"),
        Session.revoked_at.is_(None),
        Session.expires_at > bindparam("now"),
        Session.last_seen_at > bindparam("idle_since"),
    )
)


async def _authenticate_session(db: Database, settings: Settings, secret: str) -> SignedIn | None:
    now = utcnow()
    idle_since = now - timedelta(minutes=settings.session_idle_minutes)
    values = {"token_hash": digest(secret), "now": now, "idle_since": idle_since}
    rows = await db.rows(_LIVE_SESSION, values)
    if not rows:
        return None
    session_id, last_seen_at, *columns = tuple(rows[0])
    user = stored(User)(columns)
    if now - last_seen_at > TOUCH_INTERVAL:
        async with db.begin() as session:
            await session.execute(update(Session).where(Session.id == session_id).values(last_seen_at=now))
    principal = Principal(user_id=user.id, email=user.email, credential="session", credential_id=session_id)
    return SignedIn(principal, user)


# A partner's every request starts with these: built once, their values bound when they run.
_LIVE_TOKEN = (
    select(ApiToken, User)
    .join(User, User.id == ApiToken.user_id)
    .where(ApiToken.token_hash == bindparam("token_hash"), ApiToken.revoked_at.is_(None))
)
_TOKEN_ACCOUNTS = select(ApiTokenAccount.account_id).where(ApiTokenAccount.token_id == bindparam("token_id"))


async def _authenticate_token(db: Database, token: str) -> SignedIn:
    now = utcnow()
    async with db.read() as session:
        row = (await session.execute(_LIVE_TOKEN, {"token_hash": digest(token)})).first()
        if row is None:
            raise InvalidToken
        api_token, user = row
        if api_token.expires_at is not None and api_token.expires_at <= now:
            raise InvalidToken
        account_ids: frozenset[uuid.UUID] | None = None
        if not api_token.all_accounts:
            account_ids = frozenset(await session.scalars(_TOKEN_ACCOUNTS, {"token_id": api_token.id}))
    if api_token.last_used_at is None or now - api_token.last_used_at > TOUCH_INTERVAL:
        async with db.begin() as session:
            await session.execute(
                update(ApiToken).where(ApiToken.id == api_token.id).values(last_used_at=now)
            )
    principal = Principal(
        user_id=api_token.user_id,
        email=user.email,
        credential="token",
        credential_id=api_token.id,
        token_account_ids=account_ids,
        token_permissions=None if api_token.permissions is None else from_mask(api_token.permissions),
        token_scoped=api_token.scoped,
    )
    return SignedIn(principal, user)

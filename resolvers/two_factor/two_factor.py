"""Two-factor sign-in (DESIGN rule 17): TOTP codes (RFC 6238), recovery codes, the challenges
between a right password and a session, and the throttle on wrong codes and passwords."""

from __future__ import annotations

import hmac
import secrets
import uuid
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Literal, cast
from urllib.parse import urlsplit

import pyotp
from cryptography.fernet import Fernet, MultiFernet
from sqlalchemy import CursorResult, delete, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models.base import utcnow
from models.database import Database
from models.ratelimits import RateLimitHit
from models.two_factor import TwoFactorChallenge, TwoFactorCredential, TwoFactorRecoveryCode
from models.users import User
from resolvers.core import ratelimits, single_use
from resolvers.core.audit import record, record_system
from resolvers.core.context import Context
from resolvers.core.credentials import digest
from resolvers.core.errors import Rejected, UserErrorCode, reject
from resolvers.core.ids import encode_id
from resolvers.core.permissions import require_principal
from resolvers.core.settings import Settings

# RFC 6238 as every authenticator app reads it: 6 digits, 30-second steps (pyotp's defaults),
# and one step either side for a phone's clock that is a little off.
TOTP_DIGITS = 6
VALID_WINDOW = 1
RECOVERY_CODES = 10
# 16 base32 characters: 80 random bits, so a plain SHA-256 is the right stored form.
_RECOVERY_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
_RECOVERY_LENGTH = 16
CHALLENGE_LIFETIME = timedelta(minutes=5)
# Wrong codes (and wrong passwords in the two-factor settings) are throttled as sign-ins are.
ATTEMPTS = 5
ATTEMPT_WINDOW = timedelta(minutes=15)
# Longer input is refused before anything is counted or checked.
MAX_CODE_LENGTH = 64

CodeKind = Literal["totp", "recovery"]


# --- secrets at rest ----------------------------------------------------------------------


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def fernet(settings: Settings) -> MultiFernet:
    """The first key encrypts, every key decrypts: keys rotate without a flag day."""
    return _fernet(tuple(settings.two_factor_fernet_keys))


def encrypt_secret(settings: Settings, secret: str) -> str:
    return fernet(settings).encrypt(secret.encode()).decode()


def decrypt_secret(settings: Settings, encrypted: str) -> str:
    return fernet(settings).decrypt(encrypted.encode()).decode()


async def reencrypt_secrets(db: Database, settings: Settings, *, batch: int = 500) -> int:
    """Re-encrypts every stored secret with the first key, so an older key can then be retired.

    Idempotent and safe beside live traffic: each row is rewritten only if it still holds what was read.
    """
    done = 0
    after: uuid.UUID | None = None
    while True:
        async with db.begin() as session:
            statement = select(TwoFactorCredential).order_by(TwoFactorCredential.user_id).limit(batch)
            if after is not None:
                statement = statement.where(TwoFactorCredential.user_id > after)
            rows = list(await session.scalars(statement))
            for row in rows:
                rotated = fernet(settings).rotate(row.secret_encrypted.encode()).decode()
                await session.execute(
                    update(TwoFactorCredential)
                    .where(
                        TwoFactorCredential.user_id == row.user_id,
                        TwoFactorCredential.secret_encrypted == row.secret_encrypted,
                    )
                    .values(secret_encrypted=rotated)
                )
            if rows:
                record_system(session, "two_factor.keys_rotated")
        done += len(rows)
        if len(rows) < batch:
            return done
        after = rows[-1].user_id


# --- codes --------------------------------------------------------------------------------


def new_totp_secret() -> str:
    return pyotp.random_base32()


def otpauth_uri(settings: Settings, *, secret: str, email: str) -> str:
    """The URI an authenticator app reads from a QR code; the dashboard's host names the issuer."""
    issuer = urlsplit(settings.public_url).hostname or "clientarea"
    return pyotp.TOTP(secret, digits=TOTP_DIGITS).provisioning_uri(name=email, issuer_name=issuer)


def matching_step(secret: str, code: str, *, now: datetime, after: int | None) -> int | None:
    """The time step (within the window) whose code this is, if it is later than `after`."""
    totp = pyotp.TOTP(secret, digits=TOTP_DIGITS)
    current = totp.timecode(now)
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if after is not None and step <= after:
            continue
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def new_recovery_code() -> str:
    raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, _RECOVERY_LENGTH, 4))


def _normalised_recovery_code(code: str) -> str:
    return code.replace("-", "").replace(" ", "").lower()


def code_kind(code: str, *, field: tuple[str, ...] = ("input", "code")) -> tuple[CodeKind, str]:
    """What the user typed: a TOTP code or a recovery code (normalised), else a clear INVALID."""
    cleaned = code.strip().replace(" ", "") if len(code) <= MAX_CODE_LENGTH else ""
    if len(cleaned) == TOTP_DIGITS and cleaned.isascii() and cleaned.isdigit():
        return "totp", cleaned
    recovery = _normalised_recovery_code(cleaned)
    if len(recovery) == _RECOVERY_LENGTH and all(c in _RECOVERY_ALPHABET for c in recovery):
        return "recovery", recovery
    raise reject(
        "Enter the 6-digit code from your authenticator app or one of your recovery codes.",
        UserErrorCode.INVALID,
        *field,
    )


def add_recovery_codes(session: AsyncSession, user_id: uuid.UUID) -> list[str]:
    """Ten new single-use codes in the unit of work, stored hashed; they are shown once."""
    codes = [new_recovery_code() for _ in range(RECOVERY_CODES)]
    for code in codes:
        session.add(TwoFactorRecoveryCode(user_id=user_id, code_hash=digest(_normalised_recovery_code(code))))
    return codes


async def enabled_credential(
    session: AsyncSession, user_id: uuid.UUID, *, for_update: bool = False
) -> TwoFactorCredential | None:
    statement = select(TwoFactorCredential).where(
        TwoFactorCredential.user_id == user_id, TwoFactorCredential.enabled_at.is_not(None)
    )
    return await session.scalar(statement.with_for_update() if for_update else statement)


async def is_enabled(session: AsyncSession, user_id: uuid.UUID) -> bool:
    return bool(
        await session.scalar(
            select(
                exists().where(
                    TwoFactorCredential.user_id == user_id, TwoFactorCredential.enabled_at.is_not(None)
                )
            )
        )
    )


async def viewer_has_two_factor(context: Context) -> bool:
    principal = require_principal(context)
    async with context.db.read() as session:
        return await is_enabled(session, principal.user_id)


async def use_code(
    session: AsyncSession, settings: Settings, *, user_id: uuid.UUID, kind: CodeKind, code: str
) -> bool:
    """Accepts a TOTP code or an unused recovery code of a user with two-factor on, exactly once.

    Each acceptance is a conditional UPDATE: of two requests with one code, only one changes a row.
    """
    now = utcnow()
    if kind == "recovery":
        used = cast(
            "CursorResult[Any]",
            await session.execute(
                update(TwoFactorRecoveryCode)
                .where(
                    TwoFactorRecoveryCode.user_id == user_id,
                    TwoFactorRecoveryCode.code_hash == digest(code),
                    TwoFactorRecoveryCode.used_at.is_(None),
                    exists().where(
                        TwoFactorCredential.user_id == user_id, TwoFactorCredential.enabled_at.is_not(None)
                    ),
                )
                .values(used_at=now)
            ),
        )
        return used.rowcount == 1
    credential = await enabled_credential(session, user_id)
    if credential is None:
        return False
    step = matching_step(
        decrypt_secret(settings, credential.secret_encrypted),
        code,
        now=now,
        after=credential.last_used_step,
    )
    if step is None:
        return False
    taken = cast(
        "CursorResult[Any]",
        await session.execute(
            update(TwoFactorCredential)
            .where(
                TwoFactorCredential.user_id == user_id,
                or_(TwoFactorCredential.last_used_step.is_(None), TwoFactorCredential.last_used_step < step),
            )
            # Re-encrypted with the first key on use: a retired key stops being needed by itself.
            .values(
                last_used_step=step,
                secret_encrypted=fernet(settings).rotate(credential.secret_encrypted.encode()).decode(),
            )
        ),
    )
    return taken.rowcount == 1


async def unused_recovery_codes(session: AsyncSession, user_id: uuid.UUID) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(TwoFactorRecoveryCode)
        .where(TwoFactorRecoveryCode.user_id == user_id, TwoFactorRecoveryCode.used_at.is_(None))
    )
    return count or 0


# --- throttle -----------------------------------------------------------------------------


def throttle_key(purpose: Literal["code", "password"], user_id: uuid.UUID) -> str:
    return f"two-factor-{purpose}:{user_id}"


async def count_attempt(context: Context, key: str, *, action: str, user_id: uuid.UUID) -> None:
    """Counts an attempt before it is checked (DESIGN rule 18), in its own unit of work so every
    worker sees it; past the limit it is refused, and refused attempts extend the lock."""
    async with context.db.begin() as session:
        attempt = await ratelimits.count_attempt(session, key, limit=ATTEMPTS, window=ATTEMPT_WINDOW)
        if not attempt.allowed:
            record(session, context, action, actor_id=user_id, subject_id=encode_id("User", user_id))
    if not attempt.allowed:
        raise reject("Too many wrong attempts; try again in 15 minutes.", UserErrorCode.RATE_LIMITED)


async def refund_attempt(session: AsyncSession, key: str) -> None:
    """A right answer does not use up the allowance: its counted attempt is taken back."""
    digest = ratelimits.key_digest(key)
    newest = select(func.max(RateLimitHit.id)).where(RateLimitHit.key_hash == digest).scalar_subquery()
    await session.execute(delete(RateLimitHit).where(RateLimitHit.id == newest))


async def attempt_failed(context: Context, *, action: str, user_id: uuid.UUID) -> None:
    """Audits a wrong code or password, in its own unit of work so the refusal does not undo it."""
    async with context.db.begin() as session:
        record(session, context, action, actor_id=user_id, subject_id=encode_id("User", user_id))


# --- challenges ---------------------------------------------------------------------------


async def issue_challenge(session: AsyncSession, user_id: uuid.UUID) -> str:
    """A sign-in waiting for its second step: the secret goes to the caller, its hash to the database.

    The user's spent challenges go at the same time, so the table holds only live ones."""
    now = utcnow()
    await session.execute(
        delete(TwoFactorChallenge).where(
            TwoFactorChallenge.user_id == user_id,
            or_(TwoFactorChallenge.used_at.is_not(None), TwoFactorChallenge.expires_at <= now),
        )
    )
    secret = secrets.token_urlsafe(32)
    session.add(
        TwoFactorChallenge(user_id=user_id, token_hash=digest(secret), expires_at=now + CHALLENGE_LIFETIME)
    )
    return secret


async def challenge_if_enabled(context: Context, user_id: uuid.UUID) -> str | None:
    """After a right password: a challenge for a user with two-factor sign-in on, else None."""
    async with context.db.read() as session:
        if not await is_enabled(session, user_id):
            return None
    async with context.db.begin() as session:
        challenge = await issue_challenge(session, user_id)
        record(
            session,
            context,
            "user.two_factor_challenged",
            actor_id=user_id,
            subject_id=encode_id("User", user_id),
        )
    return challenge


async def find_challenge(session: AsyncSession, secret: str) -> tuple[uuid.UUID, User] | None:
    """The live challenge with this secret and the user it waits for."""
    if not secret or len(secret) > MAX_CODE_LENGTH:
        return None
    return await single_use.find_usable(session, TwoFactorChallenge, secret)


async def redeem_challenge(session: AsyncSession, challenge_id: uuid.UUID) -> bool:
    return await single_use.claim(session, TwoFactorChallenge, challenge_id)


def wrong_code() -> Rejected:
    return reject(
        "This code is wrong or was used already.", UserErrorCode.INVALID_CREDENTIALS, "input", "code"
    )

"""Control-panel sign-on: a short-lived, single-use link whose signed token names a ServiceLogin row,
and its redemption by the panel.

The token is base64url (unpadded) of a compact payload (version, login row ID, service ID, user ID,
expiry in Unix seconds) followed by its HMAC-SHA256 under SSO_SIGNING_KEY. The signature proves the
token came from us; the row makes it work once (its `used_at` is set by a conditional UPDATE).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from urllib.parse import urlencode

from sqlalchemy import CursorResult, select, update

from models.accounts import Membership, MembershipRole
from models.base import utcnow
from models.database import Database
from models.hosting import Service, ServiceStatus
from models.permissions import ALL_PERMISSIONS, from_mask
from models.sso import ServiceLogin
from resolvers.core.audit import record, record_system
from resolvers.core.context import Context
from resolvers.core.errors import UserErrorCode, not_found, reject
from resolvers.core.ids import encode_id
from resolvers.core.permissions import require_principal
from resolvers.core.policies import SERVICE
from resolvers.core.reach import MEMBERSHIP_SCOPE, covers
from resolvers.core.settings import Settings

LINK_LIFETIME = timedelta(seconds=60)

_VERSION = 1
# Version, login row ID, service ID, user ID, expiry (Unix seconds).
_PAYLOAD = struct.Struct(">B16s16s16sQ")
_MAC_SIZE = hashlib.sha256().digest_size
_TOKEN_BYTES = _PAYLOAD.size + _MAC_SIZE
_TOKEN_LENGTH = len(base64.urlsafe_b64encode(bytes(_TOKEN_BYTES)).rstrip(b"="))
# Binds the signature to this use of the key, so no other signed value can pass for a login token.
_DOMAIN = b"clientarea.sso.v1\x00"


@dataclass(frozen=True)
class LoginClaims:
    login_id: uuid.UUID
    service_id: uuid.UUID
    user_id: uuid.UUID
    expires_at: datetime


def _mac(key: str, payload: bytes) -> bytes:
    return hmac.new(key.encode(), _DOMAIN + payload, hashlib.sha256).digest()


def sign_token(key: str, claims: LoginClaims) -> str:
    payload = _PAYLOAD.pack(
        _VERSION,
        claims.login_id.bytes,
        claims.service_id.bytes,
        claims.user_id.bytes,
        int(claims.expires_at.timestamp()),
    )
    return base64.urlsafe_b64encode(payload + _mac(key, payload)).rstrip(b"=").decode("ascii")


def read_token(key: str, token: str) -> LoginClaims | None:
    """The claims of a token we signed; None for a malformed or forged one. Expiry is not checked."""
    if len(token) != _TOKEN_LENGTH or not token.isascii():
        return None
    try:
        raw = base64.b64decode(token + "=" * (-len(token) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(raw) != _TOKEN_BYTES:
        return None
    payload, mac = raw[: _PAYLOAD.size], raw[_PAYLOAD.size :]
    if not hmac.compare_digest(mac, _mac(key, payload)):
        return None
    version, login_id, service_id, user_id, expires = _PAYLOAD.unpack(payload)
    if version != _VERSION:
        return None
    return LoginClaims(
        login_id=uuid.UUID(bytes=login_id),
        service_id=uuid.UUID(bytes=service_id),
        user_id=uuid.UUID(bytes=user_id),
        expires_at=datetime.fromtimestamp(expires, UTC),
    )


@dataclass(frozen=True)
class LoginLink:
    url: str
    expires_at: datetime


async def create_service_login_link(
    context: Context, *, service_id: uuid.UUID, now: datetime | None = None
) -> LoginLink:
    """A link into the panel of an ACTIVE service, for the viewer, valid LINK_LIFETIME and once
    (checked: the viewer reaches the service and may sign into it, `SERVICE.action("signIn")`)."""
    principal = require_principal(context)
    # Whole seconds, so the expiry signed into the token is exactly the row's.
    expires_at = (now or utcnow()).replace(microsecond=0) + LINK_LIFETIME
    async with context.db.begin() as session:
        service = await session.get(Service, service_id)
        if service is None:
            raise not_found("input", "serviceId")
        if service.status is not ServiceStatus.ACTIVE:
            raise reject(
                f"Only an active service has a control panel to sign into; this one is "
                f"{service.status.value.lower()}.",
                UserErrorCode.INVALID,
                "input",
                "serviceId",
            )
        login = ServiceLogin(service_id=service.id, user_id=principal.user_id, expires_at=expires_at)
        session.add(login)
        await session.flush()
        record(
            session,
            context,
            "service.login_link_created",
            account_id=service.account_id,
            subject_id=encode_id("Service", service.id),
        )
    token = sign_token(
        context.settings.sso_signing_key,
        LoginClaims(login.id, service.id, principal.user_id, expires_at),
    )
    url = f"{context.settings.panel_url.rstrip('/')}/sso?{urlencode({'token': token})}"
    return LoginLink(url=url, expires_at=expires_at)


@dataclass(frozen=True)
class RedeemedLogin:
    service_id: uuid.UUID
    user_id: uuid.UUID
    label: str | None
    expires_at: datetime


async def redeem_login(
    db: Database,
    settings: Settings,
    token: str,
    *,
    now: datetime | None = None,
    request_id: str | None = None,
) -> RedeemedLogin | None:
    """What a login token names, the first time it is redeemed; None for a token that is malformed,
    forged, expired or already used, or whose user may no longer sign into the service.

    The conditional UPDATE is what makes a token single-use: of any number of concurrent
    redemptions, only one finds `used_at` still empty. A refused token stays used.
    """
    now = now or utcnow()
    claims = read_token(settings.sso_signing_key, token)
    if claims is None or claims.expires_at <= now:
        return None
    async with db.begin() as session:
        claimed = cast(
            "CursorResult[Any]",
            await session.execute(
                update(ServiceLogin)
                .where(
                    ServiceLogin.id == claims.login_id,
                    ServiceLogin.service_id == claims.service_id,
                    ServiceLogin.user_id == claims.user_id,
                    ServiceLogin.used_at.is_(None),
                    ServiceLogin.expires_at > now,
                )
                .values(used_at=now)
                .execution_options(synchronize_session=False)
            ),
        )
        if claimed.rowcount != 1:
            return None
        # The user may have lost the permission, or the service been suspended, since the link was made.
        row = (
            await session.execute(
                select(Service, Membership)
                .join(
                    Membership,
                    (Membership.account_id == Service.account_id) & (Membership.user_id == claims.user_id),
                )
                .where(Service.id == claims.service_id)
            )
        ).first()
        if row is None:
            return None
        service, membership = row
        held = (
            ALL_PERMISSIONS if membership.role is MembershipRole.OWNER else from_mask(membership.permissions)
        )
        may_sign_in = SERVICE.action("signIn").met_by(held)
        if may_sign_in and membership.scoped:
            # The service may have left the member's scope since the link was made.
            may_sign_in = bool(
                await session.scalar(
                    select(
                        covers(
                            MEMBERSHIP_SCOPE,
                            "service",
                            owner_id=membership.id,
                            subject_id=service.id,
                            account_id=membership.account_id,
                        )
                    )
                )
            )
        if service.status is not ServiceStatus.ACTIVE or not may_sign_in:
            return None
        record_system(
            session,
            "service.login_link_redeemed",
            account_id=service.account_id,
            subject_id=encode_id("Service", service.id),
            actor_id=claims.user_id,
            request_id=request_id,
        )
    return RedeemedLogin(
        service_id=service.id, user_id=claims.user_id, label=service.label, expires_at=claims.expires_at
    )

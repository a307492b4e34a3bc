"""API tokens: minting one (restricted to accounts, permissions or a scope), revoking, listing."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from models.base import utcnow
from models.identity import ApiToken, ApiTokenAccount
from models.permissions import Permission, to_mask
from resolvers.core.audit import record
from resolvers.core.context import Context
from resolvers.core.credentials import (
    digest,
    new_api_token,
    token_display_prefix,
)
from resolvers.core.errors import Rejected, UserErrorCode, not_found, reject
from resolvers.core.ids import encode_id
from resolvers.core.permissions import require_principal
from resolvers.core.principal import Principal
from resolvers.core.reach import API_TOKEN_SCOPE
from resolvers.core.validation import Checker
from resolvers.scopes import (
    ScopeRequest,
    choose_scope,
    copy_scope,
    require_scoped_permissions,
    write_scope,
)


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

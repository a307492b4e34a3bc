"""Control-panel sign-on: createServiceLoginLink and its redemption by the panel at POST /sso/verify."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError
from sqlalchemy import func, select, update

from models import AuditEvent, ClientAccount, Membership, Service, ServiceLogin, ServiceStatus
from models.base import utcnow
from models.database import Database
from models.permissions import Permission, to_mask
from models.users import User
from resolvers.core.ids import encode_id
from resolvers.core.settings import Settings
from resolvers.sso import LINK_LIFETIME, LoginClaims, read_token, redeem_login, sign_token
from tests.factories import add_member, create_account, create_service, create_user, session_for
from tests.graphql import Api

CREATE_LINK = """
mutation Link($input: CreateServiceLoginLinkInput!) {
  createServiceLoginLink(input: $input) { url expiresAt userErrors { field code } }
}
"""
CREATE_TOKEN = """
mutation($input: CreateApiTokenInput!) { createApiToken(input: $input) { token userErrors { code } } }
"""
REFUSED = {"error": "invalid_token", "message": "The sign-on token is invalid, expired or already used."}


class Panel:
    """The control panel: it redeems tokens server to server with its shared secret."""

    def __init__(self, api: Api, settings: Settings) -> None:
        self.client = api.new().client
        self.secret = settings.sso_panel_secret

    async def verify(self, token: str, **headers: str) -> httpx.Response:
        sent = {"authorization": f"Bearer {self.secret}", **headers}
        return await self.client.post("/sso/verify", json={"token": token}, headers=sent)


@pytest.fixture
def panel(api: Api, settings: Settings) -> Panel:
    return Panel(api, settings)


async def _client(api: Api, db: Database, settings: Settings, user: User) -> Api:
    client = api.new()
    client.set_session(await session_for(db, settings, user))
    return client


async def _owner_with_service(
    api: Api, db: Database, settings: Settings, status: ServiceStatus = ServiceStatus.ACTIVE
) -> tuple[User, Service, Api]:
    owner = await create_user(db)
    account = await create_account(db, owner=owner)
    service = await create_service(db, account=account, status=status, label="shop.example.at")
    return owner, service, await _client(api, db, settings, owner)


async def _account_of(db: Database, service: Service) -> ClientAccount:
    async with db.read() as session:
        return await session.get_one(ClientAccount, service.account_id)


async def _link(client: Api, service: Service) -> dict[str, Any]:
    response = await client(CREATE_LINK, {"input": {"serviceId": encode_id("Service", service.id)}})
    payload: dict[str, Any] = response.payload("createServiceLoginLink")
    return payload


def _token(url: str) -> str:
    return parse_qs(urlsplit(url).query)["token"][0]


async def _logins(db: Database) -> int:
    async with db.read() as session:
        return await session.scalar(select(func.count()).select_from(ServiceLogin)) or 0


async def _events(db: Database, action: str) -> list[AuditEvent]:
    async with db.read() as session:
        return list(await session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


async def test_a_login_link_is_redeemed_once_and_refused_the_second_time(
    api: Api, db: Database, settings: Settings, panel: Panel
) -> None:
    owner, service, client = await _owner_with_service(api, db, settings)
    before = utcnow()

    link = await _link(client, service)
    after = utcnow()
    token = _token(link["url"])
    first = await panel.verify(token)
    second = await panel.verify(token)

    assert link["userErrors"] == []
    assert link["url"].startswith(f"{settings.panel_url}/sso?token=")
    expires_at = datetime.fromisoformat(link["expiresAt"])
    # In whole seconds: up to a second before the moment the link was made plus its lifetime.
    assert before + LINK_LIFETIME - timedelta(seconds=2) < expires_at <= after + LINK_LIFETIME
    assert first.status_code == 200
    assert first.json() == {
        "serviceId": encode_id("Service", service.id),
        "userId": encode_id("User", owner.id),
        "label": "shop.example.at",
        "expiresAt": expires_at.isoformat(),
    }
    assert first.headers["cache-control"] == "no-store"
    assert second.status_code == 401
    assert second.json() == REFUSED
    [created] = await _events(db, "service.login_link_created")
    assert (created.actor_id, created.credential) == (owner.id, "session")
    assert created.subject_id == encode_id("Service", service.id)
    [redeemed] = await _events(db, "service.login_link_redeemed")
    assert (redeemed.actor_id, redeemed.credential, redeemed.account_id) == (
        owner.id,
        "system",
        service.account_id,
    )


async def test_concurrent_redemptions_exactly_one_succeeds(
    api: Api, db: Database, settings: Settings, panel: Panel
) -> None:
    _, service, client = await _owner_with_service(api, db, settings)
    token = _token((await _link(client, service))["url"])

    answers = await asyncio.gather(*(panel.verify(token) for _ in range(6)))

    assert sorted(a.status_code for a in answers) == [200, 401, 401, 401, 401, 401]
    assert len(await _events(db, "service.login_link_redeemed")) == 1


async def test_an_expired_link_is_refused(api: Api, db: Database, settings: Settings, panel: Panel) -> None:
    _, service, client = await _owner_with_service(api, db, settings)
    token = _token((await _link(client, service))["url"])
    async with db.begin() as session:
        await session.execute(update(ServiceLogin).values(expires_at=utcnow() - timedelta(seconds=1)))

    response = await panel.verify(token)

    assert response.status_code == 401
    assert response.json() == REFUSED


async def test_the_signed_expiry_counts_even_while_the_row_lives(
    api: Api, db: Database, settings: Settings
) -> None:
    _, service, client = await _owner_with_service(api, db, settings)
    token = _token((await _link(client, service))["url"])

    late = await redeem_login(db, settings, token, now=utcnow() + LINK_LIFETIME + timedelta(seconds=1))
    in_time = await redeem_login(db, settings, token)

    assert late is None
    assert in_time is not None


def _signed_elsewhere(token: str, key: str) -> str:
    """The same claims, signed with a key that is not ours."""
    claims = read_token(key, token)
    assert claims is not None
    return sign_token("a key we never used", claims)


def _tamper(token: str, index: int) -> str:
    return token[:index] + ("A" if token[index] != "A" else "B") + token[index + 1 :]


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda token, key: _signed_elsewhere(token, key), id="other key"),
        pytest.param(lambda token, key: _tamper(token, 10), id="payload changed"),
        pytest.param(lambda token, key: _tamper(token, 100), id="signature changed"),
        pytest.param(lambda token, key: token[:-1], id="truncated"),
        pytest.param(lambda token, key: token + "AAAA", id="extended"),
        pytest.param(lambda token, key: "not-a-token", id="garbage"),
        pytest.param(lambda token, key: "", id="empty"),
        pytest.param(lambda token, key: "é" * len(token), id="not ascii"),
        pytest.param(lambda token, key: "!" * len(token), id="not base64"),
    ],
)
async def test_forged_and_malformed_tokens_are_refused_alike(
    api: Api, db: Database, settings: Settings, panel: Panel, forge: Any
) -> None:
    _, service, client = await _owner_with_service(api, db, settings)
    token = _token((await _link(client, service))["url"])

    forged = await panel.verify(forge(token, settings.sso_signing_key))
    genuine = await panel.verify(token)

    assert forged.status_code == 401
    assert forged.json() == REFUSED
    # A refused forgery does not spend the genuine token.
    assert genuine.status_code == 200


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param("", id="no panel secret"),
        pytest.param("Bearer wrong", id="wrong panel secret"),
        pytest.param("Basic development-only-sso-panel-secret-change-me", id="wrong scheme"),
    ],
)
async def test_only_the_panel_may_redeem(
    api: Api, db: Database, settings: Settings, panel: Panel, authorization: str
) -> None:
    _, service, client = await _owner_with_service(api, db, settings)
    token = _token((await _link(client, service))["url"])

    stranger = await panel.verify(token, authorization=authorization)
    genuine = await panel.verify(token)

    assert stranger.status_code == 401
    assert stranger.json()["error"] == "unauthorized"
    assert genuine.status_code == 200


@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [
        ("application/x-www-form-urlencoded", "token={token}", 415),
        ("text/plain", '{{"token": "{token}"}}', 415),
        ("application/json", "token={token}", 400),
        ("application/json", '["{token}"]', 400),
        ("application/json", '{{"token": 1}}', 400),
    ],
)
async def test_anything_but_a_json_token_is_refused(
    api: Api,
    db: Database,
    settings: Settings,
    panel: Panel,
    content_type: str,
    body: str,
    status: int,
) -> None:
    _, service, client = await _owner_with_service(api, db, settings)
    token = _token((await _link(client, service))["url"])

    response = await panel.client.post(
        "/sso/verify",
        content=body.format(token=token),
        headers={"authorization": f"Bearer {panel.secret}", "content-type": content_type},
    )

    assert response.status_code == status
    assert (await panel.verify(token)).status_code == 200


async def test_a_link_is_refused_once_the_service_is_suspended_or_the_permission_gone(
    api: Api, db: Database, settings: Settings, panel: Panel
) -> None:
    _, service, _ = await _owner_with_service(api, db, settings)
    member = await create_user(db)
    await add_member(
        db, account=await _account_of(db, service), user=member, permissions=[Permission.SERVICE_SSO]
    )
    client = await _client(api, db, settings, member)
    revoked = _token((await _link(client, service))["url"])
    suspended = _token((await _link(client, service))["url"])

    async with db.begin() as session:
        await session.execute(update(Membership).where(Membership.user_id == member.id).values(permissions=0))
    after_revocation = await panel.verify(revoked)
    async with db.begin() as session:
        await session.execute(
            update(Membership)
            .where(Membership.user_id == member.id)
            .values(permissions=to_mask([Permission.SERVICE_SSO]))
        )
        await session.execute(
            update(Service).where(Service.id == service.id).values(status=ServiceStatus.SUSPENDED)
        )
    after_suspension = await panel.verify(suspended)

    assert after_revocation.status_code == 401
    assert after_suspension.status_code == 401


@pytest.mark.parametrize(
    ("actor", "code"),
    [
        ("owner", None),
        ("sso_member", None),
        ("view_only", "FORBIDDEN"),
        ("token_without_sso", "FORBIDDEN"),
        ("stranger", "NOT_FOUND"),
        ("anonymous", "UNAUTHENTICATED"),
    ],
)
async def test_a_link_needs_service_sso_in_the_services_account(
    api: Api, db: Database, settings: Settings, actor: str, code: str | None
) -> None:
    _, service, client = await _owner_with_service(api, db, settings)
    account = await _account_of(db, service)
    if actor in {"sso_member", "view_only"}:
        member = await create_user(db)
        granted = [Permission.SERVICE_SSO] if actor == "sso_member" else [Permission.VIEW_SERVICES]
        await add_member(db, account=account, user=member, permissions=granted)
        client = await _client(api, db, settings, member)
    elif actor == "token_without_sso":
        minted = await client(CREATE_TOKEN, {"input": {"name": "partner", "permissions": ["VIEW_SERVICES"]}})
        client = api.with_token(minted.payload("createApiToken")["token"])
    elif actor == "stranger":
        client = await _client(api, db, settings, await create_user(db))
    elif actor == "anonymous":
        client = api.new()

    response = await client(CREATE_LINK, {"input": {"serviceId": encode_id("Service", service.id)}})

    if code == "UNAUTHENTICATED":
        assert response.codes == [code]
        assert response.data is None
    elif code is None:
        assert response.payload("createServiceLoginLink")["url"] is not None
        assert await _logins(db) == 1
    else:
        assert response.payload("createServiceLoginLink") == {
            "url": None,
            "expiresAt": None,
            "userErrors": [{"field": ["input", "serviceId"] if code == "NOT_FOUND" else None, "code": code}],
        }
    if code is not None:
        assert await _logins(db) == 0


@pytest.mark.parametrize(
    "status",
    [ServiceStatus.PENDING, ServiceStatus.SUSPENDED, ServiceStatus.TERMINATED, ServiceStatus.CANCELLED],
)
async def test_only_an_active_service_has_a_panel_to_sign_into(
    api: Api, db: Database, settings: Settings, status: ServiceStatus
) -> None:
    _, service, client = await _owner_with_service(api, db, settings, status)

    link = await _link(client, service)

    assert link == {
        "url": None,
        "expiresAt": None,
        "userErrors": [{"field": ["input", "serviceId"], "code": "INVALID"}],
    }
    assert await _logins(db) == 0


async def test_an_undecodable_service_id_is_bad_input(api: Api, db: Database, settings: Settings) -> None:
    _, _, client = await _owner_with_service(api, db, settings)

    response = await client(CREATE_LINK, {"input": {"serviceId": "not an id"}})

    assert response.codes == ["BAD_USER_INPUT"]
    assert await _logins(db) == 0


def test_a_token_names_login_service_user_and_expiry_under_the_key() -> None:
    claims = LoginClaims(uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), utcnow().replace(microsecond=0))

    token = sign_token("key", claims)

    assert read_token("key", token) == claims
    assert read_token("another key", token) is None
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_production_needs_the_sso_keys() -> None:
    with pytest.raises(ValidationError, match="SSO_SIGNING_KEY"):
        Settings(env="production", secret_key="a production secret")
    with pytest.raises(ValidationError, match="SSO_PANEL_SECRET"):
        Settings(env="production", secret_key="a production secret", sso_signing_key="a signing key")
    Settings(
        env="production",
        secret_key="a production secret",
        sso_signing_key="a signing key",
        sso_panel_secret="a panel secret",
        two_factor_keys=[Fernet.generate_key().decode()],
    )

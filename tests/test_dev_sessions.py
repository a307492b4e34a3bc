"""Sessions in development and production: the cookie is Secure exactly when it should be, GraphiQL's
own page gets a session in development, and a cookie dropped for a foreign origin is logged once."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from clientarea.app import create_app
from models.database import Database
from resolvers.core.credentials import hash_password
from resolvers.core.settings import Settings
from tests.conftest import make_settings, production_settings
from tests.factories import create_user, session_for
from tests.graphql import Api
from tests.servers import clientarea_server

SIGN_IN = """
mutation SignIn($email: String!, $password: String!) {
  signIn(input: { email: $email, password: $password }) { user { email } userErrors { code } }
}
"""
VIEWER = "{ viewer { user { email } } }"
PASSWORD = "a long enough passphrase"


async def _user(db: Database, settings: Settings) -> None:
    await create_user(db, email="dev@example.com", password_hash=await hash_password(settings, PASSWORD))


@pytest.fixture
async def browser(database_url: str, db: Database) -> AsyncIterator[httpx.AsyncClient]:
    """httpx against `clientarea serve` as `scripts/serve` runs it: development, plain HTTP, no
    cookie settings."""
    async with (
        clientarea_server(database_url, mail_enabled="false") as base,
        httpx.AsyncClient(base_url=base) as client,
    ):
        yield client


@pytest.mark.e2e
async def test_a_development_session_works_over_plain_http(
    browser: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    await _user(db, settings)

    signed_in = await browser.post(
        "/graphql", json={"query": SIGN_IN, "variables": {"email": "dev@example.com", "password": PASSWORD}}
    )
    viewer = await browser.post("/graphql", json={"query": VIEWER})

    assert signed_in.json()["data"]["signIn"]["userErrors"] == []
    assert "secure" not in signed_in.headers["set-cookie"].lower()
    assert viewer.json()["data"]["viewer"]["user"]["email"] == "dev@example.com"


def test_the_cookie_is_secure_only_when_asked_outside_production(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("CLIENTAREA_COOKIE_SECURE", "CLIENTAREA_ENV"):
        monkeypatch.delenv(variable, raising=False)
    assert Settings().cookie_secure is False
    assert Settings(env="test").cookie_secure is False
    monkeypatch.setenv("CLIENTAREA_COOKIE_SECURE", "true")
    assert Settings().cookie_secure is True


def test_the_cookie_is_always_secure_in_production() -> None:
    production: dict[str, object] = {"env": "production", "secret_key": "k" * 40, "sso_signing_key": "s" * 40}
    production["sso_panel_secret"] = "p" * 40
    production["two_factor_keys"] = [Fernet.generate_key().decode()]
    assert Settings.model_validate(production).cookie_secure is True
    with pytest.raises(ValidationError, match="COOKIE_SECURE cannot be false in production"):
        Settings.model_validate({**production, "cookie_secure": False})


async def test_production_sets_a_secure_cookie(db: Database, database_url: str) -> None:
    settings = production_settings(database_url)
    await _user(db, settings)
    transport = httpx.ASGITransport(app=create_app(settings, db))
    async with httpx.AsyncClient(transport=transport, base_url="https://api.example") as client:
        response = await client.post(
            "/graphql",
            json={"query": SIGN_IN, "variables": {"email": "dev@example.com", "password": PASSWORD}},
        )

    assert response.json()["data"]["signIn"]["userErrors"] == []
    assert "secure" in [part.strip().lower() for part in response.headers["set-cookie"].split(";")]


async def _viewer_from(settings: Settings, db: Database, cookie: str, origin: str) -> object:
    transport = httpx.ASGITransport(app=create_app(settings, db))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
        client.cookies.set("clientarea_session", cookie)
        response = await client.post("/graphql", json={"query": VIEWER}, headers={"origin": origin})
    return response.json()["data"]["viewer"]


async def test_graphiqls_own_origin_has_a_session_in_development_only(
    db: Database, database_url: str
) -> None:
    development = make_settings(database_url, env="development")
    cookie = await session_for(db, development, await create_user(db, email="dev@example.com"))

    own = await _viewer_from(development, db, cookie, "http://127.0.0.1:8000")
    other_port = await _viewer_from(development, db, cookie, "http://127.0.0.1:9000")
    in_test = await _viewer_from(make_settings(database_url), db, cookie, "http://127.0.0.1:8000")
    in_production = await _viewer_from(production_settings(database_url), db, cookie, "http://127.0.0.1:8000")

    assert own == {"user": {"email": "dev@example.com"}}
    assert other_port is None
    assert in_test is None
    assert in_production is None


async def test_a_cookie_dropped_for_a_foreign_origin_is_logged_once_per_origin(
    api: Api, db: Database, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    api.set_session(await session_for(db, settings, await create_user(db, email="v@example.com")))

    with caplog.at_level(logging.WARNING, logger="clientarea.origins"):
        for origin in ("https://evil.example", "https://evil.example", "http://localhost:5173"):
            assert (await api(VIEWER, origin=origin)).data["viewer"] is None
        assert (await api(VIEWER, origin="http://localhost:3000")).data["viewer"] is not None

    warnings = [r.getMessage() for r in caplog.records if r.name == "clientarea.origins"]
    assert len(warnings) == 2
    assert "'https://evil.example' is not allowed" in warnings[0]
    assert "'http://localhost:5173' is not allowed" in warnings[1]
    assert all("http://localhost:3000" in w and "same-site" in w for w in warnings)
    assert all(r.levelno == logging.WARNING for r in caplog.records if r.name == "clientarea.origins")


async def test_graphiql_says_why_when_its_scripts_cannot_load(api: Api) -> None:
    page = (await api.client.get("/graphql", headers={"accept": "text/html"})).text

    notice = page.index("GraphiQL could not start")
    last_external_script = page.rindex('src="https://')
    assert last_external_script < notice < page.index("</body>")
    assert "unpkg.com" in page[notice:]
    assert 'typeof GraphiQL === "undefined"' in page

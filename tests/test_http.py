"""HTTP behaviour: JSON POSTs, queries (never mutations) by GET, health checks, masked errors, request IDs."""

from __future__ import annotations

import logging

import pytest

from clientarea.app import create_app
from models.database import Database
from resolvers.accounts import accounts
from resolvers.core.settings import Settings
from tests.conftest import make_settings
from tests.factories import create_user, session_for
from tests.graphql import Api

SIGN_OUT = "mutation { signOut { ok } }"


async def test_get_runs_queries_but_never_a_mutation(api: Api, db: Database, settings: Settings) -> None:
    api.set_session(await session_for(db, settings, await create_user(db)))

    mutation = await api.client.get("/graphql", params={"query": SIGN_OUT})
    query = await api.client.get("/graphql", params={"query": "{ viewer { user { id } } }"})

    assert mutation.status_code == 405
    assert mutation.headers["allow"] == "POST"
    assert mutation.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"
    assert query.status_code == 200
    assert query.json()["data"]["viewer"]["user"]["id"]
    assert (await api("{ viewer { user { id } } }")).data["viewer"] is not None


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-www-form-urlencoded", "query=mutation%20%7B%20signOut%20%7B%20ok%20%7D%20%7D"),
        ("text/plain", '{"query": "mutation { signOut { ok } }"}'),
        ("multipart/form-data; boundary=x", "--x\r\n\r\n--x--"),
    ],
)
async def test_cross_site_form_bodies_are_refused(
    api: Api, db: Database, settings: Settings, content_type: str, body: str
) -> None:
    api.set_session(await session_for(db, settings, await create_user(db)))

    response = await api.client.post("/graphql", content=body, headers={"content-type": content_type})

    assert response.status_code in (400, 415)
    assert (await api("{ viewer { user { id } } }")).data["viewer"] is not None


async def test_graphiql_is_served_in_development(api: Api) -> None:
    response = await api.client.get("/graphql", headers={"accept": "text/html"})

    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_health_and_readiness(api: Api) -> None:
    assert (await api.client.get("/healthz")).text == "ok"
    assert (await api.client.get("/readyz")).status_code == 200


async def test_readiness_fails_when_the_database_is_unreachable(tmp_path: object) -> None:
    import httpx

    settings = make_settings("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    app = create_app(settings)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://testserver"
    ) as client:
        ready = await client.get("/readyz")
        health = await client.get("/healthz")

    assert ready.status_code == 503
    assert health.status_code == 200


async def test_unexpected_errors_are_masked_with_the_request_id(
    api: Api,
    db: Database,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    api.set_session(await session_for(db, settings, await create_user(db)))

    async def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError('SELECT secret FROM users WHERE file="/srv/app/resolvers/accounts/accounts.py"')

    monkeypatch.setattr(accounts, "viewer_accounts", broken)

    with caplog.at_level(logging.ERROR, logger="clientarea.errors"):
        response = await api("{ viewer { accounts { totalCount } } }", x_request_id="test-request-0001")

    assert response.http.headers["x-request-id"] == "test-request-0001"
    [error] = response.errors
    assert error["message"] == "Internal server error."
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": "test-request-0001"}
    text = response.http.text
    for leak in ("SELECT", "secret", "Traceback", "/srv/app", "RuntimeError"):
        assert leak not in text
    assert any("SELECT secret" in (r.exc_text or "") or r.exc_info for r in caplog.records)


async def test_validation_errors_stay_readable(api: Api) -> None:
    response = await api("{ viewer { nosuchfield } }")

    [error] = response.errors
    assert "nosuchfield" in error["message"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_generated_request_id_is_returned(api: Api) -> None:
    response = await api.client.get("/healthz")

    assert len(response.headers["x-request-id"]) == 32


def test_settings_never_show_their_secrets() -> None:
    settings = make_settings(
        "sqlite+aiosqlite:///x.db",
        smtp_url="smtp://mailer:hunter2-smtp@mail.example:587",
        secret_key="hunter2-secret",
        sso_signing_key="hunter2-signing",
        sso_panel_secret="hunter2-panel",
    )

    assert "hunter2" not in repr(settings)
    assert "hunter2" not in str(settings)

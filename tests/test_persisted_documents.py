"""Persisted documents: automatic persisted queries as Apollo Client and urql send them, over POST
and GET, and trusted documents only for cookie sessions, loaded from a manifest."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from clientarea.app import create_app
from clientarea.cli import main
from clientarea.persisted import ManifestError, documents_from_manifest, load_trusted
from models.database import Database
from models.identity import ApiToken
from models.persisted_documents import PersistedDocument
from resolvers.core.credentials import digest, hash_password, new_api_token, token_display_prefix
from resolvers.core.settings import Settings, get_settings
from tests.conftest import make_settings
from tests.factories import create_user, session_for
from tests.graphql import Api

PRODUCTS = "query Catalogue { products(first: 1) { totalCount } }"
VIEWER = "query Viewer { viewer { user { email } } }"
SIGN_IN = "mutation SignIn($input: SignInInput!) { signIn(input: $input) { userErrors { code } } }"


def sha256(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


def persisted(document: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha256(document)}}


async def post(client: httpx.AsyncClient, body: dict[str, Any], **headers: str) -> httpx.Response:
    return await client.post("/graphql", json=body, headers=headers)


async def get(client: httpx.AsyncClient, params: dict[str, Any], **headers: str) -> httpx.Response:
    sent = {k: json.dumps(v) if isinstance(v, dict) else v for k, v in params.items()}
    return await client.get("/graphql", params=sent, headers=headers)


def codes(response: httpx.Response) -> list[str]:
    return [e["extensions"]["code"] for e in response.json().get("errors") or ()]


async def stored(db: Database) -> int:
    async with db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(PersistedDocument)) or 0)


# --- automatic persisted queries --------------------------------------------------------------


async def test_apollo_round_trip_over_post(api: Api, db: Database) -> None:
    # given: the hash only, as Apollo Client sends it first
    first = await post(api.client, {"operationName": "Catalogue", "extensions": persisted(PRODUCTS)})
    # when: it retries with the query, then sends the hash only again
    second = await post(
        api.client, {"query": PRODUCTS, "operationName": "Catalogue", "extensions": persisted(PRODUCTS)}
    )
    third = await post(api.client, {"operationName": "Catalogue", "extensions": persisted(PRODUCTS)})

    assert codes(first) == ["PERSISTED_QUERY_NOT_FOUND"]
    assert first.json()["errors"][0]["message"] == "PersistedQueryNotFound"
    assert second.json()["data"]["products"]["totalCount"] >= 0
    assert third.json() == second.json()
    assert await stored(db) == 1


async def test_apollo_round_trip_over_get(api: Api) -> None:
    hash_only = {"operationName": "Catalogue", "variables": {}, "extensions": persisted(PRODUCTS)}

    first = await get(api.client, hash_only, accept="application/graphql-response+json")
    second = await get(api.client, {**hash_only, "query": PRODUCTS})
    third = await get(api.client, hash_only)

    assert first.status_code == 400
    assert codes(first) == ["PERSISTED_QUERY_NOT_FOUND"]
    assert first.headers["cache-control"] == "private, no-store"
    assert second.json()["data"]["products"]["totalCount"] >= 0
    assert third.json() == second.json()
    assert third.headers["cache-control"] == "public, max-age=60"


async def test_every_worker_knows_a_registered_document(api: Api, db: Database, settings: Settings) -> None:
    await post(api.client, {"query": PRODUCTS, "extensions": persisted(PRODUCTS)})
    other_worker = create_app(settings, db)

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=other_worker), base_url="https://testserver"
    ) as client:
        response = await post(client, {"extensions": persisted(PRODUCTS)})

    assert response.json()["data"]["products"]["totalCount"] >= 0


async def test_a_hash_that_does_not_match_the_query_is_refused_and_not_stored(api: Api, db: Database) -> None:
    response = await post(api.client, {"query": PRODUCTS, "extensions": persisted("{ __typename }")})

    assert codes(response) == ["PERSISTED_QUERY_HASH_MISMATCH"]
    assert "data" not in response.json() or response.json()["data"] is None
    assert await stored(db) == 0


async def test_a_document_that_does_not_validate_is_not_stored(api: Api, db: Database) -> None:
    invalid = "{ viewer { nosuchfield } }"

    response = await post(api.client, {"query": invalid, "extensions": persisted(invalid)})
    again = await post(api.client, {"extensions": persisted(invalid)})

    assert codes(response) == ["BAD_USER_INPUT"]
    assert codes(again) == ["PERSISTED_QUERY_NOT_FOUND"]
    assert await stored(db) == 0


async def test_a_mutation_registers_and_replays_over_post_only(
    api: Api, db: Database, settings: Settings
) -> None:
    await create_user(
        db,
        email="apq@example.com",
        password_hash=await hash_password(settings, "correct horse battery staple"),
    )
    variables = {"input": {"email": "apq@example.com", "password": "correct horse battery staple"}}

    registered = await post(
        api.client, {"query": SIGN_IN, "variables": variables, "extensions": persisted(SIGN_IN)}
    )
    replayed = await post(api.new().client, {"variables": variables, "extensions": persisted(SIGN_IN)})
    over_get = await get(api.client, {"variables": variables, "extensions": persisted(SIGN_IN)})

    assert registered.json()["data"]["signIn"]["userErrors"] == []
    assert replayed.json()["data"]["signIn"]["userErrors"] == []
    assert over_get.status_code == 405


@pytest.mark.parametrize(
    "extensions",
    [
        {"persistedQuery": "abc"},
        {"persistedQuery": {"version": 1, "sha256Hash": "not-a-hash"}},
        {"persistedQuery": {"version": 1, "sha256Hash": 42}},
        {"persistedQuery": {"version": 2, "sha256Hash": "a" * 64}},
    ],
)
async def test_malformed_persisted_query_extensions_are_refused(api: Api, extensions: dict[str, Any]) -> None:
    response = await post(api.client, {"extensions": extensions}, accept="application/graphql-response+json")

    assert response.status_code == 400
    assert codes(response)[0] in ("BAD_REQUEST", "PERSISTED_QUERY_NOT_SUPPORTED")


async def test_only_the_newest_client_documents_are_kept(db: Database, database_url: str) -> None:
    app = create_app(make_settings(database_url, persisted_queries_max=2), db)
    documents = [f"query Q{i} {{ __typename }}" for i in range(3)]

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://t") as client:
        for document in documents:
            await post(client, {"query": document, "extensions": persisted(document)})
            await asyncio.sleep(0.01)
        oldest = await post(client, {"extensions": persisted(documents[0])})
        newest = await post(client, {"extensions": persisted(documents[2])})

    assert await stored(db) == 2
    assert codes(oldest) == ["PERSISTED_QUERY_NOT_FOUND"]
    assert newest.json()["data"] == {"__typename": "Query"}


# --- trusted documents only ----------------------------------------------------------------------


@pytest.fixture
async def trusted_api(db: Database, database_url: str) -> Any:
    app = create_app(make_settings(database_url, trusted_documents_only=True), db)
    clients: list[httpx.AsyncClient] = []

    def client() -> httpx.AsyncClient:
        made = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver")
        clients.append(made)
        return made

    await load_trusted(db, {sha256(VIEWER): VIEWER})
    yield Api(client, db)
    for made in clients:
        await made.aclose()


async def test_a_cookie_session_runs_trusted_documents_only(
    trusted_api: Api, db: Database, settings: Settings
) -> None:
    trusted_api.set_session(await session_for(db, settings, await create_user(db, email="t@example.com")))

    by_hash = await post(trusted_api.client, {"extensions": persisted(VIEWER)})
    by_text = await post(trusted_api.client, {"query": VIEWER})
    other = await post(trusted_api.client, {"query": "{ viewer { user { id } } }"})
    registered = await post(trusted_api.client, {"query": PRODUCTS, "extensions": persisted(PRODUCTS)})
    over_get = await get(trusted_api.client, {"query": "{ viewer { user { id } } }"})

    assert by_hash.json()["data"]["viewer"]["user"]["email"] == "t@example.com"
    assert by_text.json()["data"]["viewer"]["user"]["email"] == "t@example.com"
    assert (other.status_code, codes(other)) == (403, ["PERSISTED_QUERY_NOT_IN_LIST"])
    assert (registered.status_code, codes(registered)) == (403, ["PERSISTED_QUERY_NOT_IN_LIST"])
    assert over_get.status_code == 403
    assert await stored(db) == 1


async def test_a_client_registered_document_is_not_trusted(
    trusted_api: Api, db: Database, settings: Settings
) -> None:
    await post(trusted_api.new().client, {"query": PRODUCTS, "extensions": persisted(PRODUCTS)})
    trusted_api.set_session(await session_for(db, settings, await create_user(db)))

    response = await post(trusted_api.client, {"extensions": persisted(PRODUCTS)})

    assert await stored(db) == 2
    assert codes(response) == ["PERSISTED_QUERY_NOT_IN_LIST"]


async def test_tokens_and_anonymous_callers_may_send_any_document(trusted_api: Api, db: Database) -> None:
    user = await create_user(db, email="tok@example.com")
    token = new_api_token()
    async with db.begin() as session:
        session.add(
            ApiToken(
                user_id=user.id, name="partner", prefix=token_display_prefix(token), token_hash=digest(token)
            )
        )

    with_token = await post(
        trusted_api.client, {"query": "{ viewer { user { email } } }"}, authorization=f"Bearer {token}"
    )
    anonymous = await post(trusted_api.new().client, {"query": "{ products(first: 1) { totalCount } }"})

    assert with_token.json()["data"]["viewer"]["user"]["email"] == "tok@example.com"
    assert anonymous.json()["data"]["products"]["totalCount"] >= 0


# --- manifests ---------------------------------------------------------------------------------


def test_both_manifest_formats_are_read() -> None:
    plain = {sha256(VIEWER): VIEWER}
    apollo = {
        "format": "apollo-persisted-query-manifest",
        "version": 1,
        "operations": [{"id": sha256(VIEWER), "name": "Viewer", "type": "query", "body": VIEWER}],
    }

    assert documents_from_manifest(plain) == documents_from_manifest(apollo) == {sha256(VIEWER): VIEWER}


@pytest.mark.parametrize(
    "manifest",
    [
        [VIEWER],
        {},
        {"0" * 64: VIEWER},
        {sha256(VIEWER): 42},
        {"format": "apollo-persisted-query-manifest", "version": 2, "operations": []},
        {"format": "apollo-persisted-query-manifest", "version": 1, "operations": ["x"]},
    ],
)
def test_a_bad_manifest_is_refused(manifest: Any) -> None:
    with pytest.raises(ManifestError):
        documents_from_manifest(manifest)


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> Iterator[None]:
    monkeypatch.setenv("CLIENTAREA_ENV", "test")
    monkeypatch.setenv("CLIENTAREA_DATABASE_URL", settings.database_url)
    monkeypatch.setattr("clientarea.cli.configure_logging", lambda: None)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.usefixtures("environment")
async def test_documents_load_trusts_a_manifest(
    db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = tmp_path / "first.json"
    first.write_text(json.dumps({sha256(VIEWER): VIEWER, sha256(PRODUCTS): PRODUCTS}))
    second = tmp_path / "second.json"
    second.write_text(
        json.dumps(
            {
                "format": "apollo-persisted-query-manifest",
                "version": 1,
                "operations": [
                    {"id": sha256(PRODUCTS), "name": "Catalogue", "type": "query", "body": PRODUCTS}
                ],
            }
        )
    )

    # in a thread, because the command runs its own event loop
    loaded = await asyncio.to_thread(main, ["documents", "load", str(first)])
    replaced = await asyncio.to_thread(main, ["documents", "load", "--replace", str(second)])

    assert (loaded, replaced) == (0, 0)
    async with db.read() as session:
        rows = {row.sha256: row.trusted for row in await session.scalars(select(PersistedDocument))}
    assert rows == {sha256(VIEWER): False, sha256(PRODUCTS): True}
    assert "1 trusted in all" in capsys.readouterr().out


@pytest.mark.usefixtures("environment")
async def test_documents_load_refuses_a_document_the_schema_does_not_have(
    db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = "{ viewer { nosuchfield } }"
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({sha256(VIEWER): VIEWER, sha256(broken): broken}))

    status = await asyncio.to_thread(main, ["documents", "load", str(manifest)])

    assert status == 1
    assert "nosuchfield" in capsys.readouterr().err
    assert await stored(db) == 0

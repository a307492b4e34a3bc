"""signIn and signOut: cookie sessions, a fresh session each time, one answer for every failure."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from models import Session
from models.base import utcnow
from models.database import Database
from resolvers.core.credentials import hash_password
from resolvers.core.settings import Settings
from tests.factories import create_user
from tests.graphql import Api

SIGN_IN = """
mutation SignIn($email: String!, $password: String!) {
  signIn(input: { email: $email, password: $password }) {
    user { id email }
    userErrors { field message code }
  }
}
"""
SIGN_OUT = "mutation { signOut { ok } }"
VIEWER = "{ viewer { user { email } } }"
PASSWORD = "a long enough passphrase"


async def _user(db: Database, settings: Settings, email: str = "agency@example.com") -> None:
    await create_user(db, email=email, password_hash=await hash_password(settings, PASSWORD))


async def test_sign_in_starts_a_session_that_sign_out_ends(
    api: Api, db: Database, settings: Settings
) -> None:
    await _user(db, settings)

    response = await api(SIGN_IN, {"email": "Agency@Example.com", "password": PASSWORD})

    assert response.payload("signIn")["user"]["email"] == "agency@example.com"
    assert (await api(VIEWER)).data["viewer"]["user"]["email"] == "agency@example.com"
    cookie = api.client.cookies.get("clientarea_session")

    assert (await api(SIGN_OUT)).payload("signOut") == {"ok": True}
    assert (await api(VIEWER)).data["viewer"] is None
    # The old cookie is dead on the server, not only forgotten by the browser.
    replay = api.new()
    assert cookie is not None
    replay.set_session(cookie)
    assert (await replay(VIEWER)).data["viewer"] is None


async def test_wrong_password_and_unknown_email_answer_alike(
    api: Api, db: Database, settings: Settings
) -> None:
    await _user(db, settings)

    wrong = await api(SIGN_IN, {"email": "agency@example.com", "password": "not the password"})
    unknown = await api(SIGN_IN, {"email": "nobody@example.com", "password": PASSWORD})

    assert wrong.payload("signIn") == unknown.payload("signIn")
    assert wrong.user_error_codes("signIn") == ["INVALID_CREDENTIALS"]
    assert "set-cookie" not in wrong.http.headers


async def test_every_sign_in_gets_a_fresh_session_and_ends_the_previous_one(
    api: Api, db: Database, settings: Settings
) -> None:
    await _user(db, settings)
    await api(SIGN_IN, {"email": "agency@example.com", "password": PASSWORD})
    first = api.client.cookies.get("clientarea_session")

    await api(SIGN_IN, {"email": "agency@example.com", "password": PASSWORD})
    second = api.client.cookies.get("clientarea_session")

    assert first
    assert second
    assert first != second
    stale, fresh = api.new(), api.new()
    stale.set_session(first)
    fresh.set_session(second)
    assert (await stale(VIEWER)).data["viewer"] is None
    assert (await fresh(VIEWER)).data["viewer"]["user"]["email"] == "agency@example.com"


async def test_idle_and_absolute_lifetimes_end_a_session(api: Api, db: Database, settings: Settings) -> None:
    await _user(db, settings)
    await api(SIGN_IN, {"email": "agency@example.com", "password": PASSWORD})

    async with db.begin() as session:
        await session.execute(
            update(Session).values(
                last_seen_at=utcnow() - timedelta(minutes=settings.session_idle_minutes + 1)
            )
        )
    assert (await api(VIEWER)).data["viewer"] is None

    async with db.begin() as session:
        await session.execute(
            update(Session).values(last_seen_at=utcnow(), expires_at=utcnow() - timedelta(seconds=1))
        )
    assert (await api(VIEWER)).data["viewer"] is None


async def test_only_a_hash_of_the_session_id_is_stored(api: Api, db: Database, settings: Settings) -> None:
    await _user(db, settings)
    await api(SIGN_IN, {"email": "agency@example.com", "password": PASSWORD})
    cookie = api.client.cookies.get("clientarea_session")

    async with db.read() as session:
        stored = list(await session.scalars(select(Session.token_hash)))
    assert cookie is not None
    assert len(stored) == 1
    assert cookie.encode() not in stored[0]
    assert len(stored[0]) == 32


async def test_user_without_a_password_cannot_sign_in(api: Api, db: Database) -> None:
    await create_user(db, email="customer@example.com", password_hash=None)

    response = await api(SIGN_IN, {"email": "customer@example.com", "password": PASSWORD})

    assert response.user_error_codes("signIn") == ["INVALID_CREDENTIALS"]


async def test_sign_out_needs_a_signed_in_viewer(api: Api) -> None:
    response = await api(SIGN_OUT)

    assert response.codes == ["UNAUTHENTICATED"]
    assert response.data is None

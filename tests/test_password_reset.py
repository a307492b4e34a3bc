"""requestPasswordReset and resetPassword: one answer for every email, single-use links, sessions ended."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

from sqlalchemy import func, select, update

from models import AuditEvent, OutboxEmail, PasswordResetToken, User
from models.base import utcnow
from models.database import Database
from resolvers.core.credentials import digest, hash_password
from resolvers.core.settings import Settings
from tests.factories import create_account, create_user, session_for
from tests.graphql import Api

REQUEST = """
mutation Request($email: String!) {
  requestPasswordReset(input: { email: $email }) {
    ok
    userErrors { field message code }
  }
}
"""
RESET = """
mutation Reset($token: String!, $password: String!) {
  resetPassword(input: { token: $token, password: $password }) {
    user { email }
    userErrors { field message code }
  }
}
"""
SIGN_IN = """
mutation SignIn($email: String!, $password: String!) {
  signIn(input: { email: $email, password: $password }) { userErrors { code } }
}
"""
VIEWER = "{ viewer { user { email } } }"

EMAIL = "erika@muster.example"
OLD_PASSWORD = "the old long passphrase"
NEW_PASSWORD = "a brand new passphrase"


async def _user(db: Database, settings: Settings, email: str = EMAIL) -> User:
    return await create_user(
        db, email=email, name="Erika Muster", password_hash=await hash_password(settings, OLD_PASSWORD)
    )


async def _emailed_token(db: Database, email: str = EMAIL) -> str:
    """The token in the link of the newest reset email to `email`, read as its recipient would."""
    async with db.read() as session:
        body = await session.scalar(
            select(OutboxEmail.text_body)
            .where(OutboxEmail.to_address == email, OutboxEmail.template == "password_reset")
            .order_by(OutboxEmail.id.desc())
            .limit(1)
        )
    assert body is not None
    match = re.search(r"/password/reset\?token=([A-Za-z0-9_-]+)", body)
    assert match is not None, body
    return match.group(1)


async def _requested_token(api: Api, db: Database, email: str = EMAIL) -> str:
    assert (await api(REQUEST, {"email": email})).payload("requestPasswordReset")["ok"] is True
    return await _emailed_token(db, email)


async def _emails(db: Database) -> list[OutboxEmail]:
    async with db.read() as session:
        return list(await session.scalars(select(OutboxEmail).order_by(OutboxEmail.id)))


async def _signs_in(api: Api, password: str, email: str = EMAIL) -> bool:
    response = await api.new()(SIGN_IN, {"email": email, "password": password})
    return not response.user_error_codes("signIn")


async def test_registered_and_unknown_emails_get_the_same_answer_and_only_the_user_an_email(
    api: Api, db: Database, settings: Settings
) -> None:
    user = await _user(db, settings)

    known = await api(REQUEST, {"email": "Erika@Muster.EXAMPLE"})
    unknown = await api(REQUEST, {"email": "nobody@muster.example"})

    assert known.payload("requestPasswordReset") == {"ok": True, "userErrors": []}
    assert unknown.payload("requestPasswordReset") == known.payload("requestPasswordReset")
    emails = await _emails(db)
    assert [(e.to_address, e.template, e.subject) for e in emails] == [
        (EMAIL, "password_reset", "Reset your password")
    ]
    token = await _emailed_token(db)
    assert f"{settings.public_url}/password/reset?token={token}" in emails[0].html_body
    async with db.read() as session:
        stored = (await session.scalars(select(PasswordResetToken))).one()
        actions = list(await session.scalars(select(AuditEvent.action)))
        actor = await session.scalar(select(AuditEvent.actor_id))
    # 256 random bits, of which only a hash is kept; valid for an hour.
    assert len(token) == 43
    assert stored.user_id == user.id
    assert stored.token_hash == digest(token)
    assert timedelta(minutes=59) < stored.expires_at - utcnow() <= timedelta(hours=1)
    assert actions == ["user.password_reset_requested"]
    assert actor == user.id


async def test_reset_sets_the_password_and_starts_a_session(
    api: Api, db: Database, settings: Settings
) -> None:
    await _user(db, settings)
    token = await _requested_token(api, db)

    response = await api(RESET, {"token": token, "password": NEW_PASSWORD})

    assert response.payload("resetPassword") == {"user": {"email": EMAIL}, "userErrors": []}
    assert "HttpOnly" in response.http.headers["set-cookie"]
    assert (await api(VIEWER)).data["viewer"]["user"]["email"] == EMAIL
    assert await _signs_in(api, NEW_PASSWORD)
    assert not await _signs_in(api, OLD_PASSWORD)
    async with db.read() as session:
        actions = list(await session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    assert actions[:2] == ["user.password_reset_requested", "user.password_reset"]


async def test_a_token_works_once(api: Api, db: Database, settings: Settings) -> None:
    await _user(db, settings)
    token = await _requested_token(api, db)
    await api.new()(RESET, {"token": token, "password": NEW_PASSWORD})

    replay = await api.new()(RESET, {"token": token, "password": "yet another passphrase"})

    payload = replay.payload("resetPassword")
    assert payload["user"] is None
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [("TOKEN_INVALID", ["input", "token"])]
    assert "set-cookie" not in replay.http.headers
    assert await _signs_in(api, NEW_PASSWORD)


async def test_of_two_concurrent_resets_with_one_token_only_one_wins(
    api: Api, db: Database, settings: Settings
) -> None:
    await _user(db, settings)
    token = await _requested_token(api, db)

    first, second = await asyncio.gather(
        api.new()(RESET, {"token": token, "password": NEW_PASSWORD}),
        api.new()(RESET, {"token": token, "password": "yet another passphrase"}),
    )

    codes = sorted([first.user_error_codes("resetPassword"), second.user_error_codes("resetPassword")])
    assert codes == [[], ["TOKEN_INVALID"]]


async def test_an_expired_token_is_refused_and_changes_nothing(
    api: Api, db: Database, settings: Settings
) -> None:
    await _user(db, settings)
    token = await _requested_token(api, db)
    async with db.begin() as session:
        await session.execute(update(PasswordResetToken).values(expires_at=utcnow() - timedelta(seconds=1)))

    response = await api(RESET, {"token": token, "password": NEW_PASSWORD})

    assert response.user_error_codes("resetPassword") == ["TOKEN_INVALID"]
    assert response.payload("resetPassword")["user"] is None
    assert await _signs_in(api, OLD_PASSWORD)


async def test_an_unknown_token_is_refused(api: Api, db: Database, settings: Settings) -> None:
    await _user(db, settings)

    response = await api(RESET, {"token": "made-up", "password": NEW_PASSWORD})

    assert response.user_error_codes("resetPassword") == ["TOKEN_INVALID"]
    assert (await api(VIEWER)).data["viewer"] is None


async def test_a_weak_password_is_refused_and_the_token_stays_usable(
    api: Api, db: Database, settings: Settings
) -> None:
    await _user(db, settings)
    token = await _requested_token(api, db)

    weak = await api(RESET, {"token": token, "password": "password123"})
    own_email = await api(RESET, {"token": token, "password": EMAIL})
    strong = await api(RESET, {"token": token, "password": NEW_PASSWORD})

    for response in (weak, own_email):
        payload = response.payload("resetPassword")
        assert payload["user"] is None
        assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [
            ("WEAK_PASSWORD", ["input", "password"])
        ]
    assert strong.user_error_codes("resetPassword") == []


async def test_a_reset_ends_every_other_session_of_the_user(
    api: Api, db: Database, settings: Settings
) -> None:
    user = await _user(db, settings)
    laptop, phone = api.new(), api.new()
    laptop.set_session(await session_for(db, settings, user))
    phone.set_session(await session_for(db, settings, user))
    assert (await laptop(VIEWER)).data["viewer"]["user"]["email"] == EMAIL
    token = await _requested_token(api, db)

    await api(RESET, {"token": token, "password": NEW_PASSWORD})

    assert (await laptop(VIEWER)).data["viewer"] is None
    assert (await phone(VIEWER)).data["viewer"] is None
    cookie = api.client.cookies.get("clientarea_session")
    assert cookie is not None
    fresh = api.new()
    fresh.set_session(cookie)
    assert (await fresh(VIEWER)).data["viewer"]["user"]["email"] == EMAIL


async def test_using_one_link_retires_the_others(api: Api, db: Database, settings: Settings) -> None:
    await _user(db, settings)
    older = await _requested_token(api, db)
    newer = await _requested_token(api, db)

    await api.new()(RESET, {"token": newer, "password": NEW_PASSWORD})
    response = await api.new()(RESET, {"token": older, "password": "yet another passphrase"})

    assert older != newer
    assert response.user_error_codes("resetPassword") == ["TOKEN_INVALID"]


async def test_requests_are_rate_limited_per_email_whether_or_not_it_is_registered(
    api: Api, db: Database, settings: Settings
) -> None:
    await _user(db, settings)
    for _ in range(5):
        await api(REQUEST, {"email": EMAIL})
        await api(REQUEST, {"email": "nobody@muster.example"})

    known = await api(REQUEST, {"email": EMAIL.upper()})
    unknown = await api(REQUEST, {"email": "nobody@muster.example"})
    other = await api(REQUEST, {"email": "someone.else@muster.example"})

    assert known.payload("requestPasswordReset") == unknown.payload("requestPasswordReset")
    assert known.payload("requestPasswordReset")["ok"] is False
    assert known.user_error_codes("requestPasswordReset") == ["RATE_LIMITED"]
    assert other.payload("requestPasswordReset") == {"ok": True, "userErrors": []}
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxEmail)) == 5


async def test_an_invalid_email_is_a_user_error(api: Api, db: Database) -> None:
    response = await api(REQUEST, {"email": "not-an-email"})

    payload = response.payload("requestPasswordReset")
    assert payload["ok"] is False
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [("INVALID", ["input", "email"])]
    assert await _emails(db) == []


async def test_the_email_speaks_the_language_of_the_users_own_account(
    api: Api, db: Database, settings: Settings
) -> None:
    austrian = await _user(db, settings)
    await create_account(db, owner=austrian, country="AT")
    british = await _user(db, settings, email="jane@example.co.uk")
    await create_account(db, owner=british, country="GB")

    await api(REQUEST, {"email": EMAIL})
    await api(REQUEST, {"email": "jane@example.co.uk"})

    emails = await _emails(db)
    assert [(e.to_address, e.subject) for e in emails] == [
        (EMAIL, "Passwort zurücksetzen"),
        ("jane@example.co.uk", "Reset your password"),
    ]
    assert emails[0].text_body.startswith("Guten Tag Erika Muster,")


async def test_a_signed_in_caller_may_ask_too_and_the_audit_keeps_their_credential(
    api: Api, db: Database, settings: Settings
) -> None:
    user = await _user(db, settings)
    api.set_session(await session_for(db, settings, user))

    response = await api(REQUEST, {"email": EMAIL})

    assert response.payload("requestPasswordReset")["ok"] is True
    async with db.read() as session:
        event = (await session.scalars(select(AuditEvent))).one()
    assert (event.action, event.actor_id, event.credential) == (
        "user.password_reset_requested",
        user.id,
        "session",
    )

"""Abuse limits on the mutations that check passwords or reveal whether an email is registered."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update

from models import AuditEvent, RateLimitHit
from models.base import utcnow
from models.database import Database
from resolvers.core.credentials import hash_password
from resolvers.core.settings import Settings
from tests.factories import BILLING, create_user
from tests.graphql import Api

PASSWORD = "a long enough passphrase"
SIGN_IN = """
mutation SignIn($email: String!, $password: String!) {
  signIn(input: { email: $email, password: $password }) { user { email } userErrors { code } }
}
"""


async def _user(db: Database, settings: Settings) -> None:
    await create_user(db, email="erika@example.com", password_hash=await hash_password(settings, PASSWORD))


async def _fail(api: Api, times: int, email: str = "erika@example.com") -> None:
    for _ in range(times):
        response = await api(SIGN_IN, {"email": email, "password": "wrong password"})
        assert response.user_error_codes("signIn") == ["INVALID_CREDENTIALS"]


async def test_after_five_failures_even_the_right_password_is_refused(
    api: Api, db: Database, settings: Settings
) -> None:
    await _user(db, settings)
    await _fail(api, 5)

    response = await api(SIGN_IN, {"email": "erika@example.com", "password": PASSWORD})

    assert response.user_error_codes("signIn") == ["RATE_LIMITED"]
    assert "set-cookie" not in response.http.headers
    async with db.read() as session:
        audited = await session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "user.sign_in_failed")
        )
    assert audited == 6


async def test_the_lock_ends_when_the_failures_age_out(api: Api, db: Database, settings: Settings) -> None:
    await _user(db, settings)
    await _fail(api, 5)
    async with db.begin() as session:
        await session.execute(update(RateLimitHit).values(occurred_at=utcnow() - timedelta(minutes=16)))

    response = await api(SIGN_IN, {"email": "erika@example.com", "password": PASSWORD})

    assert response.payload("signIn")["user"] == {"email": "erika@example.com"}


async def test_aliased_sign_ins_in_one_request_all_count(api: Api, db: Database, settings: Settings) -> None:
    await _user(db, settings)
    aliases = " ".join(
        f'a{i}: signIn(input: {{email: "erika@example.com", password: "wrong {i}"}})'
        " { userErrors { code } }"
        for i in range(7)
    )

    response = await api(f"mutation {{ {aliases} }}")

    codes = [response.data[f"a{i}"]["userErrors"][0]["code"] for i in range(7)]
    assert codes == ["INVALID_CREDENTIALS"] * 5 + ["RATE_LIMITED"] * 2


async def test_unknown_emails_are_throttled_alike(api: Api, db: Database, settings: Settings) -> None:
    await _fail(api, 5, email="nobody@example.com")

    response = await api(SIGN_IN, {"email": "nobody@example.com", "password": PASSWORD})

    assert response.user_error_codes("signIn") == ["RATE_LIMITED"]


async def test_sign_ups_are_limited_per_client(api: Api, db: Database) -> None:
    mutation = """
    mutation($input: SignUpInput!) { signUp(input: $input) { user { id } userErrors { code } } }
    """

    codes = []
    for index in range(21):
        response = await api.new()(
            mutation,
            {
                "input": {
                    "email": f"user{index}@example.com",
                    "name": "User",
                    "password": PASSWORD,
                    "accountName": "Account",
                    "billingProfile": BILLING,
                }
            },
        )
        codes.append(response.user_error_codes("signUp"))

    assert codes[:20] == [[]] * 20
    assert codes[20] == ["RATE_LIMITED"]


async def test_invitation_previews_are_limited_per_client(api: Api, db: Database) -> None:
    query = "query($t: String!) { invitation(token: $t) { email } }"
    for _ in range(120):
        assert (await api(query, {"t": "unknown"})).body["data"] == {"invitation": None}

    response = await api(query, {"t": "unknown"})

    assert response.codes == ["RATE_LIMITED"]
    assert response.data == {"invitation": None}

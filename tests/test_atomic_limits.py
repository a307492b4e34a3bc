"""Limits hold under concurrency and for keys of any length (DESIGN rules 12 and 18), over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from clientarea.app import create_app
from models import AuditEvent, Invitation, OutboxEmail, RateLimitHit, Session, User
from models.database import Database
from resolvers.core.credentials import hash_password, verify_password
from resolvers.core.settings import Settings
from resolvers.core.validation import normalise_email
from tests.conftest import make_settings
from tests.factories import BILLING, create_user
from tests.graphql import Api, Response

PASSWORD = "a long enough passphrase"
SIGN_IN = """
mutation SignIn($email: String!, $password: String!) {
  signIn(input: { email: $email, password: $password }) { user { email } userErrors { code } }
}
"""
SIGN_UP = """
mutation SignUp($input: SignUpInput!) { signUp(input: $input) { user { email } userErrors { code } } }
"""
PREVIEW = "query($t: String!) { invitation(token: $t) { email } }"
RESET = """
mutation Request($email: String!) {
  requestPasswordReset(input: { email: $email }) { ok userErrors { code } }
}
"""
EMAIL = "erika@example.com"
# A valid address of 239 characters: a 64-character local part and a 174-character domain.
LONG_EMAIL = "a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 38 + ".example"
# What a trusted proxy may forward: uvicorn takes the client address from it, whatever its length.
LONG_FORWARDED_FOR = "2001:db8:" + ":".join(["abcd"] * 120)


class PasswordChecks:
    """Wraps the sign-in's password check: counts the checks, and can hold them until released."""

    def __init__(self) -> None:
        self.count = 0
        self.release = asyncio.Event()
        self.release.set()
        self._progress = asyncio.Condition()

    async def __call__(self, settings: Settings, password_hash: str | None, password: str) -> bool:
        async with self._progress:
            self.count += 1
            self._progress.notify_all()
        await self.release.wait()
        # Long enough for every parallel request to arrive while a check is running.
        await asyncio.sleep(0.05)
        return await verify_password(settings, password_hash, password)

    async def started(self, count: int) -> None:
        async with asyncio.timeout(30), self._progress:
            await self._progress.wait_for(lambda: self.count >= count)


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> PasswordChecks:
    counter = PasswordChecks()
    monkeypatch.setattr("resolvers.identity.identity.verify_password", counter)
    return counter


@pytest.fixture
async def client_for(db: Database, database_url: str) -> AsyncIterator[Callable[..., Api]]:
    """An API with some settings changed, reached through uvicorn's proxy-header handling as
    `clientarea serve` runs it (the test client connects from 127.0.0.1, a trusted proxy)."""
    clients: list[httpx.AsyncClient] = []

    def make(**overrides: object) -> Api:
        app = ProxyHeadersMiddleware(create_app(make_settings(database_url, **overrides), db))  # type: ignore[arg-type]

        def client() -> httpx.AsyncClient:
            made = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 4711)),  # type: ignore[arg-type]
                base_url="https://testserver",
            )
            clients.append(made)
            return made

        return Api(client, db)

    yield make
    for made in clients:
        await made.aclose()


async def _user(db: Database, settings: Settings, email: str = EMAIL) -> User:
    return await create_user(db, email=email, password_hash=await hash_password(settings, PASSWORD))


async def _sign_in(api: Api, password: str, email: str = EMAIL) -> Response:
    return await api.new()(SIGN_IN, {"email": email, "password": password})


def _codes(responses: list[Response], field: str) -> list[str]:
    return [code for response in responses for code in response.user_error_codes(field) or ["OK"]]


async def _count(db: Database, model: Any, *where: Any) -> int:
    async with db.read() as session:
        return await session.scalar(select(func.count()).select_from(model).where(*where)) or 0


async def test_forty_parallel_wrong_passwords_get_at_most_five_checks(
    api: Api, db: Database, settings: Settings, checks: PasswordChecks
) -> None:
    await _user(db, settings)

    responses = await asyncio.gather(*(_sign_in(api, f"wrong password {i}") for i in range(40)))

    codes = _codes(list(responses), "signIn")
    assert checks.count <= 5
    assert codes.count("INVALID_CREDENTIALS") == checks.count
    assert codes.count("RATE_LIMITED") == 40 - checks.count
    # Every attempt counts, the refused ones too, and each is audited.
    assert await _count(db, RateLimitHit) == 40
    assert await _count(db, AuditEvent, AuditEvent.action == "user.sign_in_failed") == 40


async def test_the_right_password_in_the_middle_of_a_burst_does_not_sign_in(
    api: Api, db: Database, settings: Settings, checks: PasswordChecks
) -> None:
    await _user(db, settings)
    checks.release.clear()
    # Twenty wrong guesses, of which the first five are being checked (held there) ...
    first = [asyncio.create_task(_sign_in(api, f"wrong password {i}")) for i in range(20)]
    await checks.started(5)

    # ... when the right password arrives amid twenty more (which must not wait for those checks).
    try:
        async with asyncio.timeout(30):
            second = await asyncio.gather(
                *(_sign_in(api, f"wrong password {i}") for i in range(20, 30)),
                _sign_in(api, PASSWORD),
                *(_sign_in(api, f"wrong password {i}") for i in range(30, 40)),
            )
    finally:
        checks.release.set()
    held = await asyncio.gather(*first)

    right = second[10]
    assert right.user_error_codes("signIn") == ["RATE_LIMITED"]
    assert right.payload("signIn")["user"] is None
    assert "set-cookie" not in right.http.headers
    assert checks.count == 5
    assert _codes(list(held), "signIn").count("INVALID_CREDENTIALS") == 5
    assert await _count(db, Session) == 0


async def test_a_right_password_does_not_count_as_a_failure(
    api: Api, db: Database, settings: Settings, checks: PasswordChecks
) -> None:
    await _user(db, settings)
    for i in range(4):
        await _sign_in(api, f"wrong password {i}")

    signed_in = await _sign_in(api, PASSWORD)
    fifth_failure = await _sign_in(api, "wrong password 5")
    locked = await _sign_in(api, PASSWORD)

    assert signed_in.payload("signIn")["user"] == {"email": EMAIL}
    assert fifth_failure.user_error_codes("signIn") == ["INVALID_CREDENTIALS"]
    assert locked.user_error_codes("signIn") == ["RATE_LIMITED"]
    assert checks.count == 6


async def test_parallel_right_passwords_never_open_the_way_for_more_guesses(
    api: Api, db: Database, settings: Settings, checks: PasswordChecks
) -> None:
    await _user(db, settings)

    responses = await asyncio.gather(
        *(_sign_in(api, PASSWORD if i % 2 else f"wrong password {i}") for i in range(40))
    )

    wrong_checked = sum(
        1
        for i, r in enumerate(responses)
        if not i % 2 and r.user_error_codes("signIn") == ["INVALID_CREDENTIALS"]
    )
    signed_in = [r for r in responses if r.user_error_codes("signIn") == []]
    assert wrong_checked <= 5
    assert checks.count == wrong_checked + len(signed_in)
    assert await _count(db, Session) == len(signed_in)


async def test_the_limits_are_settings(
    client_for: Callable[..., Api], db: Database, settings: Settings
) -> None:
    await _user(db, settings)
    api = client_for(sign_in_failures=2, password_resets_per_hour=1)

    codes = [(await _sign_in(api, "wrong password")).user_error_codes("signIn") for _ in range(3)]
    resets = [(await api(RESET, {"email": EMAIL})).user_error_codes("requestPasswordReset") for _ in range(2)]

    assert codes == [["INVALID_CREDENTIALS"], ["INVALID_CREDENTIALS"], ["RATE_LIMITED"]]
    assert resets == [[], ["RATE_LIMITED"]]


async def test_a_long_email_is_throttled_and_can_reset_its_password(
    api: Api, db: Database, settings: Settings, checks: PasswordChecks
) -> None:
    assert normalise_email(LONG_EMAIL) == LONG_EMAIL
    assert len(LONG_EMAIL) == 239
    await _user(db, settings, LONG_EMAIL)

    failures = [await _sign_in(api, f"wrong password {i}", LONG_EMAIL) for i in range(5)]
    locked = await _sign_in(api, PASSWORD, LONG_EMAIL)
    reset = await api(RESET, {"email": LONG_EMAIL})

    assert _codes(failures, "signIn") == ["INVALID_CREDENTIALS"] * 5
    assert locked.user_error_codes("signIn") == ["RATE_LIMITED"]
    assert checks.count == 5
    assert reset.payload("requestPasswordReset") == {"ok": True, "userErrors": []}
    assert await _count(db, OutboxEmail, OutboxEmail.to_address == LONG_EMAIL) == 1


async def test_parallel_sign_ins_with_a_long_email_get_at_most_five_checks(
    api: Api, db: Database, settings: Settings, checks: PasswordChecks
) -> None:
    responses = await asyncio.gather(*(_sign_in(api, "wrong password", LONG_EMAIL) for _ in range(40)))

    assert checks.count <= 5
    assert _codes(list(responses), "signIn").count("RATE_LIMITED") == 40 - checks.count


def _sign_up_input(index: int) -> dict[str, Any]:
    return {
        "input": {
            "email": f"user{index}@example.com",
            "name": "User",
            "password": PASSWORD,
            "accountName": "Account",
            "billingProfile": BILLING,
        }
    }


async def test_sign_ups_through_a_proxy_with_a_long_forwarded_address_are_limited(
    client_for: Callable[..., Api], db: Database
) -> None:
    api = client_for(sign_ups_per_hour=3)

    responses = await asyncio.gather(
        *(api.new()(SIGN_UP, _sign_up_input(i), x_forwarded_for=LONG_FORWARDED_FOR) for i in range(12))
    )
    elsewhere = await api.new()(SIGN_UP, _sign_up_input(99), x_forwarded_for="203.0.113.7")

    codes = _codes(list(responses), "signUp")
    assert sorted(codes) == ["OK"] * 3 + ["RATE_LIMITED"] * 9
    assert elsewhere.user_error_codes("signUp") == []
    assert await _count(db, User) == 4


async def test_parallel_invitation_previews_respect_their_limit(
    client_for: Callable[..., Api], db: Database
) -> None:
    api = client_for(invitation_previews_per_hour=5)

    responses = await asyncio.gather(
        *(api.new()(PREVIEW, {"t": "unknown"}, x_forwarded_for=LONG_FORWARDED_FOR) for _ in range(20))
    )
    elsewhere = await api.new()(PREVIEW, {"t": "unknown"}, x_forwarded_for="203.0.113.7")

    limited = [r for r in responses if r.codes == ["RATE_LIMITED"]]
    answered = [r for r in responses if not r.errors]
    assert (len(answered), len(limited)) == (5, 15)
    assert all(r.data == {"invitation": None} for r in responses)
    assert (elsewhere.errors, elsewhere.data) == ([], {"invitation": None})
    assert await _count(db, Invitation) == 0


async def test_parallel_reset_requests_send_at_most_the_limit(
    api: Api, db: Database, settings: Settings
) -> None:
    await _user(db, settings)

    responses = await asyncio.gather(*(api.new()(RESET, {"email": EMAIL}) for _ in range(20)))

    codes = _codes(list(responses), "requestPasswordReset")
    assert sorted(codes) == ["OK"] * 5 + ["RATE_LIMITED"] * 15
    assert await _count(db, OutboxEmail, OutboxEmail.template == "password_reset") == 5

"""Two-factor sign-in (DESIGN rule 17): turning it on and off, the second sign-in step, recovery
codes, throttled codes, and secrets encrypted at rest."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pyotp
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select, update

from clientarea.app import create_app
from models import AuditEvent, OutboxEmail
from models.base import utcnow
from models.database import Database
from models.two_factor import TwoFactorChallenge, TwoFactorCredential
from models.users import User
from resolvers.core.credentials import hash_password
from resolvers.core.settings import Settings
from resolvers.two_factor.two_factor import decrypt_secret, reencrypt_secrets
from tests.conftest import make_settings
from tests.factories import (
    TwoFactorDevice,
    create_account,
    create_user,
    enable_two_factor,
    require_two_factor,
    session_for,
)
from tests.graphql import Api

PASSWORD = "a long enough passphrase"
SIGN_IN = """
mutation SignIn($email: String!, $password: String!) {
  signIn(input: { email: $email, password: $password }) {
    user { email } twoFactorChallenge userErrors { field code }
  }
}
"""
COMPLETE = """
mutation Complete($challenge: String!, $code: String!) {
  completeSignIn(input: { twoFactorChallenge: $challenge, code: $code }) {
    user { email } userErrors { field code }
  }
}
"""
BEGIN = """
mutation Begin($password: String!) {
  beginTwoFactorSetup(input: { password: $password }) { secret otpauthUri userErrors { field code } }
}
"""
CONFIRM = """
mutation Confirm($code: String!) {
  confirmTwoFactor(input: { code: $code }) { recoveryCodes userErrors { field code } }
}
"""
DISABLE = """
mutation Disable($password: String!, $code: String!) {
  disableTwoFactor(input: { password: $password, code: $code }) { ok userErrors { field code } }
}
"""
VIEWER = "{ viewer { user { email } twoFactorEnabled } }"


async def _user(db: Database, settings: Settings, email: str = "erika@example.com") -> User:
    return await create_user(db, email=email, password_hash=await hash_password(settings, PASSWORD))


async def _browser(api: Api, db: Database, settings: Settings, user: User) -> Api:
    browser = api.new()
    browser.set_session(await session_for(db, settings, user))
    return browser


async def _challenge(api: Api, email: str = "erika@example.com") -> str:
    response = await api(SIGN_IN, {"email": email, "password": PASSWORD})
    payload = response.payload("signIn")
    assert payload["user"] is None
    assert payload["userErrors"] == []
    challenge: str = payload["twoFactorChallenge"]
    return challenge


async def _count(db: Database, action: str) -> int:
    async with db.read() as session:
        found = await session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
        )
    return found or 0


async def _emails(db: Database, template: str) -> list[OutboxEmail]:
    async with db.read() as session:
        return list(await session.scalars(select(OutboxEmail).where(OutboxEmail.template == template)))


# --- turning it on ------------------------------------------------------------------------


async def test_setup_gives_a_secret_and_an_otpauth_uri_and_changes_nothing_yet(
    api: Api, db: Database, settings: Settings
) -> None:
    user = await _user(db, settings)
    browser = await _browser(api, db, settings, user)

    begun = (await browser(BEGIN, {"password": PASSWORD})).payload("beginTwoFactorSetup")

    uri = urlsplit(begun["otpauthUri"])
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
    assert parse_qs(uri.query)["secret"] == [begun["secret"]]
    assert "erika%40example.com" in uri.path or "erika@example.com" in uri.path
    assert (await browser(VIEWER)).data["viewer"]["twoFactorEnabled"] is False
    signed_in = await api.new()(SIGN_IN, {"email": user.email, "password": PASSWORD})
    assert signed_in.payload("signIn")["twoFactorChallenge"] is None
    async with db.read() as session:
        stored = await session.get_one(TwoFactorCredential, user.id)
    assert begun["secret"] not in stored.secret_encrypted
    assert decrypt_secret(settings, stored.secret_encrypted) == begun["secret"]


async def test_setup_needs_the_password(api: Api, db: Database, settings: Settings) -> None:
    user = await _user(db, settings)
    browser = await _browser(api, db, settings, user)

    response = await browser(BEGIN, {"password": "not the password"})

    assert response.payload("beginTwoFactorSetup")["userErrors"] == [
        {"field": ["input", "password"], "code": "INVALID_CREDENTIALS"}
    ]
    assert response.payload("beginTwoFactorSetup")["secret"] is None


async def test_a_confirmed_setup_turns_it_on_with_ten_recovery_codes_and_an_email(
    api: Api, db: Database, settings: Settings
) -> None:
    user = await _user(db, settings)
    browser = await _browser(api, db, settings, user)
    secret = (await browser(BEGIN, {"password": PASSWORD})).payload("beginTwoFactorSetup")["secret"]
    wrong = await browser(CONFIRM, {"code": "000000" if pyotp.TOTP(secret).now() != "000000" else "111111"})
    assert wrong.payload("confirmTwoFactor")["userErrors"] == [
        {"field": ["input", "code"], "code": "INVALID_CREDENTIALS"}
    ]

    confirmed = (await browser(CONFIRM, {"code": pyotp.TOTP(secret).now()})).payload("confirmTwoFactor")

    codes = confirmed["recoveryCodes"]
    assert len(set(codes)) == 10
    assert (await browser(VIEWER)).data["viewer"]["twoFactorEnabled"] is True
    assert await _count(db, "user.two_factor_enabled") == 1
    [email] = await _emails(db, "two_factor_enabled")
    assert email.to_address == "erika@example.com"
    again = await browser(CONFIRM, {"code": pyotp.TOTP(secret).now()})
    assert again.user_error_codes("confirmTwoFactor") == ["INVALID"]


async def test_the_code_that_confirmed_the_setup_does_not_sign_in(
    api: Api, db: Database, settings: Settings
) -> None:
    user = await _user(db, settings)
    browser = await _browser(api, db, settings, user)
    secret = (await browser(BEGIN, {"password": PASSWORD})).payload("beginTwoFactorSetup")["secret"]
    device = TwoFactorDevice(secret, [])
    step = device.step()
    # The latest code the window takes: every code the window takes afterwards is this or older.
    confirmed = await browser(CONFIRM, {"code": device.code(1, step=step)})
    assert confirmed.user_error_codes("confirmTwoFactor") == []
    stranger = api.new()

    # The same three codes even if a step ends meanwhile (the window then takes step + 2, a code
    # this test does not send).
    for offset in (1, 0, -1):
        response = await stranger(
            COMPLETE, {"challenge": await _challenge(stranger), "code": device.code(offset, step=step)}
        )
        assert response.user_error_codes("completeSignIn") == ["INVALID_CREDENTIALS"]


async def test_an_api_token_never_changes_two_factor(api: Api, db: Database, settings: Settings) -> None:
    user = await _user(db, settings)
    browser = await _browser(api, db, settings, user)
    minted = await browser('mutation { createApiToken(input: {name: "ci"}) { token userErrors { code } } }')
    token = api.with_token(minted.payload("createApiToken")["token"])

    begun = await token(BEGIN, {"password": PASSWORD})
    confirmed = await token(CONFIRM, {"code": "123456"})
    disabled = await token(DISABLE, {"password": PASSWORD, "code": "123456"})

    assert begun.user_error_codes("beginTwoFactorSetup") == ["FORBIDDEN"]
    assert confirmed.user_error_codes("confirmTwoFactor") == ["FORBIDDEN"]
    assert disabled.user_error_codes("disableTwoFactor") == ["FORBIDDEN"]
    async with db.read() as session:
        assert await session.get(TwoFactorCredential, user.id) is None


async def test_anonymous_callers_cannot_set_it_up(api: Api) -> None:
    response = await api(BEGIN, {"password": PASSWORD})

    assert response.codes == ["UNAUTHENTICATED"]


# --- signing in ---------------------------------------------------------------------------


async def test_sign_in_answers_a_challenge_and_no_session_until_a_code(
    api: Api, db: Database, settings: Settings
) -> None:
    user = await _user(db, settings)
    device = await enable_two_factor(db, settings, user)

    response = await api(SIGN_IN, {"email": user.email, "password": PASSWORD})

    assert response.payload("signIn")["twoFactorChallenge"]
    assert response.payload("signIn")["user"] is None
    assert "set-cookie" not in response.http.headers
    assert (await api(VIEWER)).data["viewer"] is None

    completed = await api(
        COMPLETE, {"challenge": response.payload("signIn")["twoFactorChallenge"], "code": device.code()}
    )

    assert completed.payload("completeSignIn") == {"user": {"email": user.email}, "userErrors": []}
    assert "set-cookie" in completed.http.headers
    assert (await api(VIEWER)).data["viewer"] == {"user": {"email": user.email}, "twoFactorEnabled": True}


async def test_a_code_is_never_accepted_twice(api: Api, db: Database, settings: Settings) -> None:
    user = await _user(db, settings)
    device = await enable_two_factor(db, settings, user)
    code = device.code()
    await api.new()(COMPLETE, {"challenge": await _challenge(api.new()), "code": code})
    later = api.new()

    response = await later(COMPLETE, {"challenge": await _challenge(later), "code": code})

    assert response.user_error_codes("completeSignIn") == ["INVALID_CREDENTIALS"]
    # Nor an earlier one: only codes after the last one used count.
    earlier = await later(COMPLETE, {"challenge": await _challenge(later), "code": device.code(-1)})
    assert earlier.user_error_codes("completeSignIn") == ["INVALID_CREDENTIALS"]


async def test_one_code_sent_twice_at_once_signs_in_once(api: Api, db: Database, settings: Settings) -> None:
    user = await _user(db, settings)
    device = await enable_two_factor(db, settings, user)
    browsers = [api.new() for _ in range(4)]
    challenges = [await _challenge(b) for b in browsers]
    code = device.code()

    responses = await asyncio.gather(
        *(b(COMPLETE, {"challenge": c, "code": code}) for b, c in zip(browsers, challenges, strict=True))
    )

    outcomes = sorted(str(r.user_error_codes("completeSignIn")) for r in responses)
    assert outcomes == ["['INVALID_CREDENTIALS']"] * 3 + ["[]"]


async def test_a_challenge_is_single_use_and_expires(api: Api, db: Database, settings: Settings) -> None:
    user = await _user(db, settings)
    device = await enable_two_factor(db, settings, user)
    challenge = await _challenge(api)
    assert (await api(COMPLETE, {"challenge": challenge, "code": device.code(-1)})).user_error_codes(
        "completeSignIn"
    ) == []

    reused = await api.new()(COMPLETE, {"challenge": challenge, "code": device.code(0)})

    assert reused.payload("completeSignIn")["userErrors"] == [
        {"field": ["input", "twoFactorChallenge"], "code": "TOKEN_INVALID"}
    ]
    stale = await _challenge(api.new())
    async with db.begin() as session:
        await session.execute(update(TwoFactorChallenge).values(expires_at=utcnow() - timedelta(seconds=1)))
    expired = await api.new()(COMPLETE, {"challenge": stale, "code": device.code(1)})
    assert expired.user_error_codes("completeSignIn") == ["TOKEN_INVALID"]


async def test_a_challenge_is_bound_to_its_user(api: Api, db: Database, settings: Settings) -> None:
    erika = await _user(db, settings)
    await enable_two_factor(db, settings, erika)
    max_ = await _user(db, settings, "max@example.com")
    max_device = await enable_two_factor(db, settings, max_)

    response = await api(COMPLETE, {"challenge": await _challenge(api), "code": max_device.code()})

    assert response.user_error_codes("completeSignIn") == ["INVALID_CREDENTIALS"]
    assert (await api(VIEWER)).data["viewer"] is None


async def test_a_recovery_code_works_once_and_the_user_is_told(
    api: Api, db: Database, settings: Settings
) -> None:
    user = await _user(db, settings)
    device = await enable_two_factor(db, settings, user)
    typed = device.recovery_codes[3].upper().replace("-", " ")

    first = await api(COMPLETE, {"challenge": await _challenge(api), "code": typed})
    second = await api.new()(
        COMPLETE, {"challenge": await _challenge(api.new()), "code": device.recovery_codes[3]}
    )

    assert first.user_error_codes("completeSignIn") == []
    assert second.user_error_codes("completeSignIn") == ["INVALID_CREDENTIALS"]
    [email] = await _emails(db, "two_factor_recovery_code_used")
    assert "9" in email.text_body
    assert await _count(db, "user.recovery_code_used") == 1


async def test_malformed_codes_and_challenges_are_refused_plainly(
    api: Api, db: Database, settings: Settings
) -> None:
    user = await _user(db, settings)
    await enable_two_factor(db, settings, user)
    challenge = await _challenge(api)

    for code in ("12345", "\uff11\uff12\uff13\uff14\uff15\uff16", ""):
        response = await api(COMPLETE, {"challenge": challenge, "code": code})
        assert response.payload("completeSignIn")["userErrors"] == [
            {"field": ["input", "code"], "code": "INVALID"}
        ]
    for bad in ("",):
        response = await api(COMPLETE, {"challenge": bad, "code": "123456"})
        assert response.user_error_codes("completeSignIn") == ["TOKEN_INVALID"]
    # NUL characters and oversized strings are refused before anything runs (schema/core/input_limits.py).
    for variables in (
        {"challenge": challenge, "code": "12345\x00"},
        {"challenge": challenge, "code": "x" * 60_000},
        {"challenge": "\x00", "code": "123456"},
        {"challenge": "y" * 60_000, "code": "123456"},
    ):
        response = await api(COMPLETE, variables)
        assert [e["extensions"]["code"] for e in response.errors] == ["BAD_USER_INPUT"]
        assert response.data is None


async def test_reset_password_with_two_factor_answers_a_challenge(
    api: Api, db: Database, settings: Settings
) -> None:
    user = await _user(db, settings)
    device = await enable_two_factor(db, settings, user)
    await api('mutation { requestPasswordReset(input: {email: "erika@example.com"}) { ok } }')
    async with db.read() as session:
        body = await session.scalar(
            select(OutboxEmail.text_body).where(OutboxEmail.template == "password_reset")
        )
    token = (body or "").split("token=")[1].split()[0]

    reset = await api(
        'mutation($t: String!) { resetPassword(input: {token: $t, password: "a new long passphrase"}) '
        "{ user { email } twoFactorChallenge userErrors { code } } }",
        {"t": token},
    )

    payload = reset.payload("resetPassword")
    assert payload["user"] is None
    assert payload["twoFactorChallenge"]
    assert (await api(VIEWER)).data["viewer"] is None
    completed = await api(COMPLETE, {"challenge": payload["twoFactorChallenge"], "code": device.code()})
    assert completed.payload("completeSignIn")["user"] == {"email": user.email}


# --- throttling ---------------------------------------------------------------------------


async def test_after_five_wrong_codes_even_the_right_one_is_refused(
    api: Api, db: Database, settings: Settings
) -> None:
    user = await _user(db, settings)
    device = await enable_two_factor(db, settings, user)
    challenge = await _challenge(api)
    wrong = "000000" if device.code() != "000000" else "111111"
    for _ in range(5):
        response = await api(COMPLETE, {"challenge": challenge, "code": wrong})
        assert response.user_error_codes("completeSignIn") == ["INVALID_CREDENTIALS"]

    response = await api(COMPLETE, {"challenge": challenge, "code": device.code()})

    assert response.user_error_codes("completeSignIn") == ["RATE_LIMITED"]
    assert (await api(VIEWER)).data["viewer"] is None
    assert await _count(db, "user.two_factor_failed") == 6


async def test_parallel_guesses_get_no_more_checks_than_the_limit(
    api: Api, db: Database, settings: Settings
) -> None:
    user = await _user(db, settings)
    device = await enable_two_factor(db, settings, user)
    challenge = await _challenge(api)
    guesses = [f"{n:06d}" for n in range(20) if f"{n:06d}" not in {device.code(o) for o in (-1, 0, 1)}][:12]

    responses = await asyncio.gather(
        *(api.new()(COMPLETE, {"challenge": challenge, "code": g}) for g in guesses)
    )

    codes = [r.user_error_codes("completeSignIn") for r in responses]
    assert codes.count(["INVALID_CREDENTIALS"]) == 5
    assert codes.count(["RATE_LIMITED"]) == 7


async def test_right_codes_do_not_use_up_the_allowance(api: Api, db: Database, settings: Settings) -> None:
    user = await _user(db, settings)
    device = await enable_two_factor(db, settings, user)

    for offset in (-1, 0, 1):
        browser = api.new()
        response = await browser(
            COMPLETE, {"challenge": await _challenge(browser), "code": device.code(offset)}
        )
        assert response.user_error_codes("completeSignIn") == []
    for code in device.recovery_codes[:4]:
        browser = api.new()
        response = await browser(COMPLETE, {"challenge": await _challenge(browser), "code": code})
        assert response.user_error_codes("completeSignIn") == []


# --- turning it off -----------------------------------------------------------------------


async def test_disabling_needs_the_password_and_a_code(api: Api, db: Database, settings: Settings) -> None:
    user = await _user(db, settings)
    device = await enable_two_factor(db, settings, user)
    browser = await _browser(api, db, settings, user)

    no_password = await browser(DISABLE, {"password": "wrong", "code": device.code()})
    no_code = await browser(
        DISABLE, {"password": PASSWORD, "code": "000000" if device.code() != "000000" else "111111"}
    )
    disabled = await browser(DISABLE, {"password": PASSWORD, "code": device.recovery_codes[0]})

    assert no_password.user_error_codes("disableTwoFactor") == ["INVALID_CREDENTIALS"]
    assert no_code.user_error_codes("disableTwoFactor") == ["INVALID_CREDENTIALS"]
    assert disabled.payload("disableTwoFactor") == {"ok": True, "userErrors": []}
    assert (await browser(VIEWER)).data["viewer"]["twoFactorEnabled"] is False
    assert len(await _emails(db, "two_factor_disabled")) == 1
    signed_in = await api.new()(SIGN_IN, {"email": user.email, "password": PASSWORD})
    assert signed_in.payload("signIn")["user"] == {"email": user.email}


async def test_an_owner_who_requires_it_cannot_turn_it_off(
    api: Api, db: Database, settings: Settings
) -> None:
    user = await _user(db, settings)
    device = await enable_two_factor(db, settings, user)
    account = await create_account(db, owner=user, name="Muster GmbH")
    await require_two_factor(db, account)
    browser = await _browser(api, db, settings, user)

    response = await browser(DISABLE, {"password": PASSWORD, "code": device.code()})

    assert response.user_error_codes("disableTwoFactor") == ["INVALID"]
    assert (await browser(VIEWER)).data["viewer"]["twoFactorEnabled"] is True


# --- secrets at rest ----------------------------------------------------------------------


async def test_secrets_survive_a_key_rotation_and_move_to_the_new_key(
    api: Api, db: Database, settings: Settings
) -> None:
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    before = make_settings(settings.database_url, two_factor_keys=[old_key])
    user = await _user(db, settings)
    device: TwoFactorDevice = await enable_two_factor(db, before, user)
    rotated = make_settings(settings.database_url, two_factor_keys=[new_key, old_key])
    transport = httpx.ASGITransport(app=create_app(rotated, db))

    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        browser = Api(lambda: client, db)
        done = await browser(COMPLETE, {"challenge": await _challenge(browser), "code": device.code()})

    assert done.user_error_codes("completeSignIn") == []
    async with db.read() as session:
        stored = await session.get_one(TwoFactorCredential, user.id)
    only_new = make_settings(settings.database_url, two_factor_keys=[new_key])
    assert decrypt_secret(only_new, stored.secret_encrypted) == device.secret


async def test_rotate_keys_moves_every_secret_to_the_first_key(db: Database, settings: Settings) -> None:
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    before = make_settings(settings.database_url, two_factor_keys=[old_key])
    devices = {}
    for email in ("a@example.com", "b@example.com", "c@example.com"):
        user = await _user(db, settings, email)
        devices[user.id] = await enable_two_factor(db, before, user)
    rotated = make_settings(settings.database_url, two_factor_keys=[new_key, old_key])

    moved = await reencrypt_secrets(db, rotated, batch=2)
    again = await reencrypt_secrets(db, rotated, batch=2)

    assert (moved, again) == (3, 3)
    only_new = make_settings(settings.database_url, two_factor_keys=[new_key])
    async with db.read() as session:
        for row in await session.scalars(select(TwoFactorCredential)):
            assert decrypt_secret(only_new, row.secret_encrypted) == devices[row.user_id].secret
    assert await _count(db, "two_factor.keys_rotated") == 4


def test_production_needs_its_own_two_factor_keys() -> None:
    with pytest.raises(ValueError, match="CLIENTAREA_TWO_FACTOR_KEYS must be set"):
        Settings(env="production", secret_key="k" * 40, sso_signing_key="s" * 40, sso_panel_secret="p" * 40)
    with pytest.raises(ValueError, match="not a Fernet key") as refused:
        Settings(two_factor_keys=["not-a-key"])
    assert "not-a-key" not in str(refused.value)


async def test_rotate_keys_from_the_command_line(db: Database, settings: Settings) -> None:
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    user = await _user(db, settings)
    device = await enable_two_factor(
        db, make_settings(settings.database_url, two_factor_keys=[old_key]), user
    )
    env = {
        **os.environ,
        "CLIENTAREA_DATABASE_URL": settings.database_url,
        "CLIENTAREA_ENV": "test",
        "CLIENTAREA_TWO_FACTOR_KEYS": json.dumps([new_key, old_key]),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "clientarea.cli",
        "two-factor",
        "rotate-keys",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)

    assert (process.returncode, out.decode(), err.decode()) == (
        0,
        "re-encrypted 1 two-factor secret(s) with the first key\n",
        "",
    )
    async with db.read() as session:
        stored = await session.get_one(TwoFactorCredential, user.id)
    only_new = make_settings(settings.database_url, two_factor_keys=[new_key])
    assert decrypt_secret(only_new, stored.secret_encrypted) == device.secret

"""Email verification (DESIGN rule 13): the link sent at sign-up and on request, using it once,
the links that verify as well, and what waits for a proven address."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

from sqlalchemy import func, select, update

from models import Membership, OutboxEmail, User
from models.base import utcnow
from models.database import Database
from models.email_verification import EmailVerificationToken
from models.permissions import Permission
from resolvers.core.ids import encode_id
from resolvers.core.settings import Settings
from tests.factories import BILLING, add_member, create_account, create_user, session_for
from tests.graphql import Api

PASSWORD = "a long enough passphrase"
SIGN_UP = """
mutation SignUp($input: SignUpInput!) { signUp(input: $input) { user { id } userErrors { code } } }
"""
VERIFY = """
mutation Verify($token: String!) {
  verifyEmail(input: { token: $token }) { user { email } userErrors { field message code } }
}
"""
REQUEST = "mutation { requestEmailVerification { ok userErrors { code } } }"
VERIFIED = "{ viewer { emailVerified } }"
MINT = """
mutation { createApiToken(input: { name: "partner" }) { token userErrors { code } } }
"""
ON_BEHALF = """
mutation OnBehalf($input: CreateClientAccountOnBehalfInput!) {
  createClientAccountOnBehalf(input: $input) { account { id } userErrors { code } }
}
"""
CREATE_ACCOUNT = """
mutation Create($input: CreateClientAccountInput!) {
  createClientAccount(input: $input) { account { id } userErrors { code } }
}
"""
ACCEPT = """
mutation Accept($token: String) {
  acceptInvitation(input: { token: $token }) { membership { id } userErrors { code } }
}
"""
INVITE = """
mutation Invite($account: ID!, $email: String!) {
  inviteUser(input: { accountId: $account, email: $email, permissions: [VIEW_SERVICES] }) {
    invitation { id } userErrors { code }
  }
}
"""


async def _sign_up(api: Api, email: str, country: str = "AT") -> Api:
    browser = api.new()
    response = await browser(
        SIGN_UP,
        {
            "input": {
                "email": email,
                "name": "Erika Muster",
                "password": PASSWORD,
                "accountName": "Muster GmbH",
                "billingProfile": {**BILLING, "address": {**BILLING["address"], "countryCode": country}},  # type: ignore[dict-item]
            }
        },
    )
    assert response.user_error_codes("signUp") == []
    return browser


async def _mails(db: Database, to: str) -> list[OutboxEmail]:
    async with db.read() as session:
        return list(
            await session.scalars(
                select(OutboxEmail)
                .where(OutboxEmail.to_address == to, OutboxEmail.template == "email_verification")
                .order_by(OutboxEmail.id)
            )
        )


def _token(mail: OutboxEmail) -> str:
    match = re.search(r"/email/verify\?token=([A-Za-z0-9_-]+)", mail.text_body)
    assert match, mail.text_body
    return match.group(1)


async def _unverified(api: Api, db: Database, settings: Settings) -> tuple[User, Api]:
    user = await create_user(db, email="new@example.com", verified=False)
    await create_account(db, owner=user)
    browser = api.new()
    browser.set_session(await session_for(db, settings, user))
    return user, browser


async def test_sign_up_emails_a_link_in_the_accounts_language_and_stores_only_its_hash(
    api: Api, db: Database, settings: Settings
) -> None:
    await _sign_up(api, "erika@muster.example", country="AT")
    await _sign_up(api, "john@example.com", country="GB")

    [german] = await _mails(db, "erika@muster.example")
    [english] = await _mails(db, "john@example.com")

    assert german.subject == "Bestätigen Sie Ihre E-Mail-Adresse"
    assert english.subject == "Confirm your email address"
    assert f'href="{settings.public_url}/email/verify?token=' in english.html_body
    async with db.read() as session:
        stored = list(await session.scalars(select(EmailVerificationToken)))
    assert len(stored) == 2
    for row in stored:
        assert timedelta(days=7, seconds=-5) < row.expires_at - row.created_at < timedelta(days=7, seconds=5)
    secret = _token(german)
    assert all(secret.encode() not in row.token_hash for row in stored)


async def test_the_link_verifies_once_signed_in_or_not(api: Api, db: Database, settings: Settings) -> None:
    browser = await _sign_up(api, "erika@muster.example")
    assert (await browser(VERIFIED)).data["viewer"]["emailVerified"] is False
    token = _token((await _mails(db, "erika@muster.example"))[0])

    first = await api.new()(VERIFY, {"token": token})
    again = await browser(VERIFY, {"token": token})

    assert first.payload("verifyEmail") == {"user": {"email": "erika@muster.example"}, "userErrors": []}
    assert again.user_error_codes("verifyEmail") == ["TOKEN_INVALID"]
    assert again.payload("verifyEmail")["user"] is None
    assert (await browser(VERIFIED)).data["viewer"]["emailVerified"] is True


async def test_parallel_uses_of_one_link_verify_once(api: Api, db: Database, settings: Settings) -> None:
    await _sign_up(api, "erika@muster.example")
    token = _token((await _mails(db, "erika@muster.example"))[0])

    responses = await asyncio.gather(*(api.new()(VERIFY, {"token": token}) for _ in range(8)))

    codes = sorted(str(r.user_error_codes("verifyEmail")) for r in responses)
    assert codes == ["['TOKEN_INVALID']"] * 7 + ["[]"]


async def test_expired_unknown_huge_and_nul_tokens_are_invalid(
    api: Api, db: Database, settings: Settings
) -> None:
    browser = await _sign_up(api, "erika@muster.example")
    token = _token((await _mails(db, "erika@muster.example"))[0])
    async with db.begin() as session:
        await session.execute(
            update(EmailVerificationToken).values(expires_at=utcnow() - timedelta(seconds=1))
        )

    for candidate in (token, "nope"):
        response = await api.new()(VERIFY, {"token": candidate})
        assert response.errors == []
        assert response.user_error_codes("verifyEmail") == ["TOKEN_INVALID"]
    # NUL characters and oversized strings are refused before anything runs (schema/core/input_limits.py).
    for candidate in ("x" * 60_000, "a\x00b"):
        response = await api.new()(VERIFY, {"token": candidate})
        assert [e["extensions"]["code"] for e in response.errors] == ["BAD_USER_INPUT"]
    assert (await browser(VERIFIED)).data["viewer"]["emailVerified"] is False


async def test_a_link_proves_only_the_address_it_was_sent_to(
    api: Api, db: Database, settings: Settings
) -> None:
    browser = await _sign_up(api, "erika@muster.example")
    token = _token((await _mails(db, "erika@muster.example"))[0])
    async with db.begin() as session:
        await session.execute(update(User).values(email="erika.new@muster.example"))

    response = await api.new()(VERIFY, {"token": token})

    assert response.user_error_codes("verifyEmail") == ["TOKEN_INVALID"]
    assert (await browser(VERIFIED)).data["viewer"]["emailVerified"] is False


async def test_a_new_link_on_request_rate_limited(api: Api, db: Database, settings: Settings) -> None:
    _, browser = await _unverified(api, db, settings)

    answers = [await browser(REQUEST) for _ in range(settings.email_verifications_per_hour + 1)]

    assert [a.payload("requestEmailVerification")["ok"] for a in answers[:-1]] == [True] * 5
    assert answers[-1].user_error_codes("requestEmailVerification") == ["RATE_LIMITED"]
    assert len(await _mails(db, "new@example.com")) == settings.email_verifications_per_hour


async def test_a_verified_user_asking_again_gets_the_same_answer_and_no_mail(
    api: Api, db: Database, settings: Settings
) -> None:
    user = await create_user(db, email="done@example.com")
    browser = api.new()
    browser.set_session(await session_for(db, settings, user))

    response = await browser(REQUEST)

    assert response.payload("requestEmailVerification") == {"ok": True, "userErrors": []}
    assert await _mails(db, "done@example.com") == []


async def test_anonymous_callers_cannot_ask_for_a_link(api: Api) -> None:
    response = await api.new()(REQUEST)

    assert response.codes == ["UNAUTHENTICATED"]


async def test_until_verified_no_tokens_and_no_accounts_on_behalf_but_an_own_account(
    api: Api, db: Database, settings: Settings
) -> None:
    _, browser = await _unverified(api, db, settings)

    minted = await browser(MINT)
    on_behalf = await browser(
        ON_BEHALF,
        {
            "input": {
                "owner": {"email": "customer@example.com", "name": "Customer"},
                "name": "Customer KG",
                "billingProfile": BILLING,
                "permissions": [],
                "powerOfAttorney": True,
            }
        },
    )
    own = await browser(CREATE_ACCOUNT, {"input": {"name": "Second GmbH", "billingProfile": BILLING}})

    assert minted.user_error_codes("createApiToken") == ["EMAIL_NOT_VERIFIED"]
    assert on_behalf.user_error_codes("createClientAccountOnBehalf") == ["EMAIL_NOT_VERIFIED"]
    assert own.payload("createClientAccount")["userErrors"] == []
    async with db.read() as session:
        assert await session.scalar(select(User.id).where(User.email == "customer@example.com")) is None


async def test_accepting_by_the_invitation_link_verifies(api: Api, db: Database, settings: Settings) -> None:
    user, browser = await _unverified(api, db, settings)
    owner = await create_user(db)
    account = await create_account(db, owner=owner)
    inviting = api.new()
    inviting.set_session(await session_for(db, settings, owner))
    await inviting(INVITE, {"account": encode_id("ClientAccount", account.id), "email": user.email})
    async with db.read() as session:
        body = await session.scalar(select(OutboxEmail.text_body).where(OutboxEmail.template == "invitation"))
    match = re.search(r"/invitations/accept\?token=([A-Za-z0-9_-]+)", body or "")
    assert match

    accepted = await browser(ACCEPT, {"token": match.group(1)})

    assert accepted.payload("acceptInvitation")["userErrors"] == []
    assert (await browser(VERIFIED)).data["viewer"]["emailVerified"] is True


async def test_an_unverified_member_keeps_what_they_hold(api: Api, db: Database, settings: Settings) -> None:
    """Only new reach waits for the proof: an unverified user acts in the accounts they belong to."""
    user, browser = await _unverified(api, db, settings)
    owner = await create_user(db)
    account = await create_account(db, owner=owner, name="Customer")
    await add_member(
        db, account=account, user=user, permissions=[Permission.MANAGE_USERS, Permission.VIEW_SERVICES]
    )

    response = await browser(
        INVITE, {"account": encode_id("ClientAccount", account.id), "email": "x@example.com"}
    )

    assert response.payload("inviteUser")["userErrors"] == []
    async with db.read() as session:
        members = await session.scalar(
            select(func.count()).select_from(Membership).where(Membership.account_id == account.id)
        )
    assert members == 2

"""Builders that put data straight into the database, for tests that are not about creating it."""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from clientarea.auth import start_session
from clientarea.settings import Settings
from models.accounts import ClientAccount, Membership, MembershipRole
from models.contacts import Contact
from models.database import Database
from models.permissions import ALL_MASK, Permission, to_mask
from models.users import User

_sequence = itertools.count(1)

ADDRESS = {
    "line1": "Stephansplatz 1",
    "city": "Wien",
    "postalCode": "1010",
    "countryCode": "AT",
}
BILLING: dict[str, object] = {
    "firstName": "Erika",
    "lastName": "Muster",
    "companyName": "Muster GmbH",
    "email": "billing@muster.example",
    "phone": "+43.1234567",
    "address": ADDRESS,
    "taxId": None,
}


def unique_email(stem: str = "user") -> str:
    return f"{stem}{next(_sequence)}@example.com"


async def create_user(
    db: Database,
    *,
    email: str | None = None,
    name: str = "Test User",
    password_hash: str | None = None,
) -> User:
    async with db.begin() as session:
        user = User(email=email or unique_email(), name=name, password_hash=password_hash)
        session.add(user)
    return user


async def create_account(
    db: Database, *, owner: User, name: str | None = None, country: str = "AT"
) -> ClientAccount:
    async with db.begin() as session:
        account = ClientAccount(
            name=name or f"Account {next(_sequence)}",
            billing_first_name="Erika",
            billing_last_name="Muster",
            billing_company_name=None,
            billing_email="billing@muster.example",
            billing_phone="+431234567",
            billing_line1="Stephansplatz 1",
            billing_line2=None,
            billing_city="Wien",
            billing_state=None,
            billing_postal_code="1010",
            billing_country_code=country,
            billing_tax_id=None,
        )
        session.add(account)
        await session.flush()
        session.add(
            Contact(
                account_id=account.id,
                is_primary=True,
                first_name=account.billing_first_name,
                last_name=account.billing_last_name,
                company_name=None,
                email=account.billing_email,
                phone=account.billing_phone,
                line1=account.billing_line1,
                line2=None,
                city=account.billing_city,
                state=None,
                postal_code=account.billing_postal_code,
                country_code=country,
            )
        )
        session.add(
            Membership(
                user_id=owner.id,
                account_id=account.id,
                role=MembershipRole.OWNER,
                permissions=ALL_MASK,
            )
        )
    return account


async def add_member(
    db: Database,
    *,
    account: ClientAccount,
    user: User,
    permissions: Iterable[Permission] = (),
    invited_by: User | None = None,
) -> Membership:
    async with db.begin() as session:
        membership = Membership(
            user_id=user.id,
            account_id=account.id,
            role=MembershipRole.USER,
            permissions=to_mask(permissions),
            invited_by_id=invited_by.id if invited_by else None,
        )
        session.add(membership)
    return membership


async def session_for(db: Database, settings: Settings, user: User) -> str:
    """A signed-in session for `user`; returns the cookie value."""
    async with db.begin() as session:
        secret, _ = start_session(session, settings, user.id)
    return secret

"""Builders that put data straight into the database, for tests that are not about creating it."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pyotp
from sqlalchemy import select, update

from models.accounts import ClientAccount, Membership, MembershipRole
from models.base import utcnow
from models.billing import Invoice
from models.catalogue import BillingCycle, Product
from models.contacts import Contact
from models.database import Database
from models.hosting import Domain, DomainStatus, Service, ServiceStatus
from models.permissions import ALL_MASK, Permission, to_mask
from models.tickets import Ticket, TicketMessage, TicketStatus
from models.two_factor import TwoFactorCredential
from models.users import User
from resolvers.billing.pricing import price_lists
from resolvers.core.credentials import start_session
from resolvers.core.settings import Settings
from resolvers.two_factor.two_factor import add_recovery_codes, encrypt_secret

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
    verified: bool = True,
) -> User:
    async with db.begin() as session:
        user = User(
            email=email or unique_email(),
            name=name,
            password_hash=password_hash,
            email_verified_at=utcnow() if verified else None,
        )
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


async def create_service(
    db: Database,
    *,
    account: ClientAccount,
    product_key: str = "webhosting-s",
    billing_cycle: BillingCycle = BillingCycle.MONTHLY,
    status: ServiceStatus = ServiceStatus.ACTIVE,
    specifications: dict[str, str] | None = None,
    recurring_amount: Decimal | None = None,
    next_due_date: date | None = None,
    label: str | None = None,
) -> Service:
    """A service of a product of the shipped catalogue, loaded if needed. Options left out take
    their first choice; the recurring amount is the catalogue's unless given."""
    from clientarea.catalogue import sync_catalogue

    by_key = select(Product).where(Product.key == product_key)
    async with db.read() as session:
        loaded = await session.scalar(by_key)
    if loaded is None:
        await sync_catalogue(db)
    async with db.begin() as session:
        product = await session.scalar(by_key)
        assert product is not None, f"no product {product_key!r} in the catalogue"
        prices = (await price_lists(session, [product.id]))[product.id]
        chosen = prices.complete(specifications or {})
        service = Service(
            account_id=account.id,
            product_id=product.id,
            label=label,
            status=status,
            billing_cycle=billing_cycle,
            recurring_amount=(
                recurring_amount if recurring_amount is not None else prices.amount(billing_cycle, chosen)
            ),
            currency_code=account.currency_code,
            specifications=chosen,
            next_due_date=next_due_date,
        )
        session.add(service)
    return service


async def create_contact(db: Database, *, account: ClientAccount, first_name: str = "Max") -> Contact:
    """A contact of `account` besides its primary one."""
    async with db.begin() as session:
        contact = Contact(
            account_id=account.id,
            first_name=first_name,
            last_name="Kunde",
            company_name="Kunde KG",
            email="max@kunde.example",
            phone="+43123456",
            line1="Ring 1",
            city="Graz",
            postal_code="8010",
            country_code="AT",
        )
        session.add(contact)
    return contact


async def create_domain(
    db: Database,
    *,
    account: ClientAccount,
    name: str | None = None,
    status: DomainStatus = DomainStatus.ACTIVE,
    expires_at: date | None = None,
    nameservers: list[str] | None = None,
) -> Domain:
    """A domain of `account` with its primary contact in every role, of the catalogue's product for
    its TLD (load it first: `await sync_catalogue(db)`); unless pending, it expires in a year unless
    told otherwise."""
    name = name or f"domain{next(_sequence)}.at"
    pending = status in {DomainStatus.PENDING_REGISTRATION, DomainStatus.PENDING_TRANSFER}
    if not pending and expires_at is None:
        expires_at = date.today() + timedelta(days=365)
    async with db.begin() as session:
        product_id = await session.scalar(
            select(Product.id).where(Product.tld == name.rsplit(".", 1)[-1], Product.active.is_(True))
        )
        assert product_id is not None, "load the catalogue first: await sync_catalogue(db)"
        primary = await session.scalar(
            select(Contact.id).where(Contact.account_id == account.id, Contact.is_primary.is_(True))
        )
        assert primary is not None
        domain = Domain(
            account_id=account.id,
            product_id=product_id,
            name=name,
            status=status,
            registered_at=None if expires_at is None else expires_at - timedelta(days=365),
            expires_at=expires_at,
            period_years=1,
            auto_renew=True,
            locked=True,
            nameservers=nameservers if nameservers is not None else ["ns1.example.net", "ns2.example.net"],
            registrant_contact_id=primary,
            admin_contact_id=primary,
            tech_contact_id=primary,
            billing_contact_id=primary,
        )
        session.add(domain)
    return domain


async def create_invoice(
    db: Database, *, account: ClientAccount, placed_by: User, amount: Decimal = Decimal("10.00")
) -> Invoice:
    """An order of one hosting line and its UNPAID invoice, issued as placeOrder issues them."""
    from clientarea.catalogue import sync_catalogue
    from resolvers.billing.issuing import ItemDraft, issue_order

    async with db.read() as session:
        product = await session.scalar(select(Product).where(Product.key == "webhosting-s"))
    if product is None:
        await sync_catalogue(db)
        async with db.read() as session:
            product = await session.scalar(select(Product).where(Product.key == "webhosting-s"))
    assert product is not None
    async with db.begin() as session:
        row = await session.get_one(ClientAccount, account.id)
        issued = await issue_order(
            session,
            account=row,
            placed_by_id=placed_by.id,
            items=[
                ItemDraft(
                    product_id=product.id,
                    billing_cycle=BillingCycle.MONTHLY,
                    description=product.name,
                    amount=amount,
                )
            ],
        )
    return issued.invoice


async def create_ticket(
    db: Database,
    *,
    account: ClientAccount,
    opened_by: User,
    subject: str = "Mail is not delivered",
    service: Service | None = None,
    staff_answer: str | None = None,
) -> Ticket:
    """An OPEN ticket numbered from the real sequence, with the opener's first message; with
    `staff_answer`, a staff message too and the ticket ANSWERED."""
    from resolvers.core.numbers import next_number
    from resolvers.tickets import ticket_number

    async with db.begin() as session:
        ticket = Ticket(
            account_id=account.id,
            number=ticket_number(await next_number(session, "ticket")),
            subject=subject,
            department="Support",
            status=TicketStatus.ANSWERED if staff_answer else TicketStatus.OPEN,
            opened_by_id=opened_by.id,
            service_id=service.id if service else None,
        )
        session.add(ticket)
        await session.flush()
        session.add(TicketMessage(ticket_id=ticket.id, author_id=opened_by.id, body="It stopped working."))
        if staff_answer:
            await session.flush()
            session.add(
                TicketMessage(ticket_id=ticket.id, author_id=None, staff_name="Support", body=staff_answer)
            )
    return ticket


@dataclass(frozen=True)
class TwoFactorDevice:
    """The authenticator app of a user with two-factor sign-in on: its secret and recovery codes."""

    secret: str
    recovery_codes: list[str]

    def step(self) -> int:
        """The time step now."""
        return int(pyotp.TOTP(self.secret).timecode(utcnow()))

    def code(self, offset: int = 0, *, step: int | None = None) -> str:
        """The code of the time step `offset` steps from now, or from `step` (the server takes -1,
        0 and +1): a test that sends several codes names its step, as a step may end between them."""
        totp = pyotp.TOTP(self.secret)
        return totp.generate_otp((self.step() if step is None else step) + offset)


async def enable_two_factor(db: Database, settings: Settings, user: User) -> TwoFactorDevice:
    """Two-factor sign-in on for `user`, as confirmTwoFactor leaves it, with no code used yet."""
    secret = pyotp.random_base32()
    async with db.begin() as session:
        session.add(
            TwoFactorCredential(
                user_id=user.id, secret_encrypted=encrypt_secret(settings, secret), enabled_at=utcnow()
            )
        )
        codes = add_recovery_codes(session, user.id)
    return TwoFactorDevice(secret, codes)


async def require_two_factor(db: Database, account: ClientAccount) -> None:
    async with db.begin() as session:
        await session.execute(
            update(ClientAccount).where(ClientAccount.id == account.id).values(require_two_factor=True)
        )


async def limit_membership(
    db: Database,
    membership: Membership,
    *,
    services: Iterable[Service] = (),
    domains: Iterable[Domain] = (),
) -> Membership:
    """Scopes the membership to these services and domains (DESIGN rule 16)."""
    from models.scopes import MembershipScopeDomain, MembershipScopeService

    async with db.begin() as session:
        row = await session.get_one(Membership, membership.id)
        row.scoped = True
        session.add_all(MembershipScopeService(owner_id=row.id, service_id=s.id) for s in services)
        session.add_all(MembershipScopeDomain(owner_id=row.id, domain_id=d.id) for d in domains)
    return row

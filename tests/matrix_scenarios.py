"""The objects a permission-matrix row's document names ($account, $service, $order, ...), built
fresh in the target account of each run (tests/permission_matrix.toml)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pyotp
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.accounts import ClientAccount, Membership
from models.affiliates import Affiliate
from models.audit import AuditEvent
from models.base import utcnow, uuid7
from models.catalogue import BillingCycle, Product
from models.contacts import Contact
from models.database import Database
from models.email_verification import EmailVerificationToken
from models.hosting import Domain, DomainStatus, Service, ServiceStatus
from models.invitations import Invitation, PasswordResetToken
from models.scopes import MembershipScopeDomain, MembershipScopeService
from models.tickets import Ticket, TicketMessage, TicketStatus
from models.two_factor import TwoFactorCredential
from models.users import User
from resolvers.billing.issuing import ItemDraft, issue_order
from resolvers.billing.pricing import price_lists
from resolvers.core.credentials import digest, hash_password
from resolvers.core.ids import encode_id
from resolvers.core.numbers import next_number
from resolvers.core.settings import Settings
from resolvers.tickets import ticket_number
from resolvers.two_factor.two_factor import add_recovery_codes, encrypt_secret, issue_challenge
from tests.factories import BILLING, TwoFactorDevice
from tests.matrix_world import (
    Scope,
    World,
    add_account,
    add_api_token,
    add_owner,
    add_user,
    new_contact,
    unique,
    unique_email,
)

PASSWORD = "a long enough passphrase"
CONTACT = {key: value for key, value in BILLING.items() if key != "taxId"}


def gid(kind: str, pk: uuid.UUID) -> str:
    return encode_id(kind, pk)


class Objects:
    """The objects of one account that a run's document names, each built on first use."""

    def __init__(self, session: AsyncSession | None, settings: Settings, world: World, scope: Scope) -> None:
        self._session = session
        self.settings = settings
        self.world = world
        self.scope = scope
        self.team = world.team(scope)
        self.built: dict[str, Any] = {}
        self.models: dict[str, Any] = {}

    async def get(self, name: str) -> Any:
        if name not in self.built:
            builder = BUILDERS.get(name)
            assert builder is not None, f"no builder for ${name} in tests/matrix_scenarios.py"
            self.built[name] = await builder(self)
            if self._session is not None:
                await self._session.flush()
        return self.built[name]

    @property
    def session(self) -> AsyncSession:
        assert self._session is not None, "a builder that writes is registered with writes=False"
        return self._session

    async def product(self, key: str) -> Product:
        product = await self.session.scalar(select(Product).where(Product.key == key))
        assert product is not None, f"no product {key!r} in the catalogue"
        return product


async def build_variables(
    db: Database, settings: Settings, world: World, scope: Scope, names: set[str]
) -> dict[str, Any]:
    """The value of each named variable (and `given` object) in the scope's account; a unit of work
    only when something has to be written. Products come from the catalogue, loaded beforehand."""
    if names <= PLAIN:
        plain = Objects(None, settings, world, scope)
        return {name: await plain.get(name) for name in sorted(names)}
    async with db.begin() as session:
        objects = Objects(session, settings, world, scope)
        return {name: await objects.get(name) for name in sorted(names)}


Builder = Callable[[Objects], Awaitable[Any]]
BUILDERS: dict[str, Builder] = {}
# The names known without writing anything.
PLAIN: set[str] = set()


def builds(name: str, *, writes: bool = True) -> Callable[[Builder], Builder]:
    def register(function: Builder) -> Builder:
        BUILDERS[name] = function
        if not writes:
            PLAIN.add(name)
        return function

    return register


@builds("account", writes=False)
async def _account_id(o: Objects) -> str:
    return gid("ClientAccount", o.team.account.id)


@builds("membership", writes=False)
async def _colleague_membership(o: Objects) -> str:
    return gid("Membership", o.team.colleague_membership.id)


@builds("ownMembership", writes=False)
async def _own_membership(o: Objects) -> str:
    """The actor's own membership at home; elsewhere (they have none) the colleague's."""
    mine = o.world.actor_membership
    if o.scope == "home" and mine is not None:
        return gid("Membership", mine.id)
    return gid("Membership", o.team.colleague_membership.id)


@builds("user", writes=False)
async def _colleague(o: Objects) -> str:
    return gid("User", o.team.colleague.id)


@builds("apiToken")
async def _owner_token(o: Objects) -> str:
    return gid("ApiToken", add_api_token(o.session, o.team.owner, None)[1].id)


def _invitation_to(o: Objects, account: ClientAccount, inviter: User, email: str) -> tuple[str, str]:
    """A pending invitation and the secret of its emailed link."""
    secret = unique("invitation-token")
    now = utcnow()
    invitation = Invitation(
        id=uuid7(),
        account_id=account.id,
        email=email,
        permissions=0,
        invited_by_id=inviter.id,
        token_hash=digest(secret),
        sent_at=now,
        expires_at=now + timedelta(days=7),
    )
    o.session.add(invitation)
    return gid("Invitation", invitation.id), secret


@builds("invitation")
async def _invitation(o: Objects) -> str:
    """A pending invitation of the account, to an email nobody has registered."""
    global_id, secret = _invitation_to(o, o.team.account, o.team.owner, unique_email("invitee"))
    o.built["invitationToken"] = secret
    return global_id


@builds("invitationToken")
async def _invitation_token(o: Objects) -> str:
    await o.get("invitation")
    token: str = o.built["invitationToken"]
    return token


@builds("actorInvitation")
async def _actor_invitation(o: Objects) -> str:
    """At home: a third account invites the actor's own email. Foreign: the foreign account
    invites somebody else."""
    user = o.world.actor_user
    if o.scope == "foreign" or user is None:
        return _invitation_to(o, o.team.account, o.team.owner, unique_email("invitee"))[0]
    inviter = add_user(o.session, "inviter")
    await o.session.flush()
    account = add_account(o.session)
    await o.session.flush()
    add_owner(o.session, account, inviter)
    return _invitation_to(o, account, inviter, user.email)[0]


@builds("auditEvent")
async def _audit_event(o: Objects) -> str:
    event = AuditEvent(
        id=uuid7(),
        action="contact.created",
        actor_id=o.team.owner.id,
        credential="session",
        account_id=o.team.account.id,
    )
    o.session.add(event)
    return gid("AuditEvent", event.id)


@builds("affiliate")
async def _affiliate(o: Objects) -> str:
    o.session.add(
        Affiliate(account_id=o.team.account.id, referral_code=unique("REF"), commission_rate=Decimal("10.00"))
    )
    return "affiliate"


@builds("product")
async def _product(o: Objects) -> str:
    return gid("Product", (await o.product("webhosting-s")).id)


@builds("contact")
async def _extra_contact(o: Objects) -> str:
    """A contact besides the primary one, used by no domain."""
    contact = new_contact(o.team.account, primary=False)
    o.session.add(contact)
    return gid("Contact", contact.id)


@builds("service")
async def _service(o: Objects) -> str:
    product = await o.product("webhosting-s")
    prices = (await price_lists(o.session, [product.id]))[product.id]
    chosen = prices.complete({})
    service = Service(
        id=uuid7(),
        account_id=o.team.account.id,
        product_id=product.id,
        status=ServiceStatus.ACTIVE,
        billing_cycle=BillingCycle.MONTHLY,
        recurring_amount=prices.amount(BillingCycle.MONTHLY, chosen),
        currency_code=o.team.account.currency_code,
        specifications=chosen,
    )
    o.session.add(service)
    o.models["service"] = service
    return gid("Service", service.id)


@builds("domain")
async def _domain(o: Objects) -> str:
    product = await o.product("domain-at")
    primary = await o.session.scalar(
        select(Contact.id).where(Contact.account_id == o.team.account.id, Contact.is_primary.is_(True))
    )
    assert primary is not None
    today = utcnow().date()
    domain = Domain(
        id=uuid7(),
        account_id=o.team.account.id,
        product_id=product.id,
        name=f"{unique('matrix')}.at",
        status=DomainStatus.ACTIVE,
        registered_at=today,
        expires_at=today + timedelta(days=365),
        period_years=1,
        nameservers=["ns1.example.net", "ns2.example.net"],
        registrant_contact_id=primary,
        admin_contact_id=primary,
        tech_contact_id=primary,
        billing_contact_id=primary,
    )
    o.session.add(domain)
    o.models["domain"] = domain
    return gid("Domain", domain.id)


@builds("scopedMembership")
async def _scoped_membership(o: Objects) -> str:
    """The colleague's membership, limited to a service and a domain of the account (DESIGN rule 16)."""
    await o.get("service")
    await o.get("domain")
    membership = await o.session.get_one(Membership, o.team.colleague_membership.id)
    membership.scoped = True
    o.session.add_all(
        [
            MembershipScopeService(owner_id=membership.id, service_id=o.models["service"].id),
            MembershipScopeDomain(owner_id=membership.id, domain_id=o.models["domain"].id),
        ]
    )
    return gid("Membership", membership.id)


@builds("order")
async def _order(o: Objects) -> str:
    """An order of the service (item 0) and the domain (item 1), with its UNPAID invoice."""
    await o.get("service")
    await o.get("domain")
    service: Service = o.models["service"]
    domain: Domain = o.models["domain"]
    issued = await issue_order(
        o.session,
        account=o.team.account,
        placed_by_id=o.team.owner.id,
        items=[
            ItemDraft(
                product_id=service.product_id,
                billing_cycle=BillingCycle.MONTHLY,
                description="Hosting",
                amount=service.recurring_amount,
                service_id=service.id,
            ),
            ItemDraft(
                product_id=domain.product_id,
                billing_cycle=BillingCycle.ANNUALLY,
                description=domain.name,
                amount=Decimal("14.90"),
                domain_name=domain.name,
                period_years=1,
                domain_id=domain.id,
            ),
        ],
    )
    o.built["invoice"] = gid("Invoice", issued.invoice.id)
    return gid("Order", issued.order.id)


@builds("invoice")
async def _invoice(o: Objects) -> str:
    await o.get("order")
    invoice: str = o.built["invoice"]
    return invoice


@builds("ticket")
async def _ticket(o: Objects) -> str:
    """An OPEN ticket about the service, with the owner's first message."""
    await o.get("service")
    service: Service = o.models["service"]
    ticket = Ticket(
        id=uuid7(),
        account_id=o.team.account.id,
        number=ticket_number(await next_number(o.session, "ticket")),
        subject="Mail is not delivered",
        department="Support",
        status=TicketStatus.OPEN,
        opened_by_id=o.team.owner.id,
        service_id=service.id,
    )
    o.session.add(ticket)
    await o.session.flush()
    o.session.add(TicketMessage(ticket_id=ticket.id, author_id=o.team.owner.id, body="It stopped working."))
    return gid("Ticket", ticket.id)


@builds("email", writes=False)
async def _fresh_email(o: Objects) -> str:
    return unique_email("fresh")


@builds("key", writes=False)
async def _idempotency_key(o: Objects) -> str:
    return unique("key")


@builds("billing", writes=False)
async def _billing(o: Objects) -> dict[str, object]:
    return BILLING


@builds("contactInput", writes=False)
async def _contact_input(o: Objects) -> dict[str, object]:
    return CONTACT


@builds("signInEmail")
async def _sign_in_email(o: Objects) -> str:
    """A user with a password, not the actor."""
    return add_user(o.session, "signin", await hash_password(o.settings, PASSWORD)).email


@builds("password", writes=False)
async def _password(o: Objects) -> str:
    return PASSWORD


@builds("resetToken")
async def _reset_token(o: Objects) -> str:
    """An unused password-reset token of a user who is not the actor."""
    user = add_user(o.session, "forgetful")
    await o.session.flush()
    secret = unique("reset-token")
    o.session.add(
        PasswordResetToken(
            user_id=user.id, token_hash=digest(secret), expires_at=utcnow() + timedelta(hours=1)
        )
    )
    return secret


@builds("verificationToken")
async def _verification_token(o: Objects) -> str:
    """An unused email-verification token of an unverified user who is not the actor."""
    user = add_user(o.session, "unproven", verified=False)
    await o.session.flush()
    secret = unique("verification-token")
    o.session.add(
        EmailVerificationToken(
            user_id=user.id,
            email=user.email,
            token_hash=digest(secret),
            expires_at=utcnow() + timedelta(days=7),
        )
    )
    return secret


def _device(o: Objects, user: User, *, enabled: bool) -> TwoFactorDevice:
    """Two-factor sign-in for `user`, on or (enabled=False) waiting for its confirming code."""
    device = TwoFactorDevice(pyotp.random_base32(), [])
    o.session.add(
        TwoFactorCredential(
            user_id=user.id,
            secret_encrypted=encrypt_secret(o.settings, device.secret),
            enabled_at=utcnow() if enabled else None,
        )
    )
    return device


@builds("twoFactorChallenge")
async def _two_factor_challenge(o: Objects) -> str:
    """A sign-in of a user with two-factor on (not the actor) waiting for its second step."""
    user = add_user(o.session, "second-step")
    await o.session.flush()
    o.models["two_factor_device"] = _device(o, user, enabled=True)
    return await issue_challenge(o.session, user.id)


@builds("twoFactorCode")
async def _two_factor_code(o: Objects) -> str:
    await o.get("twoFactorChallenge")
    device: TwoFactorDevice = o.models["two_factor_device"]
    return device.code()


@builds("setupCode")
async def _setup_code(o: Objects) -> str:
    """A current code of the actor's two-factor setup, begun and not confirmed yet."""
    if o.world.actor_user is None:
        return "123456"
    return _device(o, o.world.actor_user, enabled=False).code()


@builds("recoveryCode")
async def _recovery_code(o: Objects) -> str:
    """A recovery code of the actor, who has two-factor sign-in on."""
    if o.world.actor_user is None:
        return "aaaa-bbbb-cccc-dddd"
    _device(o, o.world.actor_user, enabled=True)
    return add_recovery_codes(o.session, o.world.actor_user.id)[0]

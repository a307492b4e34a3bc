"""Support tickets: opening, replying and closing them, listing them, and the staff's answers.

Statuses: OPEN → ANSWERED ⇄ CUSTOMER_REPLY → CLOSED. Staff answer with the operator command
(`clientarea tickets reply`), which emails the account's members who hold SUPPORT_TICKETS.
"""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.accounts import ClientAccount, Membership, MembershipRole
from models.base import utcnow
from models.database import Database
from models.permissions import to_mask
from models.tickets import Ticket, TicketMessage, TicketStatus
from models.users import User
from resolvers.core.audit import record, record_system
from resolvers.core.context import Context
from resolvers.core.emails import language_of_user
from resolvers.core.errors import Rejected, UserErrorCode, not_found, reject
from resolvers.core.ids import encode_id
from resolvers.core.loaders import GroupLoader, ScopedLoader
from resolvers.core.numbers import next_number
from resolvers.core.outbox import enqueue
from resolvers.core.pagination import Page, paginate
from resolvers.core.permissions import require_principal, visible_memberships
from resolvers.core.policies import TICKET
from resolvers.core.principal import Access
from resolvers.core.reach import MEMBERSHIP_SCOPE, covers, within_scope
from resolvers.core.settings import Settings
from resolvers.core.validation import Checker, Path

MAX_SUBJECT_LENGTH = 200
MAX_MESSAGE_LENGTH = 20_000
MAX_STAFF_NAME_LENGTH = 100
DEFAULT_STAFF_NAME = "Support"


def ticket_number(value: int) -> str:
    return f"T-{value:06d}"


def check_message(check: Checker, path: Path, value: str) -> str:
    """A message body: line breaks are kept (as \\n); other control characters, tabs included, are refused."""
    cleaned = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not cleaned:
        check.fail(path, "This field is required.")
    elif len(cleaned) > MAX_MESSAGE_LENGTH:
        check.fail(path, f"At most {MAX_MESSAGE_LENGTH} characters.")
    elif any(ch != "\n" and unicodedata.category(ch) == "Cc" for ch in cleaned):
        check.fail(path, "Line breaks are allowed; other control characters are not.")
    return cleaned


def _department(check: Checker, settings: Settings, value: str) -> str:
    """The configured spelling of the department named, matched without regard to case."""
    wanted = value.strip().casefold()
    for department in settings.ticket_departments:
        if department.casefold() == wanted:
            return department
    check.fail(
        ("input", "department"), f"Choose one of these departments: {', '.join(settings.ticket_departments)}."
    )
    return value


async def _related_service(
    context: Context, check: Checker, account_id: uuid.UUID, service_id: uuid.UUID | None
) -> uuid.UUID | None:
    """The given service when it belongs to the ticket's account; another account's is NOT_FOUND."""
    service = await context.loaders.service.load(service_id) if service_id is not None else None
    if service is None or service.account_id != account_id:
        check.fail(("input", "serviceId"), "Not found.", UserErrorCode.NOT_FOUND)
        return None
    return service.id


async def open_ticket(
    context: Context,
    access: Access,
    *,
    department: str,
    subject: str,
    message: str,
    service_named: bool,
    service_id: uuid.UUID | None,
) -> Ticket:
    """A new ticket in `access`'s account (checked: the viewer may handle its tickets). `service_named`:
    the input named a service, whose key is `service_id` (None for an ID of another type)."""
    principal = require_principal(context)
    check = Checker()
    department = _department(check, context.settings, department)
    subject = check.text(("input", "subject"), subject, max_length=MAX_SUBJECT_LENGTH)
    body = check_message(check, ("input", "message"), message)
    related = None
    if service_named:
        related = await _related_service(context, check, access.account_id, service_id)
    elif access.scoped:
        # Else the ticket would be about nothing in their scope, out of their own reach at once.
        check.fail(("input", "serviceId"), "Name the service in your scope that the ticket is about.")
    if check.problems:
        raise Rejected(check.problems)
    async with context.db.begin() as session:
        # Taken in this unit of work: a ticket that is not stored gives its number back.
        ticket = Ticket(
            account_id=access.account_id,
            number=ticket_number(await next_number(session, "ticket")),
            subject=subject,
            department=department,
            status=TicketStatus.OPEN,
            opened_by_id=principal.user_id,
            service_id=related,
        )
        session.add(ticket)
        await session.flush()
        session.add(TicketMessage(ticket_id=ticket.id, author_id=principal.user_id, body=body))
        record(
            session,
            context,
            "ticket.opened",
            account_id=ticket.account_id,
            subject_id=encode_id("Ticket", ticket.id),
        )
    context.loaders.tickets.ticket.prime(ticket.id, ticket)
    return ticket


def _closed() -> Rejected:
    return reject("The ticket is closed; open a new one.", UserErrorCode.INVALID, "input", "ticketId")


async def _locked(session: AsyncSession, ticket_id: uuid.UUID) -> Ticket:
    ticket = await session.get(Ticket, ticket_id, with_for_update=True)
    if ticket is None:
        raise not_found("input", "ticketId")
    return ticket


async def reply_to_ticket(context: Context, target: Ticket, *, message: str) -> Ticket:
    """The customer's side answers: an ANSWERED ticket waits for the staff again (CUSTOMER_REPLY).
    Checked: the viewer may handle `target`'s tickets."""
    principal = require_principal(context)
    check = Checker()
    body = check_message(check, ("input", "message"), message)
    if check.problems:
        raise Rejected(check.problems)
    async with context.db.begin() as session:
        ticket = await _locked(session, target.id)
        if ticket.status is TicketStatus.CLOSED:
            raise _closed()
        if ticket.status is TicketStatus.ANSWERED:
            ticket.status = TicketStatus.CUSTOMER_REPLY
        ticket.updated_at = utcnow()
        session.add(TicketMessage(ticket_id=ticket.id, author_id=principal.user_id, body=body))
        record(
            session,
            context,
            "ticket.replied",
            account_id=ticket.account_id,
            subject_id=encode_id("Ticket", ticket.id),
        )
    context.loaders.tickets.forget(ticket)
    return ticket


async def close_ticket(context: Context, target: Ticket) -> Ticket:
    """Checked: the viewer may handle `target`'s tickets."""
    async with context.db.begin() as session:
        ticket = await _locked(session, target.id)
        if ticket.status is TicketStatus.CLOSED:
            raise reject("The ticket is already closed.", UserErrorCode.INVALID, "input", "ticketId")
        ticket.status = TicketStatus.CLOSED
        record(
            session,
            context,
            "ticket.closed",
            account_id=ticket.account_id,
            subject_id=encode_id("Ticket", ticket.id),
        )
    context.loaders.tickets.forget(ticket)
    return ticket


async def account_tickets(
    context: Context, *, account_id: uuid.UUID, first: int | None, after: str | None
) -> Page[Ticket]:
    """The account's tickets, newest first (uuid7 keys sort by creation)."""
    principal = require_principal(context)
    memberships = visible_memberships(principal, TICKET.view)
    statement: Any = (
        select(Ticket)
        .join(memberships, memberships.c.account_id == Ticket.account_id)
        .where(Ticket.account_id == account_id)
        # A scoped member handles only the tickets about a service in their scope.
        .where(within_scope(principal, "service", memberships, subject_id=Ticket.service_id))
    )
    page = await paginate(
        context.db,
        statement,
        keys=[Ticket.id],
        key_of=lambda row: (row[0].id,),
        first=first,
        after=after,
        descending=True,
    )
    tickets = page.map(lambda row: row[0])
    for _, ticket in tickets.edges:
        context.loaders.tickets.ticket.prime(ticket.id, ticket)
    return tickets


@dataclass(frozen=True)
class StaffReply:
    ticket: Ticket
    # The addresses the reply was emailed to.
    recipients: list[str]


def _support_members() -> Any:
    """Members who may see the account's tickets (the owner holds every permission), with their users."""
    return (
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(
            or_(
                Membership.role == MembershipRole.OWNER,
                Membership.permissions.op("&")(to_mask(TICKET.view.any_of)) != 0,
            )
        )
        .order_by(Membership.id)
    )


async def reply_as_staff(
    db: Database, settings: Settings, *, number: str, message: str, staff_name: str = DEFAULT_STAFF_NAME
) -> StaffReply:
    """The provider's answer to a ticket: a message without an author, the ticket ANSWERED, an audit
    event by the system, and an email to each member of the account who handles its tickets.

    A CLOSED ticket is refused, as it is for customers: the staff open a new conversation instead.
    """
    check = Checker()
    body = check_message(check, ("message",), message)
    name = check.text(("staffName",), staff_name, max_length=MAX_STAFF_NAME_LENGTH)
    if check.problems:
        raise Rejected(check.problems)
    wanted = number.strip().upper()
    async with db.begin() as session:
        ticket = await session.scalar(select(Ticket).where(Ticket.number == wanted).with_for_update())
        if ticket is None:
            raise reject(f"There is no ticket numbered {wanted}.", UserErrorCode.NOT_FOUND, "number")
        if ticket.status is TicketStatus.CLOSED:
            raise reject(f"Ticket {wanted} is closed; it takes no replies.", UserErrorCode.INVALID, "number")
        ticket.status = TicketStatus.ANSWERED
        ticket.updated_at = utcnow()
        session.add(TicketMessage(ticket_id=ticket.id, author_id=None, staff_name=name, body=body))
        global_id = encode_id("Ticket", ticket.id)
        record_system(session, "ticket.answered", account_id=ticket.account_id, subject_id=global_id)
        account = await session.get(ClientAccount, ticket.account_id)
        assert account is not None
        # A scoped member hears only of tickets about a service in their scope.
        in_scope = (
            not_(Membership.scoped)
            if ticket.service_id is None
            else or_(
                not_(Membership.scoped),
                covers(
                    MEMBERSHIP_SCOPE,
                    "service",
                    owner_id=Membership.id,
                    subject_id=ticket.service_id,
                    account_id=Membership.account_id,
                ),
            )
        )
        members = list(
            await session.scalars(_support_members().where(Membership.account_id == account.id, in_scope))
        )
        for user in members:
            enqueue(
                session,
                to=user.email,
                template="ticket_reply",
                language=await language_of_user(session, user.id),
                params={
                    "name": user.name,
                    "staff": name,
                    "number": ticket.number,
                    "subject": ticket.subject,
                    "account": account.name,
                    "reply": body,
                    "link": f"{settings.public_url.rstrip('/')}/tickets/{global_id}",
                },
            )
    return StaffReply(ticket=ticket, recipients=[user.email for user in members])


class TicketByIdLoader(ScopedLoader[Ticket]):
    """A ticket about a service outside the viewer's scope (or about none) loads as missing."""

    model = Ticket
    scope = "service"
    subject = "service_id"


class MessagesByTicketIdLoader(GroupLoader[uuid.UUID, TicketMessage]):
    """Each ticket's messages in the order they were written, one statement for every ticket."""

    def statement(self, keys: Sequence[uuid.UUID]) -> Select[Any]:
        return (
            select(TicketMessage)
            .where(TicketMessage.ticket_id.in_(keys))
            .order_by(TicketMessage.created_at, TicketMessage.id)
        )

    def owner(self, row: TicketMessage) -> uuid.UUID:
        return row.ticket_id


class TicketLoaders:
    def __init__(self, context: Context) -> None:
        self.ticket = TicketByIdLoader(context)
        self.messages = MessagesByTicketIdLoader(context)

    def forget(self, ticket: Ticket) -> None:
        """After a change: the ticket as stored now, its messages read afresh."""
        self.ticket.clear(ticket.id).prime(ticket.id, ticket)
        self.messages.clear(ticket.id)

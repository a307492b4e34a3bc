"""Support tickets: opening, replying, closing, the staff's answers by command and email, who may,
the statuses, gap-free numbers and batching."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

import resolvers.tickets
from models import AuditEvent, ClientAccount, OutboxEmail, Service, Ticket, TicketMessage, User
from models.base import uuid7
from models.database import Database
from models.permissions import Permission
from resolvers.core.credentials import hash_password
from resolvers.core.errors import Rejected
from resolvers.core.ids import encode_id
from resolvers.core.settings import Settings
from resolvers.tickets import reply_as_staff
from tests.conftest import ROOT
from tests.factories import (
    add_member,
    create_account,
    create_service,
    create_ticket,
    create_user,
    session_for,
)
from tests.graphql import Api
from tests.servers import Inbox, clientarea_server, free_port, smtp_server

OPEN_TICKET = """
mutation OpenTicket($input: OpenTicketInput!) {
  openTicket(input: $input) {
    ticket {
      id number subject department status createdAt
      account { id }
      openedBy { email }
      service { id }
      messages { body author { email } }
    }
    userErrors { field message code }
  }
}
"""
REPLY = """
mutation Reply($id: ID!, $message: String!) {
  replyToTicket(input: { ticketId: $id, message: $message }) {
    ticket { id status messages { body author { email } } }
    userErrors { field message code }
  }
}
"""
CLOSE = """
mutation Close($id: ID!) {
  closeTicket(input: { ticketId: $id }) { ticket { id status } userErrors { field message code } }
}
"""
TICKET = """
query Ticket($id: ID!) {
  node(id: $id) {
    ... on Ticket { id number status service { id } messages { body author { email } } }
  }
}
"""
TICKETS = """
query Tickets($id: ID!, $first: Int, $after: String) {
  account(id: $id) {
    tickets(first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges {
        node {
          id number subject department status createdAt
          account { id }
          openedBy { id name }
          service { id label }
          messages { body createdAt author { id name } }
        }
      }
    }
  }
}
"""

SUPPORT = [Permission.SUPPORT_TICKETS, Permission.VIEW_SERVICES]


def _gid(kind: str, pk: Any) -> str:
    return encode_id(kind, pk)


@dataclass
class Customer:
    """A customer's account with a service, its owner, and an agency acting in it."""

    account: ClientAccount
    service: Service
    owner: User
    agency: User
    agency_api: Api


async def _signed_in(api: Api, db: Database, settings: Settings, user: User) -> Api:
    client = api.new()
    client.set_session(await session_for(db, settings, user))
    return client


async def _customer(api: Api, db: Database, settings: Settings) -> Customer:
    owner = await create_user(db, email="owner@customer.example", name="Olga Owner")
    account = await create_account(db, owner=owner, name="Customer GmbH", country="AT")
    service = await create_service(db, account=account, label="customer.example")
    agency = await create_user(db, email="agency@example.com", name="Web Agency")
    # The agency's own account is in Britain: it reads English.
    await create_account(db, owner=agency, name="Web Agency Ltd", country="GB")
    await add_member(db, account=account, user=agency, permissions=SUPPORT)
    return Customer(account, service, owner, agency, await _signed_in(api, db, settings, agency))


async def _member(
    api: Api, db: Database, settings: Settings, account: ClientAccount, *held: Permission
) -> Api:
    user = await create_user(db)
    await add_member(db, account=account, user=user, permissions=held)
    return await _signed_in(api, db, settings, user)


def _open(account: ClientAccount, **fields: Any) -> dict[str, Any]:
    values = {
        "accountId": _gid("ClientAccount", account.id),
        "department": "Support",
        "subject": "Mail is not delivered",
        "message": "Since this morning\nno mail arrives.",
    }
    return {"input": {**values, **fields}}


def _errors(response: Any, field: str) -> list[tuple[list[str] | None, str]]:
    return [(e["field"], e["code"]) for e in response.payload(field)["userErrors"]]


async def _opened(client: Api, account: ClientAccount, **fields: Any) -> dict[str, Any]:
    payload = (await client(OPEN_TICKET, _open(account, **fields))).payload("openTicket")
    assert payload["userErrors"] == []
    ticket: dict[str, Any] = payload["ticket"]
    return ticket


async def _outbox(db: Database) -> list[OutboxEmail]:
    async with db.read() as session:
        return list(await session.scalars(select(OutboxEmail).order_by(OutboxEmail.to_address)))


async def _count(db: Database, model: type[Ticket] | type[TicketMessage]) -> int:
    async with db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _run_cli(settings: Settings, *args: str) -> tuple[int, str, str]:
    """`clientarea tickets reply ARGS` in its own process, on the tests' database."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "clientarea.cli",
        "tickets",
        "reply",
        *args,
        cwd=ROOT,
        env={
            **os.environ,
            "CLIENTAREA_DATABASE_URL": settings.database_url,
            "CLIENTAREA_PUBLIC_URL": settings.public_url,
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


# The flow


async def test_an_agency_opens_a_ticket_staff_answer_the_agency_is_emailed_and_replies(
    api: Api, db: Database, settings: Settings
) -> None:
    # Given an agency with SUPPORT_TICKETS in a customer's account, and a member who may not see tickets
    customer = await _customer(api, db, settings)
    await add_member(db, account=customer.account, user=await create_user(db, email="books@customer.example"))

    # When the agency opens a ticket about the customer's service
    opened = await _opened(
        customer.agency_api, customer.account, serviceId=_gid("Service", customer.service.id)
    )

    # Then it is numbered, OPEN, the agency's, about that service, with the agency's message
    assert opened == {
        "id": opened["id"],
        "number": "T-000001",
        "subject": "Mail is not delivered",
        "department": "Support",
        "status": "OPEN",
        "createdAt": opened["createdAt"],
        "account": {"id": _gid("ClientAccount", customer.account.id)},
        "openedBy": {"email": "agency@example.com"},
        "service": {"id": _gid("Service", customer.service.id)},
        "messages": [
            {"body": "Since this morning\nno mail arrives.", "author": {"email": "agency@example.com"}}
        ],
    }

    # When the staff answer
    answered = await reply_as_staff(
        db, settings, number="t-000001", message="We restarted the mail server.\nPlease check again."
    )

    # Then the ticket is ANSWERED and everyone who handles tickets there is emailed in their language
    assert answered.ticket.status.value == "ANSWERED"
    assert sorted(answered.recipients) == ["agency@example.com", "owner@customer.example"]
    agency_mail, owner_mail = await _outbox(db)
    link = f"{settings.public_url}/tickets/{opened['id']}"
    assert agency_mail.to_address == "agency@example.com"
    assert agency_mail.template == "ticket_reply"
    assert agency_mail.subject == "Reply to ticket T-000001: Mail is not delivered"
    assert "We restarted the mail server.\nPlease check again." in agency_mail.text_body
    assert link in agency_mail.text_body
    assert "We restarted the mail server.<br>\nPlease check again." in agency_mail.html_body
    assert owner_mail.to_address == "owner@customer.example"
    assert owner_mail.subject == "Antwort auf Ticket T-000001: Mail is not delivered"
    assert "Guten Tag Olga Owner" in owner_mail.text_body
    assert link in owner_mail.text_body

    # When the agency replies
    response = await customer.agency_api(REPLY, {"id": opened["id"], "message": "Works again, thanks."})

    # Then the ticket waits for the staff again, with the whole conversation in order
    ticket = response.payload("replyToTicket")["ticket"]
    assert ticket["status"] == "CUSTOMER_REPLY"
    assert ticket["messages"] == [
        {"body": "Since this morning\nno mail arrives.", "author": {"email": "agency@example.com"}},
        {"body": "We restarted the mail server.\nPlease check again.", "author": None},
        {"body": "Works again, thanks.", "author": {"email": "agency@example.com"}},
    ]
    async with db.read() as session:
        events = list(
            await session.execute(
                select(AuditEvent.action, AuditEvent.credential, AuditEvent.actor_id, AuditEvent.subject_id)
                .where(AuditEvent.account_id == customer.account.id)
                .order_by(AuditEvent.id)
            )
        )
    assert [tuple(e) for e in events] == [
        ("ticket.opened", "session", customer.agency.id, opened["id"]),
        ("ticket.answered", "system", None, opened["id"]),
        ("ticket.replied", "session", customer.agency.id, opened["id"]),
    ]


PUBLIC_URL = "https://dashboard.example"
PASSWORD = "a long enough passphrase"
SIGN_IN = """
mutation SignIn($email: String!, $password: String!) {
  signIn(input: { email: $email, password: $password }) { userErrors { code } }
}
"""


@pytest.fixture
async def inbox() -> AsyncIterator[tuple[Inbox, str]]:
    mail, port = Inbox(), free_port()
    async with smtp_server(mail, port):
        yield mail, f"smtp://127.0.0.1:{port}"


async def _http(browser: httpx.AsyncClient, query: str, variables: dict[str, Any]) -> Any:
    response = await browser.post("/graphql", json={"query": query, "variables": variables})
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


@pytest.mark.e2e
async def test_over_real_http_the_agency_is_emailed_the_staff_answer_and_replies(
    api: Api, db: Database, settings: Settings, inbox: tuple[Inbox, str]
) -> None:
    mail, smtp_url = inbox
    customer = await _customer(api, db, settings)
    async with db.begin() as session:
        agency = await session.get_one(User, customer.agency.id)
        agency.password_hash = await hash_password(settings, PASSWORD)
    async with (
        clientarea_server(
            settings.database_url, smtp_url=smtp_url, mail_poll_seconds="0.05", public_url=PUBLIC_URL
        ) as server,
        httpx.AsyncClient(base_url=server) as browser,
    ):
        # The agency signs in and opens a ticket about the customer's service.
        await _http(browser, SIGN_IN, {"email": "agency@example.com", "password": PASSWORD})
        variables = _open(customer.account, serviceId=_gid("Service", customer.service.id))
        ticket = (await _http(browser, OPEN_TICKET, variables))["openTicket"]["ticket"]
        assert (ticket["number"], ticket["status"]) == ("T-000001", "OPEN")

        # The staff answer by command.
        code, _, err = await _run_cli(
            settings.model_copy(update={"public_url": PUBLIC_URL}), "T-000001", "--message", "Fixed."
        )
        assert code == 0, err

        # The server's mailer delivers the email with the link to the ticket.
        for _ in range(200):
            delivered = [m for m in mail.messages if m["To"] == "agency@example.com"]
            if delivered:
                break
            await asyncio.sleep(0.05)
        [message] = delivered
        text = message.get_body(preferencelist=("plain",))
        assert text is not None
        assert "Fixed." in text.get_content()
        assert f"{PUBLIC_URL}/tickets/{ticket['id']}" in text.get_content()

        # The agency replies.
        replied = await _http(browser, REPLY, {"id": ticket["id"], "message": "Thanks, it works."})

    assert replied["replyToTicket"]["ticket"]["status"] == "CUSTOMER_REPLY"
    assert [m["author"] for m in replied["replyToTicket"]["ticket"]["messages"]] == [
        {"email": "agency@example.com"},
        None,
        {"email": "agency@example.com"},
    ]


async def test_staff_answer_with_the_clientarea_command(api: Api, db: Database, settings: Settings) -> None:
    customer = await _customer(api, db, settings)
    opened = await _opened(customer.agency_api, customer.account)

    code, out, err = await _run_cli(settings, "T-000001", "--message", "Fixed.", "--staff-name", "Petra")

    assert (code, err) == (0, ""), err
    assert out.strip() == "T-000001 is ANSWERED; emailed 2 member(s)"
    response = await customer.agency_api(TICKET, {"id": opened["id"]})
    assert response.data["node"]["status"] == "ANSWERED"
    assert response.data["node"]["messages"][-1] == {"body": "Fixed.", "author": None}
    async with db.read() as session:
        staff = await session.scalar(select(TicketMessage).where(TicketMessage.author_id.is_(None)))
    assert staff is not None
    assert staff.staff_name == "Petra"
    assert sorted(m.to_address for m in await _outbox(db)) == ["agency@example.com", "owner@customer.example"]


async def test_the_command_refuses_an_unknown_ticket_number(db: Database, settings: Settings) -> None:
    code, out, err = await _run_cli(settings, "T-999999", "--message", "Hello?")

    assert (code, out) == (1, "")
    assert err.strip() == "error: There is no ticket numbered T-999999."
    assert await _outbox(db) == []


async def test_a_staff_answer_names_the_staff_member_and_defaults_to_support(
    api: Api, db: Database, settings: Settings
) -> None:
    customer = await _customer(api, db, settings)
    await _opened(customer.agency_api, customer.account)

    await reply_as_staff(db, settings, number="T-000001", message="On it.")
    await reply_as_staff(db, settings, number="T-000001", message="Done.", staff_name="Petra")

    async with db.read() as session:
        names = list(
            await session.scalars(
                select(TicketMessage.staff_name)
                .where(TicketMessage.author_id.is_(None))
                .order_by(TicketMessage.created_at)
            )
        )
    assert names == ["Support", "Petra"]
    emails = await _outbox(db)
    assert any("Petra answered the ticket T-000001" in m.text_body for m in emails)


# Validation


LONG = "x" * 20_001


@pytest.mark.parametrize(
    ("fields", "path"),
    [
        ({"department": "Marketing"}, ["input", "department"]),
        ({"subject": "  "}, ["input", "subject"]),
        ({"subject": "x" * 201}, ["input", "subject"]),
        ({"subject": "two\nlines"}, ["input", "subject"]),
        ({"message": ""}, ["input", "message"]),
        ({"message": LONG}, ["input", "message"]),
        ({"message": "bell \x07"}, ["input", "message"]),
        ({"message": "tab\there"}, ["input", "message"]),
        ({"message": "escape \x1b[31m"}, ["input", "message"]),
    ],
)
async def test_open_ticket_refuses_invalid_input_and_stores_nothing(
    api: Api, db: Database, settings: Settings, fields: dict[str, Any], path: list[str]
) -> None:
    customer = await _customer(api, db, settings)

    response = await customer.agency_api(OPEN_TICKET, _open(customer.account, **fields))

    assert _errors(response, "openTicket") == [(path, "INVALID")]
    assert response.payload("openTicket")["ticket"] is None
    assert await _count(db, Ticket) == 0


async def test_open_ticket_keeps_line_breaks_and_takes_the_configured_department_spelling(
    api: Api, db: Database, settings: Settings
) -> None:
    customer = await _customer(api, db, settings)

    opened = await _opened(
        customer.agency_api,
        customer.account,
        department=" billing ",
        subject="  Invoice question ",
        message="\r\nFirst line\r\nsecond line\n" + "y" * 19_970,
    )

    assert opened["department"] == "Billing"
    assert opened["subject"] == "Invoice question"
    assert opened["messages"][0]["body"].startswith("First line\nsecond line\nyyy")
    assert opened["service"] is None


async def test_departments_come_from_the_settings(api: Api, db: Database, settings: Settings) -> None:
    settings.ticket_departments = ["Abuse"]
    customer = await _customer(api, db, settings)

    refused = await customer.agency_api(OPEN_TICKET, _open(customer.account))
    accepted = await customer.agency_api(OPEN_TICKET, _open(customer.account, department="Abuse"))

    assert refused.payload("openTicket")["userErrors"] == [
        {
            "field": ["input", "department"],
            "message": "Choose one of these departments: Abuse.",
            "code": "INVALID",
        }
    ]
    assert accepted.payload("openTicket")["ticket"]["department"] == "Abuse"


@pytest.mark.parametrize("which", ["other account of the agency", "stranger's", "missing", "not a service"])
async def test_the_related_service_must_be_one_of_the_same_account(
    api: Api, db: Database, settings: Settings, which: str
) -> None:
    customer = await _customer(api, db, settings)
    agency_own = await create_account(db, owner=customer.agency)
    stranger = await create_account(db, owner=await create_user(db))
    service_id = {
        "other account of the agency": _gid("Service", (await create_service(db, account=agency_own)).id),
        "stranger's": _gid("Service", (await create_service(db, account=stranger)).id),
        "missing": _gid("Service", uuid7()),
        "not a service": _gid("ClientAccount", customer.account.id),
    }[which]

    response = await customer.agency_api(OPEN_TICKET, _open(customer.account, serviceId=service_id))

    assert _errors(response, "openTicket") == [(["input", "serviceId"], "NOT_FOUND")]
    assert await _count(db, Ticket) == 0


async def test_a_malformed_service_id_is_bad_user_input(api: Api, db: Database, settings: Settings) -> None:
    customer = await _customer(api, db, settings)

    response = await customer.agency_api(OPEN_TICKET, _open(customer.account, serviceId="not-an-id"))

    assert response.codes == ["BAD_USER_INPUT"]
    assert await _count(db, Ticket) == 0


async def test_a_reply_needs_a_message(api: Api, db: Database, settings: Settings) -> None:
    customer = await _customer(api, db, settings)
    opened = await _opened(customer.agency_api, customer.account)

    response = await customer.agency_api(REPLY, {"id": opened["id"], "message": " \n "})

    assert _errors(response, "replyToTicket") == [(["input", "message"], "INVALID")]
    assert await _count(db, TicketMessage) == 1


async def test_a_staff_answer_is_checked_too(api: Api, db: Database, settings: Settings) -> None:
    customer = await _customer(api, db, settings)
    await _opened(customer.agency_api, customer.account)

    with pytest.raises(Rejected) as refused:
        await reply_as_staff(db, settings, number="T-000001", message="\x00")

    assert [p.field for p in refused.value.problems] == [("message",)]
    assert await _count(db, TicketMessage) == 1
    assert await _outbox(db) == []


# Who may


async def test_anonymous_callers_are_unauthenticated(api: Api, db: Database, settings: Settings) -> None:
    customer = await _customer(api, db, settings)
    opened = await _opened(customer.agency_api, customer.account)
    anonymous = api.new()

    responses = [
        await anonymous(OPEN_TICKET, _open(customer.account)),
        await anonymous(REPLY, {"id": opened["id"], "message": "Hi"}),
        await anonymous(CLOSE, {"id": opened["id"]}),
    ]

    assert [r.codes for r in responses] == [["UNAUTHENTICATED"]] * 3
    assert await _count(db, TicketMessage) == 1


@pytest.mark.parametrize(
    ("viewer", "code"),
    [("stranger", "NOT_FOUND"), ("member without SUPPORT_TICKETS", "FORBIDDEN")],
)
@pytest.mark.parametrize("mutation", ["openTicket", "replyToTicket", "closeTicket"])
async def test_ticket_mutations_need_support_tickets_in_that_account(
    api: Api, db: Database, settings: Settings, viewer: str, code: str, mutation: str
) -> None:
    customer = await _customer(api, db, settings)
    opened = await _opened(customer.agency_api, customer.account)
    if viewer == "stranger":
        user = await create_user(db)
        await create_account(db, owner=user)
        client = await _signed_in(api, db, settings, user)
    else:
        others = [p for p in Permission if p is not Permission.SUPPORT_TICKETS]
        client = await _member(api, db, settings, customer.account, *others)
    call = {
        "openTicket": (OPEN_TICKET, _open(customer.account), ["input", "accountId"]),
        "replyToTicket": (REPLY, {"id": opened["id"], "message": "Hi"}, ["input", "ticketId"]),
        "closeTicket": (CLOSE, {"id": opened["id"]}, ["input", "ticketId"]),
    }[mutation]

    response = await client(call[0], call[1])

    payload = response.payload(mutation)
    assert [e["code"] for e in payload["userErrors"]] == [code]
    if code == "NOT_FOUND":
        assert payload["userErrors"][0]["field"] == call[2]
    assert payload["ticket"] is None
    assert (await _count(db, Ticket), await _count(db, TicketMessage)) == (1, 1)
    agency_view = await customer.agency_api(TICKET, {"id": opened["id"]})
    assert agency_view.data["node"]["status"] == "OPEN"


async def test_tickets_are_hidden_from_members_without_support_tickets_and_from_strangers(
    api: Api, db: Database, settings: Settings
) -> None:
    customer = await _customer(api, db, settings)
    opened = await _opened(customer.agency_api, customer.account)
    bookkeeper = await _member(api, db, settings, customer.account, Permission.VIEW_INVOICES)
    stranger_user = await create_user(db)
    stranger = await _signed_in(api, db, settings, stranger_user)

    listed = await bookkeeper(TICKETS, {"id": _gid("ClientAccount", customer.account.id)})
    fetched = await bookkeeper(TICKET, {"id": opened["id"]})
    foreign = await stranger(TICKET, {"id": opened["id"]})

    assert listed.data["account"]["tickets"] is None
    assert listed.codes == ["FORBIDDEN"]
    assert listed.errors[0]["path"] == ["account", "tickets"]
    assert listed.errors[0]["extensions"]["requiredPermissions"] == ["SUPPORT_TICKETS"]
    assert fetched.data["node"] is None
    assert fetched.codes == ["FORBIDDEN"]
    assert foreign.data == {"node": None}
    assert foreign.errors == []


async def test_the_related_service_needs_view_services(api: Api, db: Database, settings: Settings) -> None:
    customer = await _customer(api, db, settings)
    with_service = await create_ticket(
        db, account=customer.account, opened_by=customer.owner, service=customer.service
    )
    without_service = await create_ticket(db, account=customer.account, opened_by=customer.owner)
    helper = await _member(api, db, settings, customer.account, Permission.SUPPORT_TICKETS)

    about_service = await helper(TICKET, {"id": _gid("Ticket", with_service.id)})
    about_nothing = await helper(TICKET, {"id": _gid("Ticket", without_service.id)})

    assert about_service.data["node"]["service"] is None
    assert about_service.data["node"]["number"] == with_service.number
    assert about_service.codes == ["FORBIDDEN"]
    assert about_service.errors[0]["path"] == ["node", "service"]
    assert about_service.errors[0]["extensions"]["requiredPermissions"] == ["VIEW_SERVICES"]
    assert about_nothing.errors == []
    assert about_nothing.data["node"]["service"] is None


# Statuses


async def test_statuses_follow_the_conversation(api: Api, db: Database, settings: Settings) -> None:
    customer = await _customer(api, db, settings)
    opened = await _opened(customer.agency_api, customer.account)
    agency = customer.agency_api

    async def reply() -> str:
        response = await agency(REPLY, {"id": opened["id"], "message": "More details."})
        status: str = response.payload("replyToTicket")["ticket"]["status"]
        return status

    async def staff() -> str:
        return (await reply_as_staff(db, settings, number="T-000001", message="Answer.")).ticket.status.value

    assert await reply() == "OPEN"
    assert await staff() == "ANSWERED"
    assert await reply() == "CUSTOMER_REPLY"
    assert await reply() == "CUSTOMER_REPLY"
    assert await staff() == "ANSWERED"
    closed = await agency(CLOSE, {"id": opened["id"]})
    assert closed.payload("closeTicket") == {
        "ticket": {"id": opened["id"], "status": "CLOSED"},
        "userErrors": [],
    }


async def test_a_closed_ticket_takes_no_replies_and_cannot_be_closed_again(
    api: Api, db: Database, settings: Settings
) -> None:
    customer = await _customer(api, db, settings)
    opened = await _opened(customer.agency_api, customer.account)
    await customer.agency_api(CLOSE, {"id": opened["id"]})
    messages_before = await _count(db, TicketMessage)

    reply = await customer.agency_api(REPLY, {"id": opened["id"], "message": "One more thing."})
    close = await customer.agency_api(CLOSE, {"id": opened["id"]})
    with pytest.raises(Rejected) as staff:
        await reply_as_staff(db, settings, number="T-000001", message="Late answer.")

    assert _errors(reply, "replyToTicket") == [(["input", "ticketId"], "INVALID")]
    assert _errors(close, "closeTicket") == [(["input", "ticketId"], "INVALID")]
    assert staff.value.problems[0].message == "Ticket T-000001 is closed; it takes no replies."
    assert await _count(db, TicketMessage) == messages_before
    assert await _outbox(db) == []
    after = await customer.agency_api(TICKET, {"id": opened["id"]})
    assert after.data["node"]["status"] == "CLOSED"


# Numbers


async def test_ticket_numbers_have_no_gaps_when_an_opening_fails(
    api: Api, db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    customer = await _customer(api, db, settings)
    await _opened(customer.agency_api, customer.account)
    refused = await customer.agency_api(OPEN_TICKET, _open(customer.account, department="Nope"))
    assert refused.payload("openTicket")["userErrors"]

    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("the audit log is unavailable")

    # A failure inside the unit of work, after the number was taken, rolls the number back too.
    with monkeypatch.context() as patch:
        patch.setattr(resolvers.tickets, "record", broken)
        failed = await customer.agency_api(OPEN_TICKET, _open(customer.account))
    assert failed.codes == ["INTERNAL_SERVER_ERROR"]

    numbers = [(await _opened(customer.agency_api, customer.account))["number"] for _ in range(2)]

    assert numbers == ["T-000002", "T-000003"]
    assert await _count(db, Ticket) == 3


async def test_tickets_opened_at_once_get_consecutive_numbers(
    api: Api, db: Database, settings: Settings
) -> None:
    customer = await _customer(api, db, settings)

    opened = await asyncio.gather(*(_opened(customer.agency_api, customer.account) for _ in range(5)))

    assert sorted(t["number"] for t in opened) == [f"T-00000{n}" for n in range(1, 6)]


# Listing and batching


async def test_tickets_are_listed_newest_first_in_pages(api: Api, db: Database, settings: Settings) -> None:
    customer = await _customer(api, db, settings)
    for subject in ("first", "second", "third"):
        await _opened(customer.agency_api, customer.account, subject=subject)
    account_id = _gid("ClientAccount", customer.account.id)

    first_page = (await customer.agency_api(TICKETS, {"id": account_id, "first": 2})).data["account"][
        "tickets"
    ]
    cursor = first_page["pageInfo"]["endCursor"]
    second_page = (await customer.agency_api(TICKETS, {"id": account_id, "first": 2, "after": cursor})).data[
        "account"
    ]["tickets"]

    assert first_page["totalCount"] == 3
    assert [e["node"]["subject"] for e in first_page["edges"]] == ["third", "second"]
    assert first_page["pageInfo"]["hasNextPage"] is True
    assert [e["node"]["subject"] for e in second_page["edges"]] == ["first"]
    assert second_page["pageInfo"]["hasNextPage"] is False


async def _tickets_with_conversations(db: Database, customer: Customer, count: int) -> None:
    """Tickets opened by the owner or the agency, each answered by staff and then by a colleague."""
    colleague = await create_user(db, name="Colleague")
    await add_member(db, account=customer.account, user=colleague, permissions=[Permission.SUPPORT_TICKETS])
    for index in range(count):
        opener = customer.agency if index % 2 else customer.owner
        ticket = await create_ticket(
            db, account=customer.account, opened_by=opener, service=customer.service, staff_answer="Answer."
        )
        async with db.begin() as session:
            session.add(TicketMessage(ticket_id=ticket.id, author_id=colleague.id, body="Me too."))


@pytest.mark.parametrize("tickets", [1, 30])
async def test_listing_tickets_with_their_conversations_costs_the_same_for_1_and_30(
    api: Api, db: Database, settings: Settings, tickets: int
) -> None:
    customer = await _customer(api, db, settings)
    await _tickets_with_conversations(db, customer, tickets)

    response, statements = await customer.agency_api.count(
        TICKETS, {"id": _gid("ClientAccount", customer.account.id), "first": 50}
    )

    assert response.errors == []
    edges = response.data["account"]["tickets"]["edges"]
    assert len(edges) == tickets
    assert all(
        [m["body"] for m in e["node"]["messages"]] == ["It stopped working.", "Answer.", "Me too."]
        for e in edges
    )
    assert all(
        [m["author"] and m["author"]["name"] for m in e["node"]["messages"]]
        == [e["node"]["openedBy"]["name"], None, "Colleague"]
        for e in edges
    )
    assert all(e["node"]["service"]["label"] == "customer.example" for e in edges)
    # session with its user, the viewer's memberships with the account, the page of tickets (all
    # of them: it is their totalCount), services, messages, openers (users), authors not among the
    # openers (users)
    assert statements == 7, db.counter.statements

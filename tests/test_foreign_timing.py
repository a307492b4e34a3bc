"""Not yours = does not exist, in statements and in time (DESIGN rule 6).

Another account's ID and an ID of nothing at all take the same SQL statements, one for one, and
the same time: the lookup joins the viewer's memberships, so both come back missing from the
same statement. Run alone with `pytest -m timing`.
"""

from __future__ import annotations

import statistics
import time
import uuid
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from clientarea.catalogue import sync_catalogue
from clientarea.settings import Settings
from models.base import uuid7
from models.contacts import Contact
from models.database import Database
from models.permissions import Permission
from models.users import User
from resolvers.ids import decode_global_id, encode_id
from tests.factories import (
    add_member,
    create_account,
    create_domain,
    create_invoice,
    create_service,
    create_ticket,
    create_user,
    session_for,
)
from tests.graphql import Api

pytestmark = pytest.mark.timing

NODE = "query Node($id: ID!) { node(id: $id) { id } }"
UPDATE_CONTACT = """
mutation UpdateContact($id: ID!) {
  updateContact(input: {
    contactId: $id
    contact: {
      firstName: "Max", lastName: "Kunde", email: "max@kunde.example", phone: "+43664123456"
      address: { line1: "Hauptplatz 1", city: "Graz", postalCode: "8010", countryCode: "AT" }
    }
  }) {
    contact { id }
    userErrors { field code }
  }
}
"""
REMOVE_MEMBER = """
mutation Remove($id: ID!) {
  removeMember(input: { membershipId: $id }) { removedMembershipId userErrors { field code } }
}
"""

SAMPLES = 300
WARM_UP = 40
# The medians of foreign and missing may differ by this much, in seconds.
TOLERANCE = 0.0003
ATTEMPTS = 3


@dataclass(frozen=True)
class World:
    viewer: Api
    # Global IDs of the stranger's objects, by type name, and of the viewer's own.
    foreign: dict[str, str]
    own: dict[str, str]


async def _objects(db: Database, owner: User, member: User) -> dict[str, str]:
    account = await create_account(db, owner=owner)
    membership = await add_member(db, account=account, user=member, permissions=[Permission.VIEW_SERVICES])
    service = await create_service(db, account=account, label="www.example.at")
    domain = await create_domain(db, account=account, name=f"{account.id.hex[:12]}.at")
    invoice = await create_invoice(db, account=account, placed_by=owner)
    ticket = await create_ticket(db, account=account, opened_by=owner)
    contact = await _contact(db, account.id)
    assert invoice.order_id is not None
    return {
        "ClientAccount": encode_id("ClientAccount", account.id),
        "Membership": encode_id("Membership", membership.id),
        "Contact": encode_id("Contact", contact),
        "Service": encode_id("Service", service.id),
        "Domain": encode_id("Domain", domain.id),
        "Invoice": encode_id("Invoice", invoice.id),
        "Order": encode_id("Order", invoice.order_id),
        "Ticket": encode_id("Ticket", ticket.id),
    }


async def _contact(db: Database, account_id: uuid.UUID) -> uuid.UUID:
    """A contact besides the primary one (that one mirrors the billing profile, it is not updated)."""
    async with db.begin() as session:
        primary = await session.scalar(select(Contact).where(Contact.account_id == account_id))
        assert primary is not None
        columns = {c.key: getattr(primary, c.key) for c in Contact.__table__.columns if c.key != "id"}
        contact = Contact(**(columns | {"is_primary": False, "first_name": "Other"}))
        session.add(contact)
    return contact.id


@pytest.fixture
async def world(api: Api, db: Database, settings: Settings) -> World:
    await sync_catalogue(db)
    viewer = await create_user(db, email="viewer@example.com")
    stranger = await create_user(db, email="stranger@example.com")
    helper = await create_user(db, email="helper@example.com")
    own = await _objects(db, viewer, helper)
    foreign = await _objects(db, stranger, await create_user(db))
    api.set_session(await session_for(db, settings, viewer))
    return World(api, foreign, own)


def _missing(global_id: str) -> str:
    """A well-formed ID of the same type that names nothing."""
    type_name, _ = decode_global_id(global_id)
    return encode_id(type_name, uuid7())


CASES: dict[str, tuple[str, str, str]] = {
    # name: (document, type of the ID, root field of the answer)
    "node": (NODE, "Contact", "node"),
    "updateContact": (UPDATE_CONTACT, "Contact", "updateContact"),
    "removeMember": (REMOVE_MEMBER, "Membership", "removeMember"),
}


@pytest.mark.parametrize(
    "type_name", ["ClientAccount", "Membership", "Contact", "Service", "Domain", "Invoice", "Order", "Ticket"]
)
async def test_node_of_another_account_costs_the_statements_of_a_missing_one(
    world: World, type_name: str
) -> None:
    foreign_id = world.foreign[type_name]
    foreign, foreign_statements = await world.viewer.count(NODE, {"id": foreign_id})
    missing, missing_statements = await world.viewer.count(NODE, {"id": _missing(foreign_id)})
    mine, mine_statements = await world.viewer.count(NODE, {"id": world.own[type_name]})

    assert foreign.data == missing.data == {"node": None}
    assert mine.data["node"] == {"id": world.own[type_name]}
    # session lookup, the lookup joined through the viewer's memberships (and their access with it)
    print(type_name, foreign_statements, missing_statements, mine_statements)
    assert foreign_statements == missing_statements == mine_statements == 2


@pytest.mark.parametrize("name", sorted(CASES))
async def test_another_accounts_id_costs_the_statements_of_a_missing_one(world: World, name: str) -> None:
    document, type_name, field = CASES[name]
    foreign_id = world.foreign[type_name]

    foreign, foreign_statements = await world.viewer.count(document, {"id": foreign_id})
    missing, missing_statements = await world.viewer.count(document, {"id": _missing(foreign_id)})

    mine, mine_statements = await world.viewer.count(document, {"id": world.own[type_name]})

    assert foreign.data == missing.data
    if field != "node":
        assert foreign.user_error_codes(field) == ["NOT_FOUND"]
        assert mine.user_error_codes(field) == []
    print(name, foreign_statements, missing_statements, mine_statements)
    assert foreign_statements == missing_statements


async def _medians(api: Api, document: str, foreign: str, missing: str) -> tuple[float, float]:
    """Median times of the two requests, sampled in turns (each first in every other round)."""
    for _ in range(WARM_UP):
        await api(document, {"id": foreign})
        await api(document, {"id": missing})
    times: dict[str, list[float]] = {foreign: [], missing: []}
    for index in range(SAMPLES):
        order = (foreign, missing) if index % 2 == 0 else (missing, foreign)
        for global_id in order:
            started = time.perf_counter()
            await api(document, {"id": global_id})
            times[global_id].append(time.perf_counter() - started)
    return statistics.median(times[foreign]), statistics.median(times[missing])


@pytest.mark.parametrize("name", sorted(CASES))
async def test_another_accounts_id_takes_the_time_of_a_missing_one(world: World, name: str) -> None:
    document, type_name, _ = CASES[name]
    foreign_id = world.foreign[type_name]
    missing_id = _missing(foreign_id)
    measured = []
    for _ in range(ATTEMPTS):
        foreign, missing = await _medians(world.viewer, document, foreign_id, missing_id)
        measured.append((foreign * 1000, missing * 1000))
        print("TIMING", name, measured[-1])
        if abs(foreign - missing) <= TOLERANCE:
            break
    else:
        pytest.fail(f"medians of foreign and missing (ms) differ by more than 0.3 ms: {measured}")

"""Not yours = does not exist, in statements and in time (DESIGN rule 6).

Another account's ID and an ID of nothing at all take the same SQL statements, one for one, and
the same time: the lookup joins the viewer's memberships, so both come back missing from the
same statement. Run alone with `pytest -m timing`.
"""

from __future__ import annotations

import gc
import statistics
import time
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select
from starlette.responses import Response

from clientarea.catalogue import sync_catalogue
from models.base import uuid7
from models.contacts import Contact
from models.database import Database
from models.permissions import Permission
from models.users import User
from resolvers.core.context import Context
from resolvers.core.credentials import authenticate
from resolvers.core.ids import encode_id
from resolvers.core.principal import Principal
from resolvers.core.settings import Settings
from resolvers.loaders import Loaders
from schema.core.ids import decode_global_id
from schema.schema import schema
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
ATTEMPTS = 5


@dataclass(frozen=True)
class World:
    viewer: Api
    # The same viewer for requests executed without the HTTP layer (timing).
    principal: Principal
    db: Database
    settings: Settings
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
    cookie = await session_for(db, settings, viewer)
    api.set_session(cookie)
    signed_in = await authenticate(db, settings, cookie=cookie, authorization=None)
    assert signed_in is not None
    return World(api, signed_in.principal, db, settings, foreign, own)


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
    assert foreign_statements == missing_statements == mine_statements == 2


@pytest.mark.parametrize("name", sorted(CASES))
async def test_another_accounts_id_costs_the_statements_of_a_missing_one(world: World, name: str) -> None:
    document, type_name, field = CASES[name]
    foreign_id = world.foreign[type_name]

    foreign, foreign_statements = await world.viewer.count(document, {"id": foreign_id})
    missing, missing_statements = await world.viewer.count(document, {"id": _missing(foreign_id)})

    mine = await world.viewer(document, {"id": world.own[type_name]})

    assert foreign.data == missing.data
    if field != "node":
        assert foreign.user_error_codes(field) == ["NOT_FOUND"]
        assert mine.user_error_codes(field) == []
    # session lookup, the target joined through the viewer's memberships: NOT_FOUND from there
    assert foreign_statements == missing_statements == 2


async def _execute(world: World, document: str, global_id: str) -> Any:
    """One request through the GraphQL execution, in process, with a fresh context as the endpoint
    makes one: nothing of the HTTP layer, whose time would only add noise to the comparison."""
    context = Context(
        db=world.db,
        settings=world.settings,
        request=None,
        response=Response(),
        request_id="timing",
        principal=world.principal,
        make_loaders=Loaders,
    )
    result = await schema.execute(document, variable_values={"id": global_id}, context_value=context)
    assert result.errors is None, result.errors
    return result.data


async def _sample(world: World, document: str, foreign: str, missing: str) -> tuple[list[float], list[float]]:
    """Times of the two requests, sampled in turns (each first in every other round), with the
    garbage collector held back while sampling so its pauses fall on neither side."""
    times: dict[str, list[float]] = {foreign: [], missing: []}
    gc.collect()
    gc.disable()
    try:
        for index in range(SAMPLES):
            order = (foreign, missing) if index % 2 == 0 else (missing, foreign)
            for global_id in order:
                started = time.perf_counter()
                await _execute(world, document, global_id)
                times[global_id].append(time.perf_counter() - started)
    finally:
        gc.enable()
    return times[foreign], times[missing]


@pytest.mark.parametrize("name", sorted(CASES))
async def test_another_accounts_id_takes_the_time_of_a_missing_one(world: World, name: str) -> None:
    document, type_name, _ = CASES[name]
    foreign_id = world.foreign[type_name]
    missing_id = _missing(foreign_id)
    assert await _execute(world, document, foreign_id) == await _execute(world, document, missing_id)
    for _ in range(WARM_UP):
        await _execute(world, document, foreign_id)
        await _execute(world, document, missing_id)
    # Measured again when the medians differ too much, and judged on each measurement and on all of
    # them together: a busy machine widens the spread, and more samples narrow the median's again.
    # Together they are also judged pair by pair (the median of each pair's difference), which a
    # machine whose load changes between measurements moves least.
    every: tuple[list[float], list[float]] = ([], [])
    measured = []
    for _ in range(ATTEMPTS):
        foreign, missing = await _sample(world, document, foreign_id, missing_id)
        every[0].extend(foreign)
        every[1].extend(missing)
        for pair in ((foreign, missing), every):
            medians = statistics.median(pair[0]), statistics.median(pair[1])
            measured.append((round(medians[0] * 1000, 3), round(medians[1] * 1000, 3)))
            if abs(medians[0] - medians[1]) <= TOLERANCE:
                print(f"{name}: medians foreign, missing (ms) {measured[-1]}")  # seen with -s
                return
        paired = statistics.median(f - m for f, m in zip(*every, strict=True))
        if abs(paired) <= TOLERANCE:
            print(f"{name}: median of paired differences {paired * 1000:.3f} ms, medians {measured}")
            return
    pytest.fail(f"medians of foreign and missing (ms) differ by more than 0.3 ms: {measured}")

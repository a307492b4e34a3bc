"""Scalars and enums as the contract describes them: descriptions, specifications, and instants
always written in UTC with `Z`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from strawberry.exceptions import StrawberryInputCoercionError

from models.database import Database
from resolvers.core.ids import encode_id
from resolvers.core.settings import Settings
from schema.core.scalars import DATE_SPEC, DATE_TIME_SPEC, parse_date_time, serialize_date_time
from tests.factories import create_account, create_user, session_for
from tests.graphql import Api

SCALAR = "query($name: String!) { __type(name: $name) { description specifiedByURL } }"
ENUM = "query($name: String!) { __type(name: $name) { description enumValues { name description } } }"
CREATE_TOKEN = """
mutation($input: CreateApiTokenInput!) {
  createApiToken(input: $input) { apiToken { expiresAt } userErrors { field code } }
}
"""


@pytest.mark.parametrize(
    ("name", "described", "spec"),
    [
        ("DateTime", "An ISO-8601 instant with timezone", DATE_TIME_SPEC),
        ("Date", "An ISO-8601 calendar date", DATE_SPEC),
        ("Decimal", "A decimal amount as a string", None),
    ],
)
async def test_scalars_carry_the_contracts_description_and_spec(
    api: Api, name: str, described: str, spec: str | None
) -> None:
    scalar = (await api(SCALAR, {"name": name})).data["__type"]

    assert scalar["description"].startswith(described)
    assert scalar["specifiedByURL"] == spec


@pytest.mark.parametrize("name", ["Permission", "MembershipRole"])
async def test_every_permission_and_role_says_what_it_means(api: Api, name: str) -> None:
    enum = (await api(ENUM, {"name": name})).data["__type"]

    assert enum["description"]
    assert [v["name"] for v in enum["enumValues"] if not v["description"]] == []


async def test_instants_are_written_in_utc_with_z(api: Api, db: Database, settings: Settings) -> None:
    owner = await create_user(db)
    account = await create_account(db, owner=owner)
    api.set_session(await session_for(db, settings, owner))

    response = await api(
        "query($id: ID!) { account(id: $id) { createdAt } }", {"id": encode_id("ClientAccount", account.id)}
    )

    created = response.data["account"]["createdAt"]
    assert created.endswith("Z")
    assert "+" not in created
    assert abs(datetime.fromisoformat(created) - datetime.now(UTC)) < timedelta(minutes=5)


async def test_an_input_with_another_offset_means_the_same_instant(
    api: Api, db: Database, settings: Settings
) -> None:
    owner = await create_user(db)
    await create_account(db, owner=owner)
    api.set_session(await session_for(db, settings, owner))
    year = datetime.now(UTC).year + 1

    response = await api(
        CREATE_TOKEN, {"input": {"name": "partner", "expiresAt": f"{year}-06-01T19:30:00+01:00"}}
    )

    assert response.payload("createApiToken")["apiToken"]["expiresAt"] == f"{year}-06-01T18:30:00Z"


@pytest.mark.parametrize(
    "value", ["yesterday", "2026-13-01T00:00:00Z", "0001-01-01T00:00:00+01:00", "9" * 100, 1767225600]
)
async def test_a_malformed_instant_is_bad_user_input(
    api: Api, db: Database, settings: Settings, value: object
) -> None:
    owner = await create_user(db)
    api.set_session(await session_for(db, settings, owner))

    response = await api(CREATE_TOKEN, {"input": {"name": "partner", "expiresAt": value}})

    assert response.codes == ["BAD_USER_INPUT"]


def test_serialising_normalises_any_offset_and_naive_values() -> None:
    vienna = datetime(2026, 11, 26, 19, 0, tzinfo=timezone(timedelta(hours=1)))
    naive = datetime(2026, 11, 26, 18, 0)

    assert serialize_date_time(vienna) == "2026-11-26T18:00:00Z"
    assert serialize_date_time(naive) == "2026-11-26T18:00:00Z"
    assert parse_date_time("2026-11-26T19:00:00+01:00") == datetime(2026, 11, 26, 18, 0, tzinfo=UTC)
    with pytest.raises(StrawberryInputCoercionError):
        parse_date_time("2026-11-26 nonsense")

"""Gated fields decide the same whether the viewer's access to the account is already known in the
request (read by `account(id:)`, primed by the account list) or still has to be read."""

from __future__ import annotations

from models.database import Database
from models.permissions import Permission
from resolvers.core.ids import encode_id
from resolvers.core.settings import Settings
from tests.factories import add_member, create_account, create_service, create_user, session_for
from tests.graphql import Api

# The account is reached through a service: nothing has read the viewer's access to it before.
THROUGH_SERVICES = """
query { viewer { services(first: 10) { edges { node { account { name billingProfile { email } } } } } } }
"""
# The account is read by ID first: its access is known when billingProfile is checked.
BY_ID = "query($id: ID!) { account(id: $id) { name billingProfile { email } } }"


async def _member(api: Api, db: Database, settings: Settings, *permissions: Permission) -> tuple[Api, str]:
    owner = await create_user(db, name="Owner")
    account = await create_account(db, owner=owner, name="Customer")
    await create_service(db, account=account, label="www.example.at")
    member = await create_user(db, name="Member")
    await add_member(db, account=account, user=member, permissions=list(permissions))
    client = api.new()
    client.set_session(await session_for(db, settings, member))
    return client, encode_id("ClientAccount", account.id)


async def test_a_gated_field_of_an_account_reached_through_a_list_is_forbidden_without_permission(
    api: Api, db: Database, settings: Settings
) -> None:
    # Given a member who may see services but not billing details
    client, account_id = await _member(api, db, settings, Permission.VIEW_SERVICES)
    # When they read the billing profile through a service, and through the account itself
    through_services = await client(THROUGH_SERVICES)
    by_id = await client(BY_ID, {"id": account_id})
    # Then both answer null with FORBIDDEN at the field's path
    node = through_services.data["viewer"]["services"]["edges"][0]["node"]
    assert node["account"] == {"name": "Customer", "billingProfile": None}
    assert through_services.codes == ["FORBIDDEN"]
    assert through_services.errors[0]["path"][-1] == "billingProfile"
    assert by_id.data["account"] == {"name": "Customer", "billingProfile": None}
    assert by_id.codes == ["FORBIDDEN"]


async def test_a_gated_field_of_an_account_reached_through_a_list_resolves_with_permission(
    api: Api, db: Database, settings: Settings
) -> None:
    # Given a member who may see services and invoices
    client, account_id = await _member(api, db, settings, Permission.VIEW_SERVICES, Permission.VIEW_INVOICES)
    # When they read the billing profile through a service, and through the account itself
    through_services = await client(THROUGH_SERVICES)
    by_id = await client(BY_ID, {"id": account_id})
    # Then both answer it
    assert through_services.errors == []
    node = through_services.data["viewer"]["services"]["edges"][0]["node"]
    assert node["account"]["billingProfile"] is not None
    assert by_id.errors == []
    assert by_id.data["account"]["billingProfile"] == node["account"]["billingProfile"]

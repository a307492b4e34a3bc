"""node and nodes: everything by global ID, with the visibility rules of every other path."""

from __future__ import annotations

from models.database import Database
from models.permissions import Permission
from resolvers.core.ids import encode_id
from resolvers.core.settings import Settings
from tests.factories import add_member, create_account, create_user, session_for
from tests.graphql import Api

NODE = """
query Node($id: ID!) {
  node(id: $id) {
    __typename id
    ... on ClientAccount { name }
    ... on User { email }
    ... on Membership { role permissions user { email } account { name } }
  }
}
"""
NODES = "query Nodes($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }"


async def test_node_fetches_what_the_viewer_may_see(api: Api, db: Database, settings: Settings) -> None:
    viewer = await create_user(db, email="viewer@example.com")
    colleague = await create_user(db, email="colleague@example.com")
    account = await create_account(db, owner=viewer, name="Shared")
    membership = await add_member(db, account=account, user=colleague, permissions=[Permission.VIEW_DOMAINS])
    api.set_session(await session_for(db, settings, viewer))

    account_node = (await api(NODE, {"id": encode_id("ClientAccount", account.id)})).data["node"]
    user_node = (await api(NODE, {"id": encode_id("User", colleague.id)})).data["node"]
    member_node = (await api(NODE, {"id": encode_id("Membership", membership.id)})).data["node"]

    assert account_node["name"] == "Shared"
    assert user_node["email"] == "colleague@example.com"
    assert member_node["role"] == "USER"
    assert member_node["permissions"] == ["VIEW_DOMAINS"]
    assert member_node["user"] == {"email": "colleague@example.com"}
    assert member_node["account"] == {"name": "Shared"}


async def test_not_yours_is_null_exactly_like_missing(api: Api, db: Database, settings: Settings) -> None:
    viewer = await create_user(db)
    stranger = await create_user(db)
    foreign = await create_account(db, owner=stranger)
    api.set_session(await session_for(db, settings, viewer))
    deleted_user = await create_user(db)
    missing_id = encode_id("User", deleted_user.id)
    async with db.begin() as session:
        await session.delete(await session.get_one(type(deleted_user), deleted_user.id))

    responses = [
        await api(NODE, {"id": encode_id("ClientAccount", foreign.id)}),
        await api(NODE, {"id": encode_id("User", stranger.id)}),
        await api(NODE, {"id": missing_id}),
        await api(NODE, {"id": encode_id("Invoice", foreign.id)}),
    ]

    for response in responses:
        assert response.data == {"node": None}
        assert response.errors == []


async def test_membership_of_others_needs_manage_users(api: Api, db: Database, settings: Settings) -> None:
    viewer = await create_user(db)
    owner = await create_user(db)
    account = await create_account(db, owner=owner)
    mine = await add_member(db, account=account, user=viewer, permissions=[Permission.VIEW_SERVICES])
    other = await add_member(db, account=account, user=await create_user(db))
    api.set_session(await session_for(db, settings, viewer))

    own = await api(NODE, {"id": encode_id("Membership", mine.id)})
    theirs = await api(NODE, {"id": encode_id("Membership", other.id)})

    assert own.data["node"]["role"] == "USER"
    assert theirs.data == {"node": None}
    assert theirs.codes == ["FORBIDDEN"]
    assert theirs.errors[0]["extensions"]["requiredPermissions"] == ["MANAGE_USERS"]


async def test_nodes_answers_each_id_on_its_own(api: Api, db: Database, settings: Settings) -> None:
    viewer = await create_user(db)
    account = await create_account(db, owner=viewer)
    foreign = await create_account(db, owner=await create_user(db))
    api.set_session(await session_for(db, settings, viewer))

    response = await api(
        NODES,
        {"ids": [encode_id("ClientAccount", account.id), encode_id("ClientAccount", foreign.id), "x"]},
    )

    assert response.data["nodes"][0]["__typename"] == "ClientAccount"
    assert response.data["nodes"][1:] == [None, None]
    assert response.codes == ["BAD_USER_INPUT"]
    assert response.errors[0]["path"] == ["nodes", 2]


async def test_anonymous_sees_no_node_and_no_viewer(api: Api, db: Database) -> None:
    account = await create_account(db, owner=await create_user(db))

    response = await api(
        "query($id: ID!) { viewer { user { id } } node(id: $id) { id } account(id: $id) { id } }",
        {"id": encode_id("ClientAccount", account.id)},
    )

    assert response.data == {"viewer": None, "node": None, "account": None}
    assert response.errors == []


async def test_malformed_node_id_is_bad_user_input(api: Api, db: Database, settings: Settings) -> None:
    api.set_session(await session_for(db, settings, await create_user(db)))

    response = await api(NODE, {"id": "Q2xpZW50QWNjb3VudDpub3QtYS11dWlk"})

    assert response.data == {"node": None}
    assert response.codes == ["BAD_USER_INPUT"]


def test_every_type_a_global_id_can_name_becomes_its_node() -> None:
    from resolvers.nodes import FETCHERS
    from schema.nodes import _WRAP

    assert set(_WRAP) == set(FETCHERS)

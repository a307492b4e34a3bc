"""The product catalogue: loading it from its file, and reading it through the public API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select

from clientarea.catalogue import sync_catalogue
from clientarea.catalogue_file import CATALOGUE_FILE, CatalogueError, read_catalogue
from models.catalogue import Product
from models.database import Database
from resolvers.core.ids import encode_id
from resolvers.core.settings import Settings
from tests.factories import create_user, session_for
from tests.graphql import Api

# The contract's operation (contract/operations/orders.graphql), as the dashboard sends it.
CATALOGUE = """
query Catalogue($type: ProductType) {
  products(first: 100, type: $type) {
    edges {
      node {
        id name type tld
        pricing { billingCycle amount { amount currencyCode } }
        configurableOptions { key name choices { value name surcharge { amount currencyCode } } }
      }
    }
  }
}
"""
PAGE = """
query Page($first: Int, $after: String) {
  products(first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage endCursor }
    edges { cursor node { name } }
  }
}
"""
NODE = """
query Node($id: ID!) {
  node(id: $id) { __typename id ... on Product { name type tld pricing { billingCycle amount { amount } } } }
}
"""
SURCHARGES = """
{ products(first: 1) { edges { node { configurableOptions { choices {
  value surcharge { amount } surcharges { billingCycle amount { amount currencyCode } }
} } } } } }
"""

SMALL = """
[[products]]
key = "hosting"
name = "Hosting"
description = "A website."
type = "HOSTING"
prices = { MONTHLY = "4.90", ANNUALLY = "49" }

[[products.options]]
key = "disk"
name = "Disk space"

[[products.options.choices]]
value = "10"
name = "10 GB"

[[products.options.choices]]
value = "50"
name = "50 GB"
surcharges = { MONTHLY = "2.5", ANNUALLY = "25.00" }

[[products]]
key = "domain-at"
name = ".at Domain"
type = "DOMAIN"
tld = "at"
prices = { ANNUALLY = "14.90" }

[[products]]
key = "ssl"
name = "SSL"
type = "SSL"
prices = { ANNUALLY = "29.00" }
"""


@pytest.fixture
async def empty_catalogue(db: Database) -> None:
    """No products, whatever the migrations loaded: their prices and options go with them (cascade)."""
    async with db.begin() as session:
        await session.execute(delete(Product))


def catalogue_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "catalogue.toml"
    path.write_text(text)
    return path


async def listed(api: Api, product_type: str | None = None) -> list[dict[str, Any]]:
    response = await api(CATALOGUE, {"type": product_type})
    assert response.errors == []
    return [edge["node"] for edge in response.data["products"]["edges"]]


async def stored(db: Database) -> dict[str, Product]:
    async with db.read() as session:
        return {product.key: product for product in await session.scalars(select(Product))}


# ---------------------------------------------------------------- loading the file


@pytest.mark.usefixtures("empty_catalogue")
async def test_sync_loads_every_product_with_its_prices_and_options(
    api: Api, db: Database, tmp_path: Path
) -> None:
    changes = await sync_catalogue(db, catalogue_file(tmp_path, SMALL))

    assert changes.added == ["hosting", "domain-at", "ssl"]
    assert changes.updated == changes.deactivated == []
    hosting, domain, ssl = await listed(api)
    assert (hosting["name"], hosting["type"], hosting["tld"]) == ("Hosting", "HOSTING", None)
    assert hosting["pricing"] == [
        {"billingCycle": "MONTHLY", "amount": {"amount": "4.90", "currencyCode": "EUR"}},
        {"billingCycle": "ANNUALLY", "amount": {"amount": "49.00", "currencyCode": "EUR"}},
    ]
    assert hosting["configurableOptions"] == [
        {
            "key": "disk",
            "name": "Disk space",
            "choices": [
                {"value": "10", "name": "10 GB", "surcharge": {"amount": "0.00", "currencyCode": "EUR"}},
                {"value": "50", "name": "50 GB", "surcharge": {"amount": "2.50", "currencyCode": "EUR"}},
            ],
        }
    ]
    assert (domain["tld"], domain["pricing"][0]["amount"]["amount"]) == ("at", "14.90")
    assert (ssl["type"], ssl["configurableOptions"]) == ("SSL", [])


@pytest.mark.usefixtures("empty_catalogue")
async def test_a_second_sync_changes_nothing(db: Database, tmp_path: Path) -> None:
    path = catalogue_file(tmp_path, SMALL)
    await sync_catalogue(db, path)
    before = await stored(db)
    db.counter.reset()

    changes = await sync_catalogue(db, path)

    assert not changes.changed
    writes = [s for s in db.counter.statements if s.split()[0] in {"INSERT", "UPDATE", "DELETE"}]
    assert writes == []
    assert {key: product.id for key, product in (await stored(db)).items()} == {
        key: product.id for key, product in before.items()
    }


@pytest.mark.usefixtures("empty_catalogue")
async def test_a_changed_price_is_updated_in_place(api: Api, db: Database, tmp_path: Path) -> None:
    await sync_catalogue(db, catalogue_file(tmp_path, SMALL))
    before = await stored(db)

    changed = SMALL.replace('ANNUALLY = "14.90"', 'ANNUALLY = "15.90"')
    changes = await sync_catalogue(db, catalogue_file(tmp_path, changed))

    assert (changes.added, changes.updated, changes.deactivated) == ([], ["domain-at"], [])
    [domain] = await listed(api, "DOMAIN")
    assert domain["pricing"] == [
        {"billingCycle": "ANNUALLY", "amount": {"amount": "15.90", "currencyCode": "EUR"}}
    ]
    assert domain["id"] == encode_id("Product", before["domain-at"].id)


@pytest.mark.usefixtures("empty_catalogue")
async def test_changed_options_replace_the_old_ones(api: Api, db: Database, tmp_path: Path) -> None:
    await sync_catalogue(db, catalogue_file(tmp_path, SMALL))

    changed = SMALL.replace('value = "50"\nname = "50 GB"', 'value = "100"\nname = "100 GB"')
    changes = await sync_catalogue(db, catalogue_file(tmp_path, changed))

    assert changes.updated == ["hosting"]
    [hosting] = await listed(api, "HOSTING")
    assert [c["value"] for c in hosting["configurableOptions"][0]["choices"]] == ["10", "100"]


@pytest.mark.usefixtures("empty_catalogue")
async def test_a_removed_product_is_deactivated_not_deleted(api: Api, db: Database, tmp_path: Path) -> None:
    await sync_catalogue(db, catalogue_file(tmp_path, SMALL))
    ssl_id = (await stored(db))["ssl"].id

    without_ssl = SMALL[: SMALL.index('[[products]]\nkey = "ssl"')]
    changes = await sync_catalogue(db, catalogue_file(tmp_path, without_ssl))

    assert changes.deactivated == ["ssl"]
    assert [p["name"] for p in await listed(api)] == ["Hosting", ".at Domain"]
    assert (await stored(db))["ssl"].active is False
    # Services of it still show it by ID; when it is sold again, it is the same product.
    node = (await api(NODE, {"id": encode_id("Product", ssl_id)})).data["node"]
    assert node["name"] == "SSL"
    again = await sync_catalogue(db, catalogue_file(tmp_path, SMALL))
    assert again.updated == ["ssl"]
    assert [p["id"] for p in await listed(api, "SSL")] == [encode_id("Product", ssl_id)]


@pytest.mark.usefixtures("empty_catalogue")
async def test_a_tld_can_pass_from_one_product_to_another(api: Api, db: Database, tmp_path: Path) -> None:
    two_domains = SMALL + '[[products]]\nkey = "domain-de"\nname = "DE"\ntype = "DOMAIN"\ntld = "de"\n'
    two_domains += 'prices = { ANNUALLY = "9.90" }\n'
    await sync_catalogue(db, catalogue_file(tmp_path, two_domains))

    swapped = two_domains.replace('tld = "at"', 'tld = "xx"').replace('tld = "de"', 'tld = "at"')
    swapped = swapped.replace('tld = "xx"', 'tld = "de"')
    renamed = two_domains.replace('key = "domain-at"', 'key = "domain-at-2"')
    swap = await sync_catalogue(db, catalogue_file(tmp_path, swapped))
    rename = await sync_catalogue(db, catalogue_file(tmp_path, renamed))

    assert swap.updated == ["domain-at", "domain-de"]
    assert (rename.added, rename.deactivated) == (["domain-at-2"], ["domain-at"])
    assert [(p["name"], p["tld"]) for p in await listed(api, "DOMAIN")] == [
        (".at Domain", "at"),
        ("DE", "de"),
    ]


@pytest.mark.usefixtures("empty_catalogue")
async def test_the_shipped_catalogue_loads(api: Api, db: Database) -> None:
    await sync_catalogue(db)

    products = await listed(api)

    assert [p["name"] for p in products] == [spec.name for spec in read_catalogue(CATALOGUE_FILE)]
    assert {p["tld"] for p in products if p["type"] == "DOMAIN"} >= {"at", "de", "com", "eu", "org"}
    assert {p["type"] for p in products} == {"HOSTING", "DOMAIN", "EMAIL", "SSL", "SERVER"}


# ---------------------------------------------------------------- validating the file

INVALID = [
    ('type = "SSL"', 'type = "VPN"', "product 'ssl': unknown product type 'VPN'"),
    ('prices = { ANNUALLY = "29.00" }', 'prices = { WEEKLY = "1.00" }', "unknown billing cycle 'WEEKLY'"),
    ('tld = "at"\n', "", "product 'domain-at': a DOMAIN product needs a 'tld'"),
    (
        'prices = { ANNUALLY = "14.90" }',
        'prices = { MONTHLY = "1.49", ANNUALLY = "14.90" }',
        "product 'domain-at': a DOMAIN product has only an ANNUALLY price",
    ),
    ('key = "ssl"', 'key = "hosting"', "product 'hosting': duplicate key"),
    ('ANNUALLY = "29.00"', 'ANNUALLY = "-29.00"', "product 'ssl': prices.ANNUALLY is negative"),
    ('ANNUALLY = "29.00"', "ANNUALLY = 29.0", "product 'ssl': prices.ANNUALLY must be a decimal string"),
    ('ANNUALLY = "29.00"', 'ANNUALLY = "29.001"', "product 'ssl': prices.ANNUALLY is not a decimal amount"),
    ('ANNUALLY = "29.00"', 'ANNUALLY = "29,00"', "product 'ssl': prices.ANNUALLY is not a decimal amount"),
    ('name = "SSL"', 'name = "SSL"\ncolour = "green"', "product 'ssl': unknown field 'colour'"),
    (
        'name = "10 GB"',
        'name = "10 GB"\nsurcharges = { MONTHLY = "1.00", ANNUALLY = "10.00" }',
        "product 'hosting', option 'disk', choice '10': the first choice",
    ),
    (
        'surcharges = { MONTHLY = "2.5", ANNUALLY = "25.00" }',
        'surcharges = { MONTHLY = "2.5" }',
        "choice '50': surcharges missing for billing cycles ['ANNUALLY']",
    ),
    (
        'surcharges = { MONTHLY = "2.5", ANNUALLY = "25.00" }',
        'surcharges = { MONTHLY = "2.5", ANNUALLY = "25.00", BIENNIALLY = "45.00" }',
        "choice '50': surcharges for billing cycles the product is not sold in: ['BIENNIALLY']",
    ),
]


@pytest.mark.parametrize(("old", "new", "message"), INVALID, ids=[case[2][:50] for case in INVALID])
def test_an_invalid_file_is_rejected_naming_the_product(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    assert old in SMALL
    path = catalogue_file(tmp_path, SMALL.replace(old, new, 1))

    with pytest.raises(CatalogueError) as raised:
        read_catalogue(path)

    assert message in str(raised.value)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    broken = SMALL.replace('type = "SSL"', 'type = "VPN"').replace('tld = "at"\n', "")

    with pytest.raises(CatalogueError) as raised:
        read_catalogue(catalogue_file(tmp_path, broken))

    assert len(raised.value.problems) == 2


@pytest.mark.usefixtures("empty_catalogue")
async def test_an_invalid_file_changes_nothing(db: Database, tmp_path: Path) -> None:
    await sync_catalogue(db, catalogue_file(tmp_path, SMALL))

    with pytest.raises(CatalogueError):
        await sync_catalogue(db, catalogue_file(tmp_path, SMALL.replace('key = "ssl"', 'key = "SSL!"')))

    assert sorted(await stored(db)) == ["domain-at", "hosting", "ssl"]


# ---------------------------------------------------------------- the public API


@pytest.fixture
async def small_catalogue(empty_catalogue: None, db: Database, tmp_path: Path) -> dict[str, Product]:
    await sync_catalogue(db, catalogue_file(tmp_path, SMALL))
    return await stored(db)


@pytest.mark.usefixtures("small_catalogue")
async def test_anonymous_and_signed_in_callers_see_the_same_catalogue(
    api: Api, db: Database, settings: Settings
) -> None:
    signed_in = api.new()
    signed_in.set_session(await session_for(db, settings, await create_user(db)))

    anonymous = await api(CATALOGUE)
    member = await signed_in(CATALOGUE)

    assert anonymous.errors == member.errors == []
    assert len(anonymous.data["products"]["edges"]) == 3
    assert anonymous.data == member.data


@pytest.mark.usefixtures("small_catalogue")
async def test_products_filtered_by_type(api: Api) -> None:
    domains = await listed(api, "DOMAIN")
    servers = await listed(api, "SERVER")

    assert [(p["name"], p["tld"]) for p in domains] == [(".at Domain", "at")]
    assert servers == []


@pytest.mark.usefixtures("small_catalogue")
async def test_products_page_by_page_in_catalogue_order(api: Api) -> None:
    first = (await api(PAGE, {"first": 2})).data["products"]
    rest = (await api(PAGE, {"first": 2, "after": first["pageInfo"]["endCursor"]})).data["products"]

    assert first["totalCount"] == rest["totalCount"] == 3
    assert [e["node"]["name"] for e in first["edges"]] == ["Hosting", ".at Domain"]
    assert first["pageInfo"] == {
        "hasNextPage": True,
        "hasPreviousPage": False,
        "endCursor": first["edges"][-1]["cursor"],
    }
    assert [e["node"]["name"] for e in rest["edges"]] == ["SSL"]
    assert (rest["pageInfo"]["hasNextPage"], rest["pageInfo"]["hasPreviousPage"]) == (False, True)


@pytest.mark.usefixtures("small_catalogue")
@pytest.mark.parametrize("variables", [{"first": 101}, {"after": "not a cursor"}])
async def test_bad_page_arguments_are_bad_user_input(api: Api, variables: dict[str, Any]) -> None:
    response = await api(PAGE, variables)

    assert response.codes == ["BAD_USER_INPUT"]


async def test_a_choice_lists_its_surcharge_in_every_billing_cycle(
    api: Api, small_catalogue: dict[str, Product]
) -> None:
    response = await api(SURCHARGES)

    [option] = response.data["products"]["edges"][0]["node"]["configurableOptions"]
    free, bigger = option["choices"]
    assert free["surcharges"] == [
        {"billingCycle": "MONTHLY", "amount": {"amount": "0.00", "currencyCode": "EUR"}},
        {"billingCycle": "ANNUALLY", "amount": {"amount": "0.00", "currencyCode": "EUR"}},
    ]
    assert bigger["surcharge"] == {"amount": "2.50"}
    assert [s["amount"]["amount"] for s in bigger["surcharges"]] == ["2.50", "25.00"]


async def test_node_returns_a_product_to_anyone(
    api: Api, db: Database, settings: Settings, small_catalogue: dict[str, Product]
) -> None:
    product_id = encode_id("Product", small_catalogue["domain-at"].id)
    signed_in = api.new()
    signed_in.set_session(await session_for(db, settings, await create_user(db)))

    anonymous = await api(NODE, {"id": product_id})
    member = await signed_in(NODE, {"id": product_id})

    assert anonymous.errors == []
    assert anonymous.data["node"] == {
        "__typename": "Product",
        "id": product_id,
        "name": ".at Domain",
        "type": "DOMAIN",
        "tld": "at",
        "pricing": [{"billingCycle": "ANNUALLY", "amount": {"amount": "14.90"}}],
    }
    assert member.data == anonymous.data


@pytest.mark.usefixtures("empty_catalogue")
async def test_the_catalogue_costs_the_same_statements_for_one_product_and_for_all(
    api: Api, db: Database
) -> None:
    await sync_catalogue(db)
    one_product = CATALOGUE.replace("first: 100", "first: 1")

    one, statements_for_one = await api.count(one_product)
    every, statements_for_all = await api.count(CATALOGUE)

    assert one.errors == every.errors == []
    assert len(one.data["products"]["edges"]) == 1
    assert len(every.data["products"]["edges"]) == len(read_catalogue(CATALOGUE_FILE))
    # the page of products, their prices, their options, the options' choices, the choices' surcharges
    assert statements_for_one == statements_for_all == 5, db.counter.statements

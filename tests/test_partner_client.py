"""examples/partner_client.py against a live server: it pages through every service the token
reaches, reports FORBIDDEN fields with their permissions, retries RATE_LIMITED, and its exit code
says whether anything went wrong."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from models.database import Database
from models.permissions import Permission
from resolvers.core.ids import encode_id
from tests.factories import add_member, create_account, create_service, create_user
from tests.matrix_world import add_api_token
from tests.servers import clientarea_server

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "partner_client.py"


def _example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("partner_client", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def _agency(db: Database, customer_permissions: list[Permission]) -> tuple[str, list[str]]:
    """An agency owning an account with 3 services, and a member of a customer's account (holding
    `customer_permissions`) with 2; returns its API token and the services' global IDs."""
    agency = await create_user(db, email="agency@example.com", name="Agency")
    customer = await create_user(db, email="customer@example.com", name="Customer")
    own = await create_account(db, owner=agency, name="Agency Ltd")
    theirs = await create_account(db, owner=customer, name="Customer GmbH")
    await add_member(db, account=theirs, user=agency, permissions=customer_permissions, invited_by=customer)
    services = [
        await create_service(db, account=account, label=f"www.site{index}.at")
        for index, account in enumerate([own, own, own, theirs, theirs])
    ]
    async with db.begin() as session:
        token, _ = add_api_token(session, agency, None)
    return token, [encode_id("Service", service.id) for service in services]


async def _run(base: str, token: str, page_size: int = 2) -> tuple[int, str, str]:
    env = {
        **os.environ,
        "CLIENTAREA_API_URL": f"{base}/graphql",
        "CLIENTAREA_API_TOKEN": token,
        "CLIENTAREA_PAGE_SIZE": str(page_size),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLE),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


@pytest.mark.e2e
async def test_it_lists_every_service_across_accounts_page_by_page(database_url: str, db: Database) -> None:
    every = [Permission.VIEW_SERVICES, Permission.VIEW_INVOICES]
    token, services = await _agency(db, every)

    async with clientarea_server(database_url, mail_enabled="false") as base:
        code, out, err = await _run(base, token, page_size=2)

    lines = out.splitlines()
    assert code == 0, err
    assert sorted(line.split("\t")[-1] for line in lines) == sorted(services)
    assert {line.split("\t")[0] for line in lines} == {"Agency Ltd", "Customer GmbH"}
    assert all(line.split("\t")[5] == "0 unpaid" for line in lines)
    assert "5 services in 2 accounts" in err
    assert "query cost 12;" in err  # three pages of 2 + 2 (each page's services and invoices)
    assert "0 errors" in err


@pytest.mark.e2e
async def test_a_forbidden_field_is_reported_with_its_permissions_and_fails_the_run(
    database_url: str, db: Database
) -> None:
    token, services = await _agency(db, [Permission.VIEW_SERVICES])

    async with clientarea_server(database_url, mail_enabled="false") as base:
        code, out, err = await _run(base, token, page_size=100)

    lines = out.splitlines()
    customer = [line.split("\t") for line in lines if line.startswith("Customer GmbH")]
    assert code == 1
    assert sorted(line.split("\t")[-1] for line in lines) == sorted(services)
    assert [fields[5] for fields in customer] == ["-", "-"]
    assert err.count("FORBIDDEN at viewer.services.edges.") == 2
    assert "account.unpaidInvoices: the token needs VIEW_INVOICES there" in err
    assert "2 errors" in err


@pytest.mark.e2e
async def test_a_revoked_or_unknown_token_fails_clearly(database_url: str, db: Database) -> None:
    async with clientarea_server(database_url, mail_enabled="false") as base:
        code, out, err = await _run(base, "ca_" + "x" * 38)

    assert code == 1
    assert out == ""
    assert "the API token is invalid, revoked or expired" in err


def test_a_missing_token_or_a_bad_page_size_is_a_usage_error() -> None:
    example = _example()

    assert example.main({}) == 2
    assert example.main({"CLIENTAREA_API_TOKEN": "ca_x", "CLIENTAREA_PAGE_SIZE": "500"}) == 2


def _page(after: str | None) -> dict[str, Any]:
    return {
        "data": {
            "viewer": {
                "services": {
                    "totalCount": 0,
                    "pageInfo": {"hasNextPage": False, "endCursor": after},
                    "edges": [],
                }
            }
        },
        "extensions": {"cost": 2},
    }


RATE_LIMITED = {
    "data": None,
    "errors": [{"message": "Too many requests; try again later.", "extensions": {"code": "RATE_LIMITED"}}],
}


@pytest.fixture
def slept() -> list[float]:
    return []


def test_rate_limited_pages_are_retried_with_back_off(slept: list[float]) -> None:
    answers = iter([RATE_LIMITED, RATE_LIMITED, _page(None)])

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == "Bearer ca_token"
        assert json.loads(request.content)["variables"] == {"first": 100, "after": None}
        return httpx.Response(200, json=next(answers))

    code = _example().main(
        {"CLIENTAREA_API_TOKEN": "ca_token", "CLIENTAREA_API_URL": "http://api.test/graphql"},
        transport=httpx.MockTransport(handler),
        sleep=slept.append,
    )

    assert code == 0
    assert slept == [1.0, 2.0]


def test_it_gives_up_when_the_limit_persists(slept: list[float]) -> None:
    code = _example().main(
        {"CLIENTAREA_API_TOKEN": "ca_token", "CLIENTAREA_API_URL": "http://api.test/graphql"},
        transport=httpx.MockTransport(lambda _request: httpx.Response(200, json=RATE_LIMITED)),
        sleep=slept.append,
    )

    assert code == 1
    assert slept == [1.0, 2.0, 4.0, 8.0, 16.0]

"""The foundation's flow over real HTTP against `clientarea serve` (uvicorn) in its own process."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from models.database import Database
from tests.factories import BILLING

pytestmark = pytest.mark.e2e

SIGN_UP = """
mutation SignUp($input: SignUpInput!) {
  signUp(input: $input) { user { id email } account { id name viewerRole } userErrors { code } }
}
"""
SIGN_IN = """
mutation SignIn($email: String!, $password: String!) {
  signIn(input: { email: $email, password: $password }) { user { email } userErrors { code } }
}
"""
ACCOUNTS = "{ viewer { user { email } accounts { totalCount edges { role node { id name } } } } }"
CREATE_ACCOUNT = """
mutation Create($input: CreateClientAccountInput!) {
  createClientAccount(input: $input) { account { id name viewerRole } userErrors { code } }
}
"""
CREATE_TOKEN = """
mutation Token($input: CreateApiTokenInput!) {
  createApiToken(input: $input) { token apiToken { accounts { id } } userErrors { code } }
}
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
async def server(database_url: str, db: Database) -> AsyncIterator[str]:
    port = _free_port()
    env = {
        **os.environ,
        "CLIENTAREA_DATABASE_URL": database_url,
        "CLIENTAREA_COOKIE_SECURE": "false",
        "CLIENTAREA_PASSWORD_MEMORY_KIB": "1024",
        "CLIENTAREA_PASSWORD_TIME_COST": "1",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "clientarea.cli",
        "serve",
        "--port",
        str(port),
        "--no-migrate",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base) as client:
            for _ in range(100):
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            else:
                pytest.fail("server did not start")
        yield base
    finally:
        process.terminate()
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=10)
        assert b"Traceback" not in stderr, stderr.decode()


async def _gql(client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None) -> Any:
    response = await client.post("/graphql", json={"query": query, "variables": variables or {}})
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


async def test_sign_up_sign_in_second_account_and_a_narrow_token(server: str) -> None:
    async with httpx.AsyncClient(base_url=server) as browser:
        signed_up = await _gql(
            browser,
            SIGN_UP,
            {
                "input": {
                    "email": "agency@example.com",
                    "name": "Web Agency",
                    "password": "a long enough passphrase",
                    "accountName": "Web Agency GmbH",
                    "billingProfile": BILLING,
                }
            },
        )
        assert signed_up["signUp"]["userErrors"] == []

    async with httpx.AsyncClient(base_url=server) as browser:
        signed_in = await _gql(
            browser, SIGN_IN, {"email": "agency@example.com", "password": "a long enough passphrase"}
        )
        assert signed_in["signIn"]["user"] == {"email": "agency@example.com"}
        viewer = (await _gql(browser, ACCOUNTS))["viewer"]
        assert viewer["accounts"]["totalCount"] == 1

        created = await _gql(
            browser, CREATE_ACCOUNT, {"input": {"name": "Agency billing", "billingProfile": BILLING}}
        )
        second = created["createClientAccount"]["account"]
        assert second["viewerRole"] == "OWNER"

        minted = await _gql(
            browser, CREATE_TOKEN, {"input": {"name": "partner", "accountIds": [second["id"]]}}
        )
        token = minted["createApiToken"]["token"]

    async with httpx.AsyncClient(base_url=server, headers={"authorization": f"Bearer {token}"}) as partner:
        seen = (await _gql(partner, ACCOUNTS))["viewer"]["accounts"]

    assert seen["totalCount"] == 1
    assert seen["edges"] == [{"role": "OWNER", "node": {"id": second["id"], "name": "Agency billing"}}]

"""A partner integration's first hour: every service across all the accounts an API token reaches.

    CLIENTAREA_API_TOKEN=ca_… python examples/partner_client.py

Settings (environment): CLIENTAREA_API_TOKEN (required: create one with the `createApiToken`
mutation), CLIENTAREA_API_URL (default http://127.0.0.1:8000/graphql), CLIENTAREA_PAGE_SIZE
(default 100, at most 100).

It pages through `viewer.services` with cursors, prints one tab-separated line per service, reports
each page's `extensions.cost`, retries a RATE_LIMITED answer with back-off, and reports a FORBIDDEN
field with the permissions that would allow it (the rest of the page still counts: partial data).
Money arrives as decimal strings and is summed with Decimal, never float; dates are UTC. It exits 0
when every page came back without an error, 1 otherwise, 2 when it is misconfigured. Needs httpx.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx

SERVICES = """
query PartnerServices($first: Int!, $after: String) {
  viewer {
    services(first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges {
        node {
          id
          label
          status
          nextDueDate
          recurringAmount { amount currencyCode }
          account {
            id
            name
            unpaidInvoices: invoices(first: 1, filter: { status: [UNPAID] }) { totalCount }
          }
        }
      }
    }
  }
}
"""
RETRIES = 5
MAX_BACKOFF_SECONDS = 30.0


class ApiError(Exception):
    """The API could not answer the request at all (as opposed to errors beside partial data)."""


def _codes(body: dict[str, Any]) -> list[str | None]:
    return [(error.get("extensions") or {}).get("code") for error in body.get("errors") or []]


def request(
    client: httpx.Client,
    url: str,
    variables: dict[str, Any],
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """One page; a RATE_LIMITED answer is retried after 1, 2, 4… seconds, RETRIES times at most."""
    for attempt in range(RETRIES + 1):
        try:
            response = client.post(url, json={"query": SERVICES, "variables": variables})
        except httpx.HTTPError as error:
            raise ApiError(f"cannot reach the API: {error}") from error
        if response.status_code == 401:
            raise ApiError("the API token is invalid, revoked or expired (HTTP 401)")
        try:
            body: dict[str, Any] = response.json()
        except ValueError as error:
            raise ApiError(f"HTTP {response.status_code}: not a GraphQL answer") from error
        if "RATE_LIMITED" in _codes(body) and attempt < RETRIES:
            delay = min(2.0**attempt, MAX_BACKOFF_SECONDS)
            print(f"rate limited; retrying in {delay:g} s", file=sys.stderr)
            sleep(delay)
            continue
        if response.status_code >= 400 and body.get("data") is None:
            raise ApiError(f"HTTP {response.status_code}: {_describe(body)}")
        return body
    raise AssertionError("unreachable")


def _describe(body: dict[str, Any]) -> str:
    errors = body.get("errors") or []
    return "; ".join(f"{(e.get('extensions') or {}).get('code')}: {e.get('message')}" for e in errors)


def report_errors(body: dict[str, Any]) -> int:
    """Prints each error of a page; returns how many there were."""
    errors = body.get("errors") or []
    for error in errors:
        extensions = error.get("extensions") or {}
        where = ".".join(str(part) for part in error.get("path") or []) or "request"
        if extensions.get("code") == "FORBIDDEN":
            needed = " or ".join(extensions.get("requiredPermissions") or [])
            print(f"FORBIDDEN at {where}: the token needs {needed} there", file=sys.stderr)
        else:
            print(f"{extensions.get('code')} at {where}: {error.get('message')}", file=sys.stderr)
    return len(errors)


def main(
    environ: dict[str, str] | None = None,
    *,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    env = dict(os.environ if environ is None else environ)
    token = env.get("CLIENTAREA_API_TOKEN", "").strip()
    if not token:
        print("set CLIENTAREA_API_TOKEN to an API token (createApiToken)", file=sys.stderr)
        return 2
    url = env.get("CLIENTAREA_API_URL", "http://127.0.0.1:8000/graphql")
    try:
        page_size = int(env.get("CLIENTAREA_PAGE_SIZE", "100"))
    except ValueError:
        page_size = 0
    if not 1 <= page_size <= 100:
        print("CLIENTAREA_PAGE_SIZE must be a whole number from 1 to 100", file=sys.stderr)
        return 2

    errors = 0
    cost = 0
    listed = 0
    accounts: set[str] = set()
    totals: dict[str, Decimal] = {}
    after: str | None = None
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(headers=headers, timeout=30, transport=transport) as client:
        while True:
            try:
                body = request(client, url, {"first": page_size, "after": after}, sleep=sleep)
            except ApiError as error:
                print(f"error: {error}", file=sys.stderr)
                return 1
            cost += int((body.get("extensions") or {}).get("cost", 0))
            errors += report_errors(body)
            viewer = (body.get("data") or {}).get("viewer")
            if viewer is None:
                print("error: no viewer: the token was not accepted", file=sys.stderr)
                return 1
            page = viewer["services"]
            for edge in page["edges"]:
                service = edge["node"]
                account = service["account"]
                money = service["recurringAmount"]
                accounts.add(account["id"])
                totals[money["currencyCode"]] = totals.get(money["currencyCode"], Decimal(0)) + Decimal(
                    money["amount"]
                )
                unpaid = account["unpaidInvoices"]
                print(
                    "\t".join(
                        [
                            account["name"],
                            service["label"] or "-",
                            service["status"],
                            f"{money['amount']} {money['currencyCode']}",
                            service["nextDueDate"] or "-",
                            "-" if unpaid is None else f"{unpaid['totalCount']} unpaid",
                            service["id"],
                        ]
                    )
                )
                listed += 1
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]

    recurring = ", ".join(f"{amount} {currency}" for currency, amount in sorted(totals.items()))
    print(
        f"{listed} services in {len(accounts)} accounts; recurring {recurring or 'nothing'}; "
        f"query cost {cost}; {errors} errors",
        file=sys.stderr,
    )
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

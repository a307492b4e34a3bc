"""Look-ahead for a page: the related rows its selection needs, fetched in one batch per level.

A connection hands over its page's rows and what is selected below its nodes (`Selected`); the
functions here load the related rows through the request's loaders, so each field then finds its
row already in hand (`at_hand`) and resolves synchronously: graphql-core skips the coroutine, the
loader future and the task it would otherwise create per node.
"""

from __future__ import annotations

import asyncio
import uuid
from asyncio import Future
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from aiodataloader import DataLoader

from models.hosting import CONTACT_ROLES, Domain, Service

if TYPE_CHECKING:
    from resolvers.core.context import Context

K = TypeVar("K")
T = TypeVar("T")

# What a selection asks for below a field: each selected field's name (as in the document, aliases
# merged) with what is selected below it in turn; a leaf maps to an empty mapping.
Selected = Mapping[str, "Selected"]


def at_hand(loader: DataLoader[K, Any], key: K, shape: Callable[[Any], T]) -> T:
    """`shape` of the row `key` loads, which must exist: made now when the request holds the row
    already (fetched ahead, primed or loaded before), else once the loader has fetched it.

    graphql-core awaits whatever a resolver returns when it is awaitable, so one synchronous field
    serves both cases; the cast states what the field resolves to, not what this call returns.
    Every parent pointing at the same row gets the same value, made once. The loader's cache is
    read by the key itself, as every loader of ours caches it; one keyed otherwise would only
    await the row it holds.
    """
    future = loader._cache.get(key)
    if future is None:
        return cast(T, _shaped(loader.load(key), shape))
    # What was made of each row in hand, by the row's future: a key cleared and primed again
    # after a change gets a new future, so the changed row is shaped afresh.
    made: dict[tuple[Future[Any], Callable[[Any], Any]], Any] | None = getattr(loader, "_made", None)
    if made is None:
        made = {}
        setattr(loader, "_made", made)  # noqa: B010 - a per-request loader of ours, not a declared field
    value: T | None = made.get((future, shape))
    if value is not None:
        return value
    if not future.done() or future.cancelled() or future.exception() is not None:
        return cast(T, _shaped(future, shape))
    row = future.result()
    assert row is not None
    value = made[future, shape] = shape(row)
    return value


async def _shaped(pending: Awaitable[Any], shape: Callable[[Any], T]) -> T:
    row = await pending
    assert row is not None
    return shape(row)


def _unique(keys: Iterable[uuid.UUID]) -> list[uuid.UUID]:
    return list(dict.fromkeys(keys))


async def accounts_ahead(context: Context, account_ids: list[uuid.UUID], below: Selected) -> None:
    """What a page of accounts (each once) asks for; the accounts themselves are in hand already."""
    if account_ids and "owner" in below:
        await context.loaders.owner.load_many(account_ids)


async def linked_accounts_ahead(context: Context, account_ids: Iterable[uuid.UUID], below: Selected) -> None:
    """The accounts a page of other entities points at, then what their selection asks for."""
    ids = _unique(account_ids)
    if ids:
        # The account loader brings each one's owner along (resolvers/core/owners.py).
        await context.loaders.account.load_many(ids)
        await accounts_ahead(context, ids, below)


async def domains_ahead(context: Context, domains: list[Domain], below: Selected) -> None:
    """The contacts and accounts a page of domains asks for, one batch each."""
    if not domains:
        return
    reads: list[Callable[[], Awaitable[Any]]] = []
    if "contacts" in below:
        # The roles shown; contacts the page's statement brought along are in hand already.
        columns = [f"{role}_contact_id" for role in CONTACT_ROLES if role in below["contacts"]]
        contact = context.loaders.contact
        contact_ids = _unique(
            pk
            for domain in domains
            for column in columns
            if (pk := getattr(domain, column)) not in contact._cache
        )
        if contact_ids:
            reads.append(lambda: contact.load_many(contact_ids))
    if "account" in below:
        account_ids = [d.account_id for d in domains]
        reads.append(lambda: linked_accounts_ahead(context, account_ids, below["account"]))
    await side_by_side(context, reads)


async def services_ahead(context: Context, services: list[Service], below: Selected) -> None:
    """The products and accounts a page of services asks for, one batch each."""
    if not services:
        return
    reads: list[Callable[[], Awaitable[Any]]] = []
    if "product" in below:
        product_ids = _unique(s.product_id for s in services)
        reads.append(lambda: context.loaders.catalogue.product.load_many(product_ids))
    if "account" in below:
        account_ids = [s.account_id for s in services]
        reads.append(lambda: linked_accounts_ahead(context, account_ids, below["account"]))
    await side_by_side(context, reads)


async def side_by_side(context: Context, reads: list[Callable[[], Awaitable[Any]]]) -> None:
    """Runs independent reads of a page's related rows: at once where the database runs them side
    by side (`Database.reads_overlap`), else one after the other. Either way, every read started
    has ended before this returns or raises (the first failure, as it is)."""
    if len(reads) > 1 and context.db.reads_overlap:
        for outcome in await asyncio.gather(*(read() for read in reads), return_exceptions=True):
            if isinstance(outcome, BaseException):
                raise outcome
        return
    for read in reads:
        await read()

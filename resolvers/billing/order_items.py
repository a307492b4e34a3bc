"""Checking what an order asks for, item by item: products, billing cycles, specifications, domains."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.catalogue import BillingCycle, ProductType
from models.contacts import Contact
from models.hosting import CONTACT_ROLES, Domain, DomainStatus
from resolvers.billing.pricing import PriceList, price_lists
from resolvers.core.domain_names import normalise_domain_name, normalise_hostname
from resolvers.core.errors import Problem, Rejected, UserErrorCode, not_found

LIVE_DOMAIN_STATES = (
    DomainStatus.PENDING_REGISTRATION,
    DomainStatus.PENDING_TRANSFER,
    DomainStatus.ACTIVE,
)


class SpecificationLike(Protocol):
    @property
    def key(self) -> str: ...
    @property
    def value(self) -> str: ...


class DomainContactsLike(Protocol):
    @property
    def registrant_contact_id(self) -> Any: ...
    @property
    def admin_contact_id(self) -> Any: ...
    @property
    def tech_contact_id(self) -> Any: ...
    @property
    def billing_contact_id(self) -> Any: ...


class DomainOrderLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def action(self) -> Any: ...
    @property
    def period(self) -> int: ...
    @property
    def auth_code(self) -> str | None: ...
    @property
    def contacts(self) -> DomainContactsLike: ...
    @property
    def nameservers(self) -> list[str] | None: ...


class OrderItemLike(Protocol):
    @property
    def product_id(self) -> Any: ...
    @property
    def billing_cycle(self) -> BillingCycle: ...
    @property
    def specifications(self) -> list[Any] | None: ...
    @property
    def domain(self) -> DomainOrderLike | None: ...
    @property
    def label(self) -> str | None: ...


@dataclass
class CheckedItem:
    """An item that passed validation, with everything needed to store it."""

    prices: PriceList
    cycle: BillingCycle
    specifications: list[dict[str, str]]
    label: str | None = None
    domain_name: str | None = None
    action: str | None = None
    period: int | None = None
    auth_code: str | None = None
    contact_ids: dict[str, uuid.UUID | None] | None = None
    nameservers: list[str] | None = None


async def check_items(
    session: AsyncSession,
    account_id: uuid.UUID,
    items: list[OrderItemLike],
    product_ids: list[uuid.UUID | None],
    contact_ids: dict[tuple[int, str], uuid.UUID | None],
) -> list[CheckedItem]:
    lists = await price_lists(session, [p for p in product_ids if p is not None])
    wanted = {c for c in contact_ids.values() if c is not None}
    own_contacts = (
        set(
            await session.scalars(
                select(Contact.id).where(Contact.account_id == account_id, Contact.id.in_(wanted))
            )
        )
        if wanted
        else set()
    )
    problems: list[Problem] = []
    checked: list[CheckedItem] = []
    names: dict[str, int] = {}
    for index, (item, product_id) in enumerate(zip(items, product_ids, strict=True)):
        path = ("input", "items", str(index))
        prices = lists.get(product_id) if product_id else None
        if prices is None or not prices.product.active:
            problems.append(
                Problem("No such product in the catalogue.", UserErrorCode.NOT_FOUND, (*path, "productId"))
            )
            continue
        result = _check_item(item, prices, path, problems)
        if result is None:
            continue
        if result.domain_name is not None:
            for role in CONTACT_ROLES:
                contact = contact_ids.get((index, role))
                if (index, role) in contact_ids and (contact is None or contact not in own_contacts):
                    problems.append(not_found(*path, "domain", "contacts", f"{role}ContactId").problems[0])
            if result.domain_name in names:
                problems.append(
                    Problem(
                        "This domain is twice in the order.",
                        UserErrorCode.DOMAIN_UNAVAILABLE,
                        (*path, "domain", "name"),
                    )
                )
            names[result.domain_name] = index
            result.contact_ids = {role: contact_ids.get((index, role)) for role in CONTACT_ROLES}
        checked.append(result)
    if names:
        taken = set(
            await session.scalars(
                select(Domain.name).where(Domain.name.in_(names), Domain.status.in_(LIVE_DOMAIN_STATES))
            )
        )
        for name in sorted(taken):
            problems.append(
                Problem(
                    f"{name} is already registered with us or ordered.",
                    UserErrorCode.DOMAIN_UNAVAILABLE,
                    ("input", "items", str(names[name]), "domain", "name"),
                )
            )
    if problems:
        raise Rejected(problems)
    return checked


def _check_item(
    item: OrderItemLike, prices: PriceList, path: tuple[str, ...], problems: list[Problem]
) -> CheckedItem | None:
    before = len(problems)

    def fail(message: str, *where: str) -> None:
        problems.append(Problem(message, UserErrorCode.INVALID, (*path, *where)))

    is_domain = prices.product.type is ProductType.DOMAIN
    cycle = item.billing_cycle
    if cycle not in prices.prices:
        offered = ", ".join(c.value for c in prices.prices)
        fail(f"{prices.product.name} is sold {offered}.", "billingCycle")
    chosen: dict[str, str] = {}
    for position, spec in enumerate(item.specifications or []):
        option = prices.option(spec.key)
        if option is None:
            fail(f"{prices.product.name} has no option {spec.key!r}.", "specifications", str(position), "key")
        elif spec.key in chosen:
            fail(f"Option {spec.key!r} is given twice.", "specifications", str(position), "key")
        elif option.choice(spec.value) is None:
            allowed = ", ".join(c.value for c in option.choices)
            fail(f"{option.name} is one of {allowed}.", "specifications", str(position), "value")
        else:
            chosen[spec.key] = spec.value
    result = CheckedItem(prices=prices, cycle=cycle, specifications=prices.complete(chosen))
    if is_domain:
        _check_domain(item, prices, path, fail, result)
    else:
        if item.domain is not None:
            fail("Only domain products take domain details.", "domain")
        if item.label is not None and item.label.strip():
            result.label = normalise_hostname(item.label)
            if result.label is None:
                fail("Give the domain or hostname the service is for, e.g. www.example.at.", "label")
    return result if len(problems) == before else None


def _check_domain(
    item: OrderItemLike, prices: PriceList, path: tuple[str, ...], fail: Any, result: CheckedItem
) -> None:
    domain = item.domain
    if domain is None:
        fail("A domain product needs the domain's details.", "domain")
        return
    if item.billing_cycle is not BillingCycle.ANNUALLY:
        fail("Domains are billed ANNUALLY; the period gives the years.", "billingCycle")
    name = normalise_domain_name(domain.name)
    tld = prices.product.tld or ""
    if name is None:
        fail("Give a valid domain name, e.g. example.at.", "domain", "name")
    elif not name.endswith("." + tld) or "." in name[: -len(tld) - 1]:
        fail(f"{prices.product.name} registers names like example.{tld}.", "domain", "name")
    if not 1 <= domain.period <= 10:
        fail("The period is 1 to 10 years.", "domain", "period")
    action = domain.action.value
    auth_code = (domain.auth_code or "").strip() or None
    if action == "TRANSFER" and auth_code is None:
        fail("A transfer needs the authorisation code from the current registrar.", "domain", "authCode")
    if auth_code is not None and len(auth_code) > 64:
        fail("The authorisation code is at most 64 characters.", "domain", "authCode")
    nameservers = None
    if domain.nameservers is not None:
        nameservers = []
        for position, host in enumerate(domain.nameservers):
            normalised = normalise_hostname(host)
            if normalised is None:
                fail("Give a valid hostname.", "domain", "nameservers", str(position))
            elif normalised not in nameservers:
                nameservers.append(normalised)
        if not 2 <= len(nameservers) <= 13:
            fail("Give 2 to 13 different nameservers.", "domain", "nameservers")
    result.domain_name = name
    result.action = action
    result.period = domain.period
    result.auth_code = auth_code if action == "TRANSFER" else None
    result.nameservers = nameservers

"""The permissions a member can hold in a client account, stored as a bit set."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from functools import lru_cache


class Permission(enum.Enum):
    # Append only: a permission's position is its bit in stored masks.
    MANAGE_PROFILE = "MANAGE_PROFILE"
    MANAGE_USERS = "MANAGE_USERS"
    MANAGE_CONTACTS = "MANAGE_CONTACTS"
    VIEW_SERVICES = "VIEW_SERVICES"
    MANAGE_SERVICES = "MANAGE_SERVICES"
    SERVICE_SSO = "SERVICE_SSO"
    VIEW_DOMAINS = "VIEW_DOMAINS"
    MANAGE_DOMAINS = "MANAGE_DOMAINS"
    VIEW_INVOICES = "VIEW_INVOICES"
    PLACE_ORDERS = "PLACE_ORDERS"
    SUPPORT_TICKETS = "SUPPORT_TICKETS"
    MANAGE_AFFILIATE = "MANAGE_AFFILIATE"

    @property
    def bit(self) -> int:
        return _BITS[self]


_BITS = {permission: 1 << index for index, permission in enumerate(Permission)}
# What a member (or token) limited to chosen services and domains may hold (DESIGN rule 16): every
# one of them acts on a service, a domain or a ticket about a service, so a scope can bound it.
SCOPED_PERMISSIONS = frozenset(
    {
        Permission.VIEW_SERVICES,
        Permission.MANAGE_SERVICES,
        Permission.SERVICE_SSO,
        Permission.VIEW_DOMAINS,
        Permission.MANAGE_DOMAINS,
        Permission.SUPPORT_TICKETS,
    }
)
ALL_PERMISSIONS = frozenset(Permission)
ALL_MASK = sum(_BITS.values())


def to_mask(permissions: Iterable[Permission]) -> int:
    mask = 0
    for permission in permissions:
        mask |= permission.bit
    return mask


# Read for every membership of every page of accounts: a handful of distinct masks and sets, so
# each is worked out once per process rather than by walking the enum again per row.
@lru_cache(maxsize=ALL_MASK + 1)
def from_mask(mask: int) -> frozenset[Permission]:
    return frozenset(p for p in Permission if mask & p.bit)


def ordered(permissions: Iterable[Permission]) -> list[Permission]:
    """Permissions in declaration order, so every response lists them the same way."""
    held = permissions if isinstance(permissions, frozenset) else frozenset(permissions)
    return list(_in_declaration_order(held))


@lru_cache(maxsize=ALL_MASK + 1)
def _in_declaration_order(held: frozenset[Permission]) -> tuple[Permission, ...]:
    return tuple(p for p in Permission if p in held)

"""What each permission and membership role means, as the contract states it, written onto the
enums (their Python definitions live with the tables, which know nothing of GraphQL)."""

from __future__ import annotations

from graphql import GraphQLEnumType, GraphQLSchema

from models.accounts import MembershipRole
from models.permissions import Permission

PERMISSION = (
    "What a user may do inside one client account. The owner holds every permission implicitly. "
    "A user can never grant a permission that they do not hold."
)
PERMISSIONS: dict[Permission, str] = {
    Permission.MANAGE_PROFILE: "Change the account's profile and billing details.",
    Permission.MANAGE_USERS: (
        "Invite and remove users, change their permissions, see the account's audit log."
    ),
    Permission.MANAGE_CONTACTS: "Create, change and delete contacts (e.g. domain registrant contacts).",
    Permission.VIEW_SERVICES: "See products and services.",
    Permission.MANAGE_SERVICES: "Change a service's specifications, credentials and settings.",
    Permission.SERVICE_SSO: "Single sign-on from a service into its control panel.",
    Permission.VIEW_DOMAINS: "See domains.",
    Permission.MANAGE_DOMAINS: "Change a domain's nameservers, contacts, lock and auto-renewal.",
    Permission.VIEW_INVOICES: "See and pay invoices.",
    Permission.PLACE_ORDERS: "Place new orders, upgrades and cancellations, billed to this account.",
    Permission.SUPPORT_TICKETS: "See and open support tickets.",
    Permission.MANAGE_AFFILIATE: "See and manage the account's affiliate programme.",
}
MEMBERSHIP_ROLE = "A member's standing in a client account."
MEMBERSHIP_ROLES: dict[MembershipRole, str] = {
    MembershipRole.OWNER: "Registered holder of the account; invoices are addressed to the account.",
    MembershipRole.USER: "A user invited by the account, acting with the permissions granted.",
}


def _describe(schema: GraphQLSchema, name: str, description: str, values: dict[str, str]) -> None:
    enum = schema.type_map.get(name)
    if not isinstance(enum, GraphQLEnumType):
        return
    enum.description = enum.description or description
    for value_name, value in enum.values.items():
        value.description = value.description or values.get(value_name)


def describe_enums(schema: GraphQLSchema) -> None:
    _describe(schema, "Permission", PERMISSION, {p.name: text for p, text in PERMISSIONS.items()})
    _describe(
        schema, "MembershipRole", MEMBERSHIP_ROLE, {r.name: text for r, text in MEMBERSHIP_ROLES.items()}
    )

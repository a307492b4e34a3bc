"""Every permission for a kind of object is declared once (resolvers/policies.py) and every gated
field and mutation is built from a declaration: a new one without a policy fails here."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from graphql import GraphQLObjectType

from resolvers.permissions import InAccount
from resolvers.policies import POLICIES, Needs
from schema.policy import required
from schema.schema import schema

ROOT = Path(__file__).resolve().parent.parent

# Mutations still checking their requirement inside the resolver; this list only shrinks.
NOT_YET_DECLARED = frozenset(
    {
        "signUp", "signIn", "signOut", "createApiToken", "revokeApiToken", "requestPasswordReset",
        "resetPassword", "requestEmailVerification", "verifyEmail", "createClientAccount",
        "updateBillingProfile", "createClientAccountOnBehalf", "inviteUser", "revokeInvitation",
        "acceptInvitation", "signUpWithInvitation", "updateMemberPermissions", "removeMember",
        "transferAccountOwnership", "updateMemberScope", "activateAffiliate", "completeSignIn",
        "beginTwoFactorSetup", "confirmTwoFactor", "disableTwoFactor", "updateAccountSecurity",
    }
)  # fmt: skip
# Modules that may still name a permission of a kind of object; this list only shrinks.
NAMING_PERMISSIONS_YET = frozenset(
    {
        "resolvers/accounts.py", "resolvers/affiliates.py", "resolvers/invitation_authority.py",
        "resolvers/invitations.py", "resolvers/members.py", "resolvers/nodes.py",
        "resolvers/scope_changes.py", "schema/affiliates.py", "schema/scopes.py",
    }
)  # fmt: skip
# Where permissions themselves are defined, described and combined (not stated for a kind).
PERMISSION_CORE = frozenset(
    {
        "models/permissions.py",
        "resolvers/policies.py",
        "resolvers/permissions.py",
        "resolvers/context.py",
        "schema/enum_descriptions.py",
    }
)


def _definition(field: Any) -> Any:
    return field.extensions.get("strawberry-definition")


def _field_needs(field: Any) -> list[Needs]:
    found = []
    for extension in getattr(_definition(field), "extensions", None) or []:
        for permission in getattr(extension, "permissions", []):
            if isinstance(permission, InAccount):
                found.append(permission.needs)
    return found


def _object_types() -> list[tuple[str, GraphQLObjectType]]:
    return [
        (name, type_)
        for name, type_ in schema._schema.type_map.items()
        if not name.startswith("__") and isinstance(type_, GraphQLObjectType)
    ]


def test_every_mutation_declares_its_requirement() -> None:
    mutations = schema._schema.type_map["Mutation"]
    assert isinstance(mutations, GraphQLObjectType)
    undeclared = {
        name for name, field in mutations.fields.items() if not hasattr(_definition(field), "requirement")
    }
    assert undeclared <= NOT_YET_DECLARED, f"mutations without a declared requirement: {undeclared}"


def test_the_not_yet_declared_list_only_names_undeclared_mutations() -> None:
    mutations = schema._schema.type_map["Mutation"]
    assert isinstance(mutations, GraphQLObjectType)
    declared = {
        name for name, field in mutations.fields.items() if hasattr(_definition(field), "requirement")
    }
    assert not declared & NOT_YET_DECLARED, f"declared now, drop from the list: {declared & NOT_YET_DECLARED}"


def test_a_needs_sentence_comes_from_a_declaration() -> None:
    """A "Needs ..." description is the text of the `Needs` the field or mutation is built from."""
    loose = []
    for type_name, type_ in _object_types():
        for name, field in type_.fields.items():
            description = field.description or ""
            if "Needs " not in description:
                continue
            texts = [needs.text for needs in _field_needs(field)]
            requirement = getattr(_definition(field), "requirement", None)
            if requirement is not None and (needs := required(requirement)) is not None:
                texts.append(needs.text)
            if not any(text and text in description for text in texts):
                loose.append(f"{type_name}.{name}")
    undeclared_mutations = {f"Mutation.{name}" for name in NOT_YET_DECLARED}
    pending = set(loose) - undeclared_mutations
    assert not pending - _PENDING_FIELDS, f"'Needs ...' written by hand: {sorted(pending - _PENDING_FIELDS)}"


_PENDING_FIELDS = frozenset({"MembershipScope.services", "MembershipScope.domains"})


_PERMISSION = re.compile(r"\bPermission\.[A-Z_]+\b")


def test_permissions_of_a_kind_are_named_in_one_place() -> None:
    naming = set()
    for layer in ("resolvers", "schema"):
        for path in sorted((ROOT / layer).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if relative in PERMISSION_CORE:
                continue
            if _PERMISSION.search(path.read_text()):
                naming.add(relative)
    assert naming <= NAMING_PERMISSIONS_YET, f"permissions named outside resolvers/policies.py: {naming}"


def test_every_policy_names_a_kind_of_the_schema() -> None:
    for kind in POLICIES:
        assert kind in schema._schema.type_map, kind

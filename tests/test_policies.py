"""Every permission for a kind of object is declared once (resolvers/core/policies.py) and every gated
field and mutation is built from a declaration: a new one without a policy fails here."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from graphql import GraphQLObjectType

from resolvers.core.permissions import InAccount
from resolvers.core.policies import POLICIES, Needs
from schema.core.policy import required
from schema.schema import schema

ROOT = Path(__file__).resolve().parent.parent

# Where permissions themselves are defined, described and combined (not stated for a kind).
PERMISSION_CORE = frozenset(
    {
        "models/permissions.py",
        "resolvers/core/policies.py",
        "resolvers/core/permissions.py",
        "resolvers/core/context.py",
        "schema/core/enum_descriptions.py",
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
    assert not undeclared, (
        f"mutations without a declared requirement (schema/core/policy.py mutation): {undeclared}"
    )


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
    assert not loose, f"'Needs ...' written by hand, not from a policy: {sorted(loose)}"


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
    assert not naming, f"permissions named outside resolvers/core/policies.py: {sorted(naming)}"


def test_every_policy_names_a_kind_of_the_schema() -> None:
    for kind in POLICIES:
        assert kind in schema._schema.type_map, kind

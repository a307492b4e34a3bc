"""Whether a schema keeps the consumers' contract kept in tests/contract/.

The contract's schema may be added to, never narrowed: nothing removed, renamed or retyped (graphql-core's
breaking-change finder), no output field the contract leaves nullable made non-null (the finder does
not see that, and a permission-gated field that cannot be null takes its parent down with it), and
every operation document the consumers send validates. Each breach is one line, in the wording that
tests/contract_pending.txt lists.

`python -m tests.contract_check [SCHEMA.graphql]` prints the breaches of the exported SDL (or the
given file) and exits 1 when there are any.
"""

from __future__ import annotations

import sys
from pathlib import Path

from graphql import (
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    build_schema,
    find_breaking_changes,
    parse,
    validate,
)

CONTRACT = Path(__file__).with_name("contract")
CONTRACT_SCHEMA = CONTRACT / "schema.graphql"
CONTRACT_OPERATIONS = CONTRACT / "operations"


def operation_files(folder: Path = CONTRACT_OPERATIONS) -> list[Path]:
    """The contract's operation documents, in a stable order."""
    return sorted(folder.glob("*.graphql"))


def _made_non_null(contract: GraphQLOutputType, project: GraphQLOutputType) -> bool:
    """Whether `project` is non-null at some position (the field itself, or a list's items) where
    `contract` allows null."""
    while True:
        project_required = isinstance(project, GraphQLNonNull)
        if project_required and not isinstance(contract, GraphQLNonNull):
            return True
        if isinstance(contract, GraphQLNonNull):
            contract = contract.of_type
        if isinstance(project, GraphQLNonNull):
            project = project.of_type
        if not (isinstance(contract, GraphQLList) and isinstance(project, GraphQLList)):
            return False
        contract, project = contract.of_type, project.of_type


def _fields_made_non_null(contract: GraphQLSchema, project: GraphQLSchema) -> list[str]:
    breaches: list[str] = []
    composite = (GraphQLObjectType, GraphQLInterfaceType)
    for type_name, contract_type in contract.type_map.items():
        project_type = project.type_map.get(type_name)
        if not isinstance(contract_type, composite) or not isinstance(project_type, composite):
            continue
        for field_name, contract_field in contract_type.fields.items():
            project_field = project_type.fields.get(field_name)
            if project_field is None or not _made_non_null(contract_field.type, project_field.type):
                continue
            breaches.append(
                f"FIELD_MADE_NON_NULL: {type_name}.{field_name} is {project_field.type} in the project, "
                f"{contract_field.type} in the contract."
            )
    return breaches


def contract_breaches(
    project_sdl: str,
    *,
    contract_sdl: str | None = None,
    operations: list[Path] | None = None,
) -> list[str]:
    """Every way the project's SDL breaks the contract, one line each (empty: the contract is kept)."""
    project = build_schema(project_sdl)
    contract = build_schema(contract_sdl if contract_sdl is not None else CONTRACT_SCHEMA.read_text())
    breaches = [
        f"{change.type.name}: {change.description}" for change in find_breaking_changes(contract, project)
    ]
    breaches += _fields_made_non_null(contract, project)
    for document in operation_files() if operations is None else operations:
        breaches += [
            f"OPERATION_INVALID: {document.name}: {error.message}"
            for error in validate(project, parse(document.read_text()))
        ]
    return breaches


def main(argv: list[str]) -> int:
    from schema.schema import SDL_PATH

    target = Path(argv[1]) if len(argv) > 1 else SDL_PATH
    breaches = contract_breaches(target.read_text())
    for line in breaches:
        print(line)
    print(f"contract: {len(breaches)} breaches" if breaches else "contract: kept")
    return 1 if breaches else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

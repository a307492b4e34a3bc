"""The exported SDL matches the code and keeps the consumers' contract (less what is pending); the
contract kept in tests/contract/ is the consumers' current one."""

from __future__ import annotations

import filecmp
from pathlib import Path

import pytest

from schema.schema import SDL_PATH, export_sdl
from tests.contract_check import CONTRACT, CONTRACT_SCHEMA, contract_breaches, operation_files

ROOT = Path(__file__).resolve().parent.parent
# The consumers publish their contract beside the project's checkout; a clone elsewhere has none.
PUBLISHED = ROOT.parent / "shared" / "contract"
PENDING = Path(__file__).with_name("contract_pending.txt")


def _breaches() -> set[str]:
    return set(contract_breaches(SDL_PATH.read_text()))


def _pending() -> set[str]:
    lines = PENDING.read_text().splitlines()
    return {line for line in lines if line.strip() and not line.startswith("#")}


def test_committed_sdl_is_the_schema() -> None:
    assert SDL_PATH.read_text() == export_sdl(), (
        "schema/schema.graphql is stale: run `.venv/bin/python -m schema.schema`"
    )


def test_contract_is_kept_except_for_pending_items() -> None:
    unexpected = _breaches() - _pending()
    assert not unexpected, "contract breaches not in tests/contract_pending.txt:\n" + "\n".join(
        sorted(unexpected)
    )


def test_pending_list_only_shrinks() -> None:
    built = _pending() - _breaches()
    assert not built, "built already; remove from tests/contract_pending.txt:\n" + "\n".join(sorted(built))


@pytest.mark.skipif(not PUBLISHED.is_dir(), reason="no published contract beside this checkout")
def test_kept_contract_is_the_published_one() -> None:
    published = [PUBLISHED / "schema.graphql", *operation_files(PUBLISHED / "operations")]
    kept = [CONTRACT_SCHEMA, *operation_files()]
    names = sorted(str(path.relative_to(CONTRACT)) for path in kept)
    assert names == sorted(str(path.relative_to(PUBLISHED)) for path in published), (
        "tests/contract/ lists other files than the published contract: copy it again"
    )
    differ = [name for name in names if not filecmp.cmp(CONTRACT / name, PUBLISHED / name, shallow=False)]
    assert not differ, f"tests/contract/ is out of date ({', '.join(differ)}): copy the published contract"


# --- the check itself ----------------------------------------------------------------------

_CONTRACT_SDL = """
type Query { node(id: ID!): Node, nodes(ids: [ID!]!): [Node]!, greeting: String }
interface Node { id: ID! }
"""


def _check(tmp_path: Path, project_sdl: str, document: str = "{ greeting }") -> list[str]:
    operation = tmp_path / "op.graphql"
    operation.write_text(document)
    return contract_breaches(project_sdl, contract_sdl=_CONTRACT_SDL, operations=[operation])


def test_check_accepts_a_schema_that_only_adds(tmp_path: Path) -> None:
    added = _CONTRACT_SDL.replace("greeting: String", "greeting: String, more: Int")
    assert _check(tmp_path, added) == []


def test_check_reports_a_removed_field_and_an_invalid_operation(tmp_path: Path) -> None:
    removed = _CONTRACT_SDL.replace(", greeting: String", "")
    assert _check(tmp_path, removed) == [
        "FIELD_REMOVED: Field Query.greeting was removed.",
        "OPERATION_INVALID: op.graphql: Cannot query field 'greeting' on type 'Query'.",
    ]


def test_check_reports_nullable_outputs_made_non_null(tmp_path: Path) -> None:
    tightened = _CONTRACT_SDL.replace("Node,", "Node!,").replace("[Node]!", "[Node!]!")
    assert _check(tmp_path, tightened) == [
        "FIELD_MADE_NON_NULL: Query.node is Node! in the project, Node in the contract.",
        "FIELD_MADE_NON_NULL: Query.nodes is [Node!]! in the project, [Node]! in the contract.",
    ]

"""The permission matrix (tests/permission_matrix.toml) run over HTTP: every row, for every actor, on
the actors' own account and on a foreign one; and the check that no field of the schema lacks a row."""

from __future__ import annotations

import functools
import inspect
import tomllib
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from graphql import GraphQLObjectType, OperationDefinitionNode, OperationType, parse
from sqlalchemy import delete, func, select

from clientarea.catalogue import sync_catalogue
from models import Base
from models.audit import AuditEvent
from models.database import Database
from models.permissions import ALL_PERMISSIONS, SCOPED_PERMISSIONS, Permission, ordered
from models.ratelimits import RateLimitHit
from resolvers.core.errors import UserErrorCode
from resolvers.core.permissions import InAccount
from resolvers.core.settings import Settings
from schema.schema import build_schema, schema
from tests.conftest import make_settings
from tests.graphql import Api, Response
from tests.matrix_scenarios import build_variables
from tests.matrix_world import Actor, Scope, World, build_world

MATRIX = Path(__file__).with_name("permission_matrix.toml")
RESULTS = frozenset({"ok", "empty", "null"})
OUTCOMES = RESULTS | {"FORBIDDEN", "UNAUTHENTICATED"} | {code.value for code in UserErrorCode}
ROW_KEYS = frozenset(
    {"field", "case", "document", "path", "given", "needs", "needs_all", "gate", "allowed", "denied"}
    | {
        "hidden",
        "anonymous",
        "foreign",
        "account_bound",
        "actors",
        "everywhere",
        "tokens",
        "extra_actors",
        "scoped",
    }
)
GROUPS = {"member": "members", "token": "tokens"}
# The document variables naming objects a scope bounds; the scoped member's scope holds others.
OUTSIDE_A_SCOPE = frozenset({"service", "domain", "ticket"})
FieldPath = tuple[str | int, ...]


def _permissions(names: list[str]) -> frozenset[Permission]:
    return frozenset(Permission(name) for name in names)


@dataclass(frozen=True)
class Requirement:
    """Permissions at one path: any one of `any_of` (if given) and every one of `all_of`."""

    path: FieldPath
    any_of: frozenset[Permission] = frozenset()
    all_of: frozenset[Permission] = frozenset()

    def admits(self, held: frozenset[Permission]) -> bool:
        return (not self.any_of or bool(self.any_of & held)) and self.all_of <= held

    @property
    def permissions(self) -> frozenset[Permission]:
        return self.any_of | self.all_of

    @classmethod
    def of(cls, path: list[str | int], spec: dict[str, Any]) -> Requirement:
        return cls(tuple(path), _permissions(spec.get("needs", [])), _permissions(spec.get("needs_all", [])))


@dataclass(frozen=True)
class Row:
    field: str
    case: str | None
    document: str
    is_mutation: bool
    variables: frozenset[str]
    given: frozenset[str]
    path: FieldPath
    needs: Requirement
    gate: Requirement | None
    outcomes: dict[str, str]  # allowed, denied, hidden, anonymous, foreign
    account_bound: bool
    actors: dict[str, str]
    # Refusals made before any target is looked up (DESIGN rules 13, 14): on both accounts.
    everywhere: dict[str, str]
    tokens: tuple[Permission, Permission]
    extra_actors: tuple[frozenset[Permission], ...]

    @property
    def names(self) -> frozenset[str]:
        """What to build in the target account: the document's variables and the `given` objects."""
        return self.variables | self.given

    @property
    def id(self) -> str:
        return f"{self.field}[{self.case}]" if self.case else self.field


def _row(spec: dict[str, Any]) -> Row:
    unknown = set(spec) - ROW_KEYS
    assert not unknown, f"{spec.get('field')}: unknown keys {sorted(unknown)}"
    [operation] = [d for d in parse(spec["document"]).definitions if isinstance(d, OperationDefinitionNode)]
    is_mutation = operation.operation is OperationType.MUTATION
    needs = Requirement.of(spec["path"], spec)
    gate = Requirement.of(spec["gate"]["path"], spec["gate"]) if "gate" in spec else None
    outcomes = {
        "allowed": spec.get("allowed", "ok"),
        "denied": spec.get("denied", "FORBIDDEN"),
        "hidden": spec.get("hidden", "NOT_FOUND" if is_mutation else "null"),
        "anonymous": spec.get("anonymous", "UNAUTHENTICATED" if is_mutation else "null"),
    }
    outcomes["foreign"] = spec.get("foreign", outcomes["hidden"])
    if "scoped" in spec:
        outcomes["scoped"] = spec["scoped"]
    relevant = needs.permissions | (gate.permissions if gate else frozenset())
    first_needed = ordered(needs.any_of)[:1] or ordered(needs.all_of)[:1] or [Permission.MANAGE_PROFILE]
    other = next(p for p in Permission if p not in relevant and p != first_needed[0])
    tokens = tuple(Permission(p) for p in spec.get("tokens", [first_needed[0].value, other.value]))
    assert len(tokens) == 2, f"{spec['field']}: tokens names two permissions"
    row = Row(
        field=spec["field"],
        case=spec.get("case"),
        document=spec["document"],
        is_mutation=is_mutation,
        variables=frozenset(v.variable.name.value for v in operation.variable_definitions or ()),
        given=frozenset(spec.get("given", [])),
        path=tuple(spec["path"]),
        needs=needs,
        gate=gate,
        outcomes=outcomes,
        account_bound=spec.get("account_bound", True),
        actors=dict(spec.get("actors", {})),
        everywhere=dict(spec.get("everywhere", {})),
        tokens=(tokens[0], tokens[1]),
        extra_actors=tuple(_permissions(combo.split("+")) for combo in spec.get("extra_actors", [])),
    )
    names = {a.name for a in actors_for(row)} | set(GROUPS.values())
    named = set(row.actors) | set(row.everywhere)
    assert named <= names, f"{row.id}: unknown actors {sorted(named - names)}"
    wrong = (set(row.outcomes.values()) | set(row.actors.values()) | set(row.everywhere.values())) - OUTCOMES
    assert not wrong, f"{row.id}: unknown outcomes {sorted(wrong)}"
    return row


def load_rows() -> list[Row]:
    with MATRIX.open("rb") as file:
        return [_row(spec) for spec in tomllib.load(file)["row"]]


def actors_for(row: Row) -> list[Actor]:
    needed, other = row.tokens
    return [
        Actor("anonymous", "anonymous"),
        Actor("owner", "owner", ALL_PERMISSIONS),
        *(Actor(f"member:{p.value}", "member", frozenset({p})) for p in Permission),
        Actor("member_without_permissions", "member"),
        Actor("member_without_two_factor", "member", ALL_PERMISSIONS, without_two_factor=True),
        Actor("member:scoped", "member", SCOPED_PERMISSIONS, scoped=True),
        Actor("stranger", "stranger"),
        Actor("unverified", "owner", ALL_PERMISSIONS, verified=False, like="owner"),
        Actor("token:needed", "token", frozenset({needed})),
        Actor("token:other", "token", frozenset({other})),
        Actor("token:home", "token", ALL_PERMISSIONS, home_only=True),
        *(
            Actor("member:" + "+".join(p.value for p in ordered(held)), "member", held)
            for held in row.extra_actors
        ),
    ]


@dataclass(frozen=True)
class Expected:
    outcome: str
    at: Requirement | None = None  # where a field-level FORBIDDEN lands, and what it asks for


def expected(row: Row, actor: Actor, scope: Scope) -> Expected:
    """The outcome for this actor on this account, by the rules spelled out in the data file."""
    if actor.kind == "anonymous":
        return Expected(row.outcomes["anonymous"])
    if actor.scoped and "scoped" in row.outcomes:
        return Expected(row.outcomes["scoped"], row.needs)
    refused = _named(row.everywhere, actor)
    if refused is not None:
        return Expected(refused, row.needs)
    if scope == "foreign":
        return Expected(row.outcomes["foreign"])
    override = _named(row.actors, actor)
    if override is not None:
        return Expected(override, row.needs)
    if actor.kind == "stranger" and row.account_bound:
        return Expected(row.outcomes["hidden"])
    if actor.scoped and row.account_bound and row.variables & OUTSIDE_A_SCOPE:
        # The row's service, domain or ticket lies outside the scoped member's scope (rule 16).
        return Expected(row.outcomes["hidden"])
    held = actor.permissions
    if actor.without_two_factor and row.account_bound:
        held = frozenset()
        if row.is_mutation and (row.gate is not None or row.needs.permissions):
            return Expected("TWO_FACTOR_REQUIRED")
    if row.gate is not None and not row.gate.admits(held):
        return Expected("FORBIDDEN", row.gate)
    if not row.needs.admits(held):
        return Expected(row.outcomes["denied"], row.needs)
    return Expected(row.outcomes["allowed"])


def _named(outcomes: dict[str, str], actor: Actor) -> str | None:
    """The outcome given for the actor by name, else for the actor it is like, else for its group."""
    for key in (actor.name, actor.like, GROUPS.get(actor.kind)):
        if key is not None and key in outcomes:
            return outcomes[key]
    return None


def _dotted(path: FieldPath | list[Any]) -> str:
    return ".".join(str(p) for p in path)


def describe(row: Row, want: Expected) -> str:
    """The expected outcome in the words `observe` uses."""
    if want.outcome == "FORBIDDEN" and want.at is not None and not _is_payload(row, want.at.path):
        names = ",".join(p.value for p in ordered(want.at.permissions))
        return f"FORBIDDEN at {_dotted(want.at.path)} needs {names}"
    return want.outcome


def _is_payload(row: Row, path: FieldPath) -> bool:
    return row.is_mutation and len(path) == 1


def _refused(row: Row, want: Expected) -> bool:
    """Whether the mutation itself was refused (a top-level or user error), so nothing may change."""
    if not row.is_mutation or want.outcome in RESULTS:
        return False
    return want.outcome != "FORBIDDEN" or want.at is None or _is_payload(row, want.at.path)


def _value_at(data: Any, path: FieldPath) -> Any:
    for step in path:
        if data is None:
            return None
        data = data[step]
    return data


def observe(response: Response, row: Row) -> str:
    """What came back, in the data file's words: errors and user errors, else ok / empty / null."""
    parts: list[str] = []
    for error in response.errors:
        extensions = error.get("extensions") or {}
        code = extensions.get("code")
        if code == "FORBIDDEN":
            path = tuple(error.get("path") or ())
            null = "" if _value_at(response.data, path) is None else " (yet not null)"
            names = ",".join(extensions.get("requiredPermissions") or [])
            parts.append(f"FORBIDDEN at {_dotted(path)} needs {names}{null}")
        elif code == "UNAUTHENTICATED":
            parts.append(code)
        else:
            parts.append(f"{code}: {error.get('message')}")
    if row.is_mutation and response.data:
        payload = response.data.get(str(row.path[0])) or {}
        parts.extend(e["code"] for e in payload.get("userErrors") or [])
    if parts:
        return " + ".join(parts)
    value = _value_at(response.data, row.path)
    if value is None:
        return "null"
    if value == [] or (isinstance(value, dict) and value.get("totalCount") == 0):
        return "empty"
    return "ok"


def _client(api: Api, world: World, run: int) -> Api:
    if world.token is not None:
        return api.with_token(world.token)
    client = api.new()
    if world.sessions:
        client.set_session(world.sessions[run])
    return client


async def _audit_events(db: Database, request_id: str) -> int:
    async with db.read() as session:
        count = await session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.request_id == request_id)
        )
    return count or 0


@pytest.fixture(scope="module", autouse=True)
def one_schema_for_every_app() -> Iterator[None]:
    """Every case gets a fresh app, but the (immutable) schema is built once: building it for each
    of the ~1,400 apps would take most of the matrix's time."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("clientarea.app.build_schema", functools.cache(build_schema))
        yield


@pytest.fixture(scope="module")
def matrix_settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture(scope="module")
async def matrix_db(matrix_settings: Settings) -> AsyncIterator[Database]:
    """One database for the whole matrix, with the catalogue loaded once, emptied at the end as
    tests/conftest.py's `db` empties it after every test. Each case builds its own users and
    accounts, so no case sees another's data; emptying ~40 tables after each of ~1,400 cases
    would take a third of the matrix's time."""
    database = Database(matrix_settings.database_url)
    await sync_catalogue(database)
    yield database
    async with database.begin() as session:
        for table in reversed(Base.metadata.sorted_tables):
            await session.execute(table.delete())
    await database.dispose()


@pytest.fixture
def settings(matrix_settings: Settings) -> Settings:
    return matrix_settings


@pytest.fixture
async def db(matrix_db: Database) -> AsyncIterator[Database]:
    """The matrix's database; the one counter cases share (sign-ups per client address) is reset."""
    yield matrix_db
    async with matrix_db.begin() as session:
        await session.execute(delete(RateLimitHit))


ROWS = load_rows()
CASES = [pytest.param(row, actor, id=f"{row.id}-{actor.label}") for row in ROWS for actor in actors_for(row)]


@pytest.mark.parametrize(("row", "actor"), CASES)
async def test_the_actor_gets_what_the_matrix_says(
    api: Api, db: Database, settings: Settings, row: Row, actor: Actor
) -> None:
    world = await build_world(db, settings, actor)
    scopes: list[Scope] = ["foreign", "home"] if row.account_bound else ["home"]
    for run, scope in enumerate(scopes):
        values = await build_variables(db, settings, world, scope, set(row.names))
        request_id = f"matrix-{uuid.uuid4().hex}"

        response = await _client(api, world, run)(
            row.document, {name: values[name] for name in row.variables}, x_request_id=request_id
        )

        want = expected(row, actor, scope)
        assert observe(response, row) == describe(row, want), f"on the {scope} account: {response.body}"
        if _refused(row, want):
            assert await _audit_events(db, request_id) == 0, f"on the {scope} account: a refusal changed data"


def _declared(field: Any) -> frozenset[Permission] | None:
    """The permissions a field declares with `requires(...)`, if it does."""
    definition = field.extensions.get("strawberry-definition")
    for extension in getattr(definition, "extensions", None) or []:
        for permission in getattr(extension, "permissions", []):
            if isinstance(permission, InAccount):
                return frozenset(permission.needs.named)
    return None


def _checks_in_its_resolver(field: Any) -> bool:
    """Whether the field's own resolver makes a permission check (those `requires(...)` cannot
    express: only some objects need it, or a payload reads back what a mutation changed)."""
    resolver = getattr(field.extensions.get("strawberry-definition"), "base_resolver", None)
    if resolver is None:
        return False
    source = inspect.getsource(resolver.wrapped_func)
    return any(mark in source for mark in ("Forbidden(", "require_in_account(", ".allows("))


def _fields_needing_a_row() -> dict[str, frozenset[Permission] | None]:
    """Every Query and Mutation field, and every field gated by a permission: declared with
    `requires(...)`, checked in its resolver, or saying "Needs ..." in its description."""
    found: dict[str, frozenset[Permission] | None] = {}
    for type_name, type_ in schema._schema.type_map.items():
        if type_name.startswith("__") or not isinstance(type_, GraphQLObjectType):
            continue
        for name, field in type_.fields.items():
            declared = _declared(field)
            root = type_name in {"Query", "Mutation"}
            described = "Needs " in (field.description or "")
            if root or declared is not None or described or _checks_in_its_resolver(field):
                found[f"{type_name}.{name}"] = declared
    return found


def test_every_field_has_a_row() -> None:
    needed = _fields_needing_a_row()
    covered = {row.field for row in ROWS}

    missing = sorted(set(needed) - covered)

    assert not missing, f"fields without a row in tests/permission_matrix.toml: {missing}"


def test_every_row_names_a_field_of_the_schema_and_its_declared_permissions() -> None:
    needed = _fields_needing_a_row()
    for row in ROWS:
        type_name, name = row.field.split(".")
        type_ = schema._schema.get_type(type_name)
        assert isinstance(type_, GraphQLObjectType), row.id
        assert name in type_.fields, f"{row.id}: no such field"
        declared = needed.get(row.field)
        if declared is not None:
            assert row.needs.any_of == declared, (
                f"{row.id}: the schema declares {sorted(p.value for p in declared)}"
            )


def test_no_two_rows_share_a_field_and_case() -> None:
    ids = [row.id for row in ROWS]
    assert len(ids) == len(set(ids)), "two rows share a field and case"

"""Fields resolve with as few calls as their definition allows (schema/plain_fields.py): attribute
reads by one getattr, argument-less resolvers called straight; fields with arguments or a
permission check keep Strawberry's wrapper, and every form answers as Strawberry's would."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from enum import Enum
from types import SimpleNamespace

import pytest
import strawberry
from graphql import GraphQLObjectType
from strawberry.schema.config import StrawberryConfig
from strawberry.types import Info

from schema.executor import PlainFieldsExecutor
from schema.plain_fields import AttributeRead, plain_attribute_fields
from schema.schema import schema


def _resolve(type_name: str, field_name: str) -> object:
    graphql_type = schema._schema.type_map[type_name]
    assert isinstance(graphql_type, GraphQLObjectType)
    return graphql_type.fields[field_name].resolve


def _made_here(resolve: object) -> bool:
    return getattr(resolve, "__module__", "") == "schema.plain_fields"


def test_a_plain_field_reads_its_python_attribute() -> None:
    next_due = _resolve("Service", "nextDueDate")
    assert _made_here(next_due)
    assert next_due(SimpleNamespace(next_due_date="2027-01-01"), None) == "2027-01-01"  # type: ignore[operator]


def test_fields_with_arguments_or_a_permission_keep_strawberrys_wrapper() -> None:
    assert _made_here(_resolve("Service", "product"))
    assert not _made_here(_resolve("ClientAccount", "billingProfile"))
    assert not _made_here(_resolve("ClientAccount", "services"))


@strawberry.type
class Item:
    snake_name: str = "x"

    @strawberry.field
    def with_info(self, info: Info) -> str:
        return f"{self.snake_name}:{info.field_name}:{info.context['who']}"

    @strawberry.field
    def plain(self) -> str:
        return self.snake_name.upper()

    @strawberry.field
    @staticmethod
    def from_root(root: Item) -> str:
        return root.snake_name * 2

    @strawberry.field
    async def later(self, info: Info) -> str:
        await asyncio.sleep(0)
        return str(info.path.key)

    @strawberry.field
    def argued(self, times: int) -> str:
        return self.snake_name * times


@strawberry.type
class Query:
    @strawberry.field
    def item(self) -> Item:
        return Item()


DOCUMENT = "{ item { snakeName withInfo plain fromRoot later argued(times: 3) } }"
EXPECTED = {
    "item": {
        "snakeName": "x",
        "withInfo": "x:withInfo:me",
        "plain": "X",
        "fromRoot": "xx",
        "later": "later",
        "argued": "xxx",
    }
}


async def test_direct_resolvers_answer_as_strawberrys_wrappers_do() -> None:
    wrapped = strawberry.Schema(query=Query)
    direct = strawberry.Schema(query=Query)
    changed = plain_attribute_fields(direct._schema, direct.config)
    # snakeName, withInfo, plain, fromRoot, later and Query.item; `argued` takes an argument.
    assert changed == 6
    for built in (wrapped, direct):
        result = await built.execute(DOCUMENT, context_value={"who": "me"})
        assert result.errors is None, result.errors
        assert result.data == EXPECTED


def test_another_default_resolver_keeps_attribute_fields_wrapped() -> None:
    other = strawberry.Schema(query=Query, config=StrawberryConfig(default_resolver=lambda o, n: n))
    plain_attribute_fields(other._schema, other.config)
    item = other._schema.type_map["Item"]
    assert isinstance(item, GraphQLObjectType)
    assert not _made_here(item.fields["snakeName"].resolve)
    result = other.execute_sync("{ item { snakeName } }")
    assert result.data == {"item": {"snakeName": "snake_name"}}


@strawberry.enum
class Colour(Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.type
class Shade:
    name: str
    nickname: str | None
    colour: Colour
    colours: list[Colour]
    maybe_colours: list[Colour | None]
    score: int


@strawberry.type
class ShadeQuery:
    @strawberry.field
    def shades(self, info: Info) -> list[Shade | None]:
        return list(info.context["shades"])


SHADES = "{ shades { name nickname colour colours maybeColours score } }"


class Raising:
    """An object whose attribute reads fail, as a broken property would."""

    def __getattr__(self, name: str) -> object:
        raise RuntimeError(f"cannot read {name}")


async def _later() -> str:
    return "later"


def _shade(**changes: object) -> SimpleNamespace:
    values: dict[str, object] = {
        "name": "sky",
        "nickname": None,
        "colour": Colour.BLUE,
        "colours": [Colour.RED, Colour.BLUE],
        "maybe_colours": [None, Colour.RED],
        "score": 3,
    }
    return SimpleNamespace(**{**values, **changes})


@pytest.mark.parametrize(
    "make",
    [
        lambda: _shade(),
        lambda: _shade(nickname="azure", colours=(Colour.BLUE,), maybe_colours=[]),
        lambda: _shade(name=None),
        lambda: _shade(colour="green"),
        lambda: _shade(colours=[Colour.RED, None]),
        lambda: _shade(colours=[Colour.RED, "green"]),
        lambda: _shade(colours=None),
        lambda: _shade(colours=iter([Colour.RED])),
        lambda: _shade(colours="red"),
        lambda: _shade(score="three"),
        lambda: _shade(score=2**40),
        lambda: _shade(name=_later()),
        lambda: Raising(),
    ],
    ids=[
        "plain",
        "tuple-and-empty",
        "null-in-non-null",
        "bad-enum",
        "null-item",
        "bad-item",
        "null-list",
        "iterator",
        "string-as-list",
        "bad-int",
        "int-out-of-range",
        "awaitable",
        "raising",
    ],
)
async def test_the_executor_shortcut_answers_as_graphql_core_does(make: Callable[[], object]) -> None:
    """Data, errors, their messages and paths: the same with and without the shortcut."""
    ours, graphql_cores = await _both_ways(ShadeQuery, [], SHADES, lambda: {"shades": [make(), _shade()]})
    assert ours == graphql_cores


async def _both_ways(
    query: type, types: list[type], document: str, context: Callable[[], dict[str, object]]
) -> list[tuple[object, list[tuple[str, tuple[str | int, ...]]]]]:
    """Data and sorted (message, path) errors of `document`, first with our executor, then with
    graphql-core's; both schemas with the direct resolvers, each run on a fresh `context()`."""
    ours = strawberry.Schema(query=query, types=types, execution_context_class=PlainFieldsExecutor)
    graphql_cores = strawberry.Schema(query=query, types=types)
    answers: list[tuple[object, list[tuple[str, tuple[str | int, ...]]]]] = []
    for built in (ours, graphql_cores):
        plain_attribute_fields(built._schema, built.config)
        result = await built.execute(document, context_value=context())
        errors = sorted((e.message, tuple(e.path or ())) for e in result.errors or [])
        answers.append((result.data, errors))
    return answers


def test_the_schema_executes_with_the_shortcut() -> None:
    assert schema.execution_context_class is PlainFieldsExecutor
    read = _resolve("Service", "label")
    assert isinstance(read, AttributeRead)
    assert read.leaf is not None
    permissions = _resolve("ClientAccountEdge", "permissions")
    assert isinstance(permissions, AttributeRead)
    assert permissions.items is not None


@strawberry.interface
class Named:
    name: str


@strawberry.type
class Part(Named):
    name: str
    fails: strawberry.Private[bool] = False

    @strawberry.field
    async def later(self) -> str:
        await asyncio.sleep(0)
        if self.fails:
            raise RuntimeError("later failed")
        return self.name.upper()


@strawberry.type
class Box:
    part: Part
    maybe_part: Part | None
    parts: list[Part]
    maybe_parts: list[Part | None] | None
    loose_parts: list[Part | None]
    made_from: strawberry.Private[object]

    @strawberry.field
    def made(self, info: Info) -> Part:
        made = self.made_from
        if isinstance(made, Exception):
            raise made
        return made() if callable(made) else made  # type: ignore[return-value]


@strawberry.type
class BoxQuery:
    @strawberry.field
    def boxes(self, info: Info) -> list[Box | None]:
        return list(info.context["boxes"])


BOXES = """{ boxes {
  part { name later } maybePart { name } parts { name later } maybeParts { name } looseParts { name }
  made { name later }
} }"""


async def _part_later() -> Part:
    await asyncio.sleep(0)
    return Part(name="awaited")


def _box(**changes: object) -> SimpleNamespace:
    values: dict[str, object] = {
        "part": Part(name="a"),
        "maybe_part": None,
        "parts": [Part(name="b"), Part(name="c")],
        "maybe_parts": None,
        "loose_parts": [],
        "made_from": Part(name="d"),
    }
    return SimpleNamespace(**{**values, **changes})


@pytest.mark.parametrize(
    "make",
    [
        lambda: _box(),
        lambda: _box(maybe_part=Part(name="e"), parts=(Part(name="f"),), maybe_parts=[None, Part(name="g")]),
        lambda: _box(part=None),
        lambda: _box(part=SimpleNamespace(name="not a part")),
        lambda: _box(part=Part(name=None)),  # type: ignore[arg-type]
        lambda: _box(part=Part(name="h", fails=True)),
        lambda: _box(maybe_part=Part(name=None)),  # type: ignore[arg-type]
        lambda: _box(parts=[Part(name="i"), None]),
        lambda: _box(parts=[Part(name="j"), SimpleNamespace(name="k")]),
        lambda: _box(parts=[Part(name="l", fails=True), Part(name="m", fails=True)]),
        lambda: _box(parts=[Part(name=None), Part(name="n")]),  # type: ignore[arg-type]
        lambda: _box(parts=iter([Part(name="o")])),
        lambda: _box(parts="pq"),
        lambda: _box(parts=None),
        lambda: _box(parts=[]),
        lambda: _box(maybe_parts=[Part(name=None), Part(name="r")]),  # type: ignore[arg-type]
        lambda: _box(loose_parts=[Part(name=None), Part(name="t")]),  # type: ignore[arg-type]
        lambda: _box(made_from=None),
        lambda: _box(made_from=_part_later),
        lambda: _box(made_from=RuntimeError("made failed")),
        lambda: _box(made_from=SimpleNamespace(name="not a part")),
        lambda: _box(made_from=Part(name="s", fails=True)),
        lambda: Raising(),
    ],
    ids=[
        "plain",
        "tuple-and-nullable-items",
        "null-object",
        "object-of-another-type",
        "null-leaf-bubbles",
        "awaited-error",
        "null-leaf-in-nullable-object",
        "null-item",
        "item-of-another-type",
        "awaited-errors-in-items",
        "null-leaf-in-item",
        "iterator",
        "string-as-list",
        "null-list",
        "empty-list",
        "null-leaf-in-nullable-item",
        "null-leaf-in-nullable-item-of-a-non-null-list",
        "resolver-null",
        "resolver-awaitable",
        "resolver-raises",
        "resolver-another-type",
        "resolver-awaited-error",
        "raising",
    ],
)
async def test_planned_objects_answer_as_graphql_core_does(make: Callable[[], object]) -> None:
    """Objects and lists of objects held in attributes, and objects a direct resolver returns:
    data, errors, messages and paths the same with and without the plan."""
    ours, graphql_cores = await _both_ways(BoxQuery, [Part], BOXES, lambda: {"boxes": [make(), _box()]})
    assert ours == graphql_cores


async def test_planned_objects_need_no_resolve_info(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only a field with a resolver gets resolve info: the nodes of a list held in an attribute,
    and their leaves, complete from the plan."""
    planned = strawberry.Schema(query=BoxQuery, types=[Part], execution_context_class=PlainFieldsExecutor)
    plain_attribute_fields(planned._schema, planned.config)
    built: list[str] = []
    build = PlainFieldsExecutor.build_resolve_info

    def counted(self: PlainFieldsExecutor, field: object, nodes: list[object], *args: object) -> object:
        built.append(nodes[0].name.value)  # type: ignore[attr-defined]
        return build(self, field, nodes, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(PlainFieldsExecutor, "build_resolve_info", counted)
    boxes = [_box(parts=[Part(name=str(n)) for n in range(5)]) for _ in range(3)]
    result = await planned.execute(
        "{ boxes { part { name } parts { name } made { name } } }", context_value={"boxes": boxes}
    )
    assert result.errors is None, result.errors
    assert result.data is not None
    assert len(result.data["boxes"][2]["parts"]) == 5
    assert built == ["boxes", "made", "made", "made"]

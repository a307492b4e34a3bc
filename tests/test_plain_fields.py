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

from schema.plain_fields import AttributeRead, PlainFieldsExecutor, plain_attribute_fields
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
    shortcut = strawberry.Schema(query=ShadeQuery, execution_context_class=PlainFieldsExecutor)
    plain_attribute_fields(shortcut._schema, shortcut.config)
    general = strawberry.Schema(query=ShadeQuery)
    plain_attribute_fields(general._schema, general.config)
    answers = []
    for built in (shortcut, general):
        result = await built.execute(SHADES, context_value={"shades": [make(), _shade()]})
        errors = sorted((e.message, tuple(e.path or ())) for e in result.errors or [])
        answers.append((result.data, errors))
    assert answers[0] == answers[1]


def test_the_schema_executes_with_the_shortcut() -> None:
    assert schema.execution_context_class is PlainFieldsExecutor
    read = _resolve("Service", "label")
    assert isinstance(read, AttributeRead)
    assert read.leaf is not None
    permissions = _resolve("ClientAccountEdge", "permissions")
    assert isinstance(permissions, AttributeRead)
    assert permissions.items is not None

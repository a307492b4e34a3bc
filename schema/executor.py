"""graphql-core's executor, with each selection set completed from a plan made once per request.

graphql-core completes every field of every node the general way: a response path, resolve info,
the resolver, awaitable checks and the completion dispatch (non-null, list, leaf, abstract,
object). Most fields of a page need none of it: a scalar or enum read from an attribute, or an
object or a list of objects held in one. The plan says up front which each field is; such fields
complete in a few Python operations, and an object a direct resolver returns (`plain_fields`)
completes without the dispatch. Anything the plan did not foresee (null in a non-null place, an
object of another type, an awaitable, an attribute that raises, field middleware such as tracing,
@defer) goes the general way, which answers it with its error; `tests/test_plain_fields.py`
compares data, errors and paths with graphql-core's for each such shape.
"""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from graphql import (
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfoHelpers,
)
from graphql.execution.executor import to_nodes
from graphql.pyutils import Path, Undefined, gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from schema.plain_fields import AttributeRead, is_direct

# What a step of a selection set's plan does with its field.
_GENERAL, _LEAF, _LEAVES, _OBJECT, _OBJECTS, _RESOLVED = range(6)
_Step = tuple[Any, ...]
# Values that are never awaitable (Strawberry's check starts with str, int, float, bool, dict and
# list); a date, a timestamp or an amount, read for a leaf, is not either.
_PLAIN_VALUES = frozenset({str, int, float, bool, dict, list, date, datetime, Decimal})
# What a field completed to that is never awaitable: a leaf's output (or null), an object's or a
# list's completion.
_COMPLETED = frozenset({str, int, float, bool, dict, list, type(None)})
# Where Strawberry defines the `is_type_of` checks it gives object types.
_STRAWBERRYS_TYPE_CHECKS = "strawberry.schema.schema_converter"


class PlainFieldsExecutor(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's executor with a plan per selection set that completes scalar and enum fields
    read from attributes (most fields of every node), objects held in attributes and objects
    direct resolvers return without the general machinery; any other field, every field while
    field middleware is installed (tracing), and the serial root fields of a mutation go the
    general way."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Strawberry always passes a middleware manager; only one with middleware wraps fields.
        manager = self.middleware_manager
        self.shortcut = manager is None or not manager.middlewares
        # A list may be streamed only where the schema has @stream; planned lists never are.
        self.plans_lists = self.schema.get_directive("stream") is None
        self._plans: dict[int, tuple[Any, tuple[_Step, ...]]] = {}
        self.async_helpers = _helpers_of(self)

    def _plan(self, parent_type: GraphQLObjectType, grouped_field_set: Any) -> tuple[_Step, ...]:
        """Each field of the selection set with how it completes (memoized on the set's identity,
        which graphql-core memoizes per request; the set is kept so its id is not reused)."""
        key = id(grouped_field_set)
        cached = self._plans.get(key)
        if cached is not None and cached[0] is grouped_field_set:
            return cached[1]
        steps: list[_Step] = []
        for response_name, field_details_list in grouped_field_set.items():
            steps.append(self._step(parent_type, response_name, field_details_list))
        plan = tuple(steps)
        self._plans[key] = (grouped_field_set, plan)
        return plan

    def _step(self, parent_type: GraphQLObjectType, response_name: str, field_details_list: Any) -> _Step:
        general = (_GENERAL, response_name, field_details_list)
        node = field_details_list[0].node
        field = self.schema.get_field(parent_type, node.name.value)
        if field is None or node.arguments or not self.shortcut:
            return general
        if is_direct(field.resolve) and not field.args:
            named = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
            if isinstance(named, GraphQLObjectType):
                return (_RESOLVED, response_name, field_details_list, field, named)
            return general
        if type(field.resolve) is not AttributeRead:
            return general
        read: AttributeRead = field.resolve
        if read.leaf is not None:
            return (
                _LEAF,
                response_name,
                field_details_list,
                read.name,
                read.leaf.coerce_output_value,
                read.non_null,
            )
        if read.items is not None:
            return (_LEAVES, response_name, field_details_list, read)
        named = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
        if isinstance(named, GraphQLObjectType):
            return (_OBJECT, response_name, field_details_list, read.name, field.type, named)
        if isinstance(named, GraphQLList) and self.plans_lists:
            item_type = named.of_type
            item_named = item_type.of_type if isinstance(item_type, GraphQLNonNull) else item_type
            if isinstance(item_named, GraphQLObjectType):
                return (
                    _OBJECTS,
                    response_name,
                    field_details_list,
                    read.name,
                    field.type,
                    item_type,
                    item_named,
                )
        return general

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Any,
        grouped_field_set: Any,
        position_context: Any,
    ) -> Any:
        if position_context is not None:
            # Incremental delivery (@defer) keeps graphql-core's bookkeeping.
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        awaitable_fields: list[str] = []
        parent_name = parent_type.name
        general = super().execute_field
        try:
            for step in self._plan(parent_type, grouped_field_set):
                kind = step[0]
                response_name = step[1]
                result: Any = Undefined
                if kind == _LEAF:
                    try:
                        value = getattr(source_value, step[3])
                    except Exception:
                        value = Undefined
                    if type(value) in _PLAIN_VALUES or (
                        value is not Undefined
                        and value is not None
                        and not isinstance(value, Exception)
                        and not is_awaitable(value)
                    ):
                        try:
                            result = step[4](value)
                        except Exception:
                            result = None
                        if result is None or result is Undefined:
                            result = Undefined
                    elif value is None and not step[5]:
                        result = None
                elif kind == _LEAVES:
                    leaves = self._leaf_items(step[3], source_value)
                    if leaves is not None:
                        result = leaves
                elif kind == _OBJECT:
                    result = self._complete_object(step, parent_name, source_value, path)
                elif kind == _OBJECTS:
                    result = self._complete_objects(step, parent_name, source_value, path)
                elif kind == _RESOLVED:
                    result = self._complete_resolved(step, parent_type, source_value, path)
                if result is Undefined:
                    # Not planned for, or a value the plan did not foresee: the general way.
                    result = general(
                        parent_type,
                        source_value,
                        step[2],
                        Path(path, response_name, parent_name),
                        None,
                    )
                    if result is Undefined:
                        continue
                results[response_name] = result
                if type(result) not in _COMPLETED and is_awaitable(result):
                    awaitable_fields.append(response_name)
        except Exception:
            if awaitable_fields:
                self.settle_in_background([results[name] for name in awaitable_fields])
            raise
        if not awaitable_fields:
            return results

        async def get_results() -> dict[str, Any]:
            if len(awaitable_fields) == 1:
                name = awaitable_fields[0]
                results[name] = await results[name]
            else:
                awaited = await gather_with_cancel(*(results[name] for name in awaitable_fields))
                results.update(zip(awaitable_fields, awaited, strict=True))
            return results

        return get_results()

    def _subfields(self, object_type: GraphQLObjectType, field_details_list: Any) -> Any:
        """The object's selection set, or None when it defers a part (the general way then)."""
        grouped_field_set, new_defer_usages, _ = self.collect_subfields(object_type, field_details_list)
        return None if new_defer_usages else grouped_field_set

    def _is_of(self, object_type: GraphQLObjectType, value: Any) -> bool:
        """Whether `value` completes as `object_type` here: not null, not an error or awaitable,
        and of that type. Strawberry's own `is_type_of` reads the value alone, never its info;
        any other goes the general way, which gives it the info."""
        if value is None or isinstance(value, Exception) or self.is_awaitable(value):
            return False
        is_type_of = object_type.is_type_of
        if is_type_of is None:
            return True
        if getattr(is_type_of, "__module__", None) != _STRAWBERRYS_TYPE_CHECKS:
            return False
        return is_type_of(value, None) is True  # type: ignore[arg-type]

    def _complete_object(self, step: _Step, parent_name: str, source: Any, path: Any) -> Any:
        _, response_name, field_details_list, name, field_type, object_type = step
        try:
            value = getattr(source, name)
        except Exception:
            return Undefined
        if value is None:
            return Undefined if field_type is not object_type else None
        if not self._is_of(object_type, value):
            return Undefined
        grouped_field_set = self._subfields(object_type, field_details_list)
        if grouped_field_set is None:
            return Undefined
        field_path = Path(path, response_name, parent_name)
        try:
            completed = self.execute_fields(object_type, value, field_path, grouped_field_set, None)
        except Exception as raw_error:
            self.handle_field_error(raw_error, field_type, field_details_list, field_path)
            return None
        if type(completed) is dict:
            return completed
        return self._settled(completed, field_type, field_details_list, field_path)

    def _complete_objects(self, step: _Step, parent_name: str, source: Any, path: Any) -> Any:
        _, response_name, field_details_list, name, field_type, item_type, object_type = step
        try:
            value = getattr(source, name)
        except Exception:
            return Undefined
        if value is None:
            return Undefined if isinstance(field_type, GraphQLNonNull) else None
        if type(value) is not list and type(value) is not tuple:
            return Undefined
        is_of = self._is_of
        for item in value:
            if not is_of(object_type, item):
                return Undefined
        grouped_field_set = self._subfields(object_type, field_details_list)
        if grouped_field_set is None:
            return Undefined
        field_path = Path(path, response_name, parent_name)
        completed: list[Any] = []
        pending: list[int] = []
        execute_fields = self.execute_fields
        try:
            for index, item in enumerate(value):
                item_path = Path(field_path, index, None)
                try:
                    item_completed = execute_fields(object_type, item, item_path, grouped_field_set, None)
                except Exception as raw_error:
                    self.handle_field_error(raw_error, item_type, field_details_list, item_path)
                    item_completed = None
                if item_completed is not None and type(item_completed) is not dict:
                    item_completed = self._settled(item_completed, item_type, field_details_list, item_path)
                    pending.append(index)
                completed.append(item_completed)
        except Exception as raw_error:
            if pending:
                self.settle_in_background([completed[index] for index in pending])
            self.handle_field_error(raw_error, field_type, field_details_list, field_path)
            return None
        if not pending:
            return completed

        async def gathered() -> list[Any]:
            awaited = await gather_with_cancel(*(completed[index] for index in pending))
            for index, item_completed in zip(pending, awaited, strict=True):
                completed[index] = item_completed
            return completed

        return self._settled(gathered(), field_type, field_details_list, field_path)

    def _complete_resolved(self, step: _Step, parent_type: GraphQLObjectType, source: Any, path: Any) -> Any:
        """A field whose resolver is called straight (`_direct`) and returns an object: as
        graphql-core's `execute_field`, with an object at hand completed from the plan."""
        _, response_name, field_details_list, field, object_type = step
        field_path = Path(path, response_name, parent_type.name)
        info = self.build_resolve_info(field, to_nodes(field_details_list), parent_type, field_path)
        return_type = field.type
        try:
            result = field.resolve(source, info)
            grouped_field_set = (
                self._subfields(object_type, field_details_list) if self._is_of(object_type, result) else None
            )
            if grouped_field_set is not None:
                completed = self.execute_fields(object_type, result, field_path, grouped_field_set, None)
            elif self.is_awaitable(result):
                return self.complete_awaitable_value(
                    return_type, field_details_list, info, field_path, result, None
                )
            else:
                completed = self.complete_value(
                    return_type, field_details_list, info, field_path, result, None
                )
            if type(completed) is not dict and self.is_awaitable(completed):
                return self._settled(completed, return_type, field_details_list, field_path)
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, field_details_list, field_path)
            return None
        return completed

    async def _settled(
        self, completing: Awaitable[Any], return_type: GraphQLOutputType, field_details_list: Any, path: Any
    ) -> Any:
        """What an awaited completion answers, its error handled where graphql-core handles it."""
        try:
            return await completing
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, field_details_list, path)
            return None

    @staticmethod
    def _leaf_items(read: AttributeRead, source: Any) -> list[Any] | None:
        """A list of scalars or enums, each coerced; None for anything else the general way
        must answer (null, an item that is null or does not coerce), with its error."""
        items = read.items
        try:
            value = getattr(source, read.name)
            if type(value) is not list and type(value) is not tuple:
                return None
            completed = [items.coerce_output_value(item) for item in value]  # type: ignore[union-attr]
        except Exception:
            return None
        if None in completed or Undefined in completed:
            return None
        return completed


def _helpers_of(executor: PlainFieldsExecutor) -> GraphQLResolveInfoHelpers:
    """The helpers resolve info offers, as graphql-core makes them, but holding the executor
    weakly: graphql-core's are its own bound methods, a reference cycle through which the executor
    keeps the request's context, rows and collected fields until the collector's next pass (under
    load, tens of thousands of objects walked in one pause). A resolver calls them while its
    field runs, when the executor is alive (the running execution holds it)."""
    alive = weakref.ref(executor)

    def gather(values: Sequence[Awaitable[Any]]) -> Awaitable[list[Any]]:
        running = alive()
        return running.gather_async_work(values) if running is not None else gather_with_cancel(*values)

    def track(values: Sequence[Any]) -> None:
        running = alive()
        if running is not None:
            running.track_async_work(values)

    return GraphQLResolveInfoHelpers(gather=gather, track=track)

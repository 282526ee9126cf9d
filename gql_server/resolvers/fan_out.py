"""Fan-out shared per process: one stream message becomes one API object, one execution
per distinct selection, and one JSON text, whatever the number of subscribers.

The hub hands the same `StreamMessage` object to every local subscriber of a channel.
Three caches, each keyed by the identity of what it was made from, turn that into work
done once per message and process:

- `shared_payload`: the API object a subscription yields (e.g. `BudgetMessage`) for a
  stream message and a conversion (the kind of message, and what else goes into it,
  such as the account's currency).
- `SharingExecutor`: graphql-core's per-event execution of the subscription's selection
  set, once per (payload object, document text and operation name, values of the
  variables the selection set reads). Arguments of the root field (`taskId`,
  `resumeFrom`) were used when the subscription started and do not change what a
  message looks like, so they are not part of the key: dashboards that resume from
  different versions still share.
- `SharedData`: the result's data, which encodes itself to JSON once; the transport
  (`GraphQLApp.encode_json`) splices it into each subscriber's `next` message.

Invariants that make the sharing correct:
- A payload's fields read nothing but the payload: the stream message types are plain
  data, without resolvers that look at the context, the caller, or the time
  (tests/streams/test_fan_out.py checks that no field reachable from a subscription has a
  resolver). Who may follow a stream is decided when the subscription starts, per
  subscriber, before any of this.
- Each cache entry holds strong references to every object whose `id()` is in its key,
  so an id is never reused while an entry names it; entries leave least recently used
  first, after which the work is simply done again.
- Cached results are never mutated: Strawberry and the transport only read them.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

from graphql import (
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    OperationDefinitionNode,
    VariableNode,
    Visitor,
    visit,
)
from graphql.pyutils import AwaitableOrValue
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from gql_server.services.streams import StreamMessage

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
T = TypeVar("T")

# Entries per cache: a few fan-outs in flight, times the distinct selections of each.
CACHE_SIZE = 256


class _Recent(Generic[K, V]):
    """A bounded mapping that forgets the least recently used entry first."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._entries.get(key)
        if value is not None:
            self._entries.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)


class SharedData(dict[str, Any]):
    """A subscription result's data, shared by subscribers; it encodes itself once."""

    __slots__ = ("_json",)

    def __init__(self, data: dict[str, Any]) -> None:
        super().__init__(data)
        self._json: str | None = None

    def as_json(self) -> str:
        if self._json is None:
            self._json = json.dumps(self, separators=(",", ":"))
        return self._json


# (stream message, conversion) -> (the message, kept alive while named; its payload)
_payloads: _Recent[tuple[int, Hashable], tuple[StreamMessage, object]] = _Recent(CACHE_SIZE)
# (document text, operation name, values of the variables it reads per event) -> result
_Selections = dict[tuple[str, str | None, str], ExecutionResult]
# payload -> (the payload, kept alive while named; its results by selection)
_results: _Recent[int, tuple[object, _Selections]] = _Recent(CACHE_SIZE)


def shared_payload(message: StreamMessage, conversion: Hashable, convert: Callable[[], T]) -> T:
    """The one payload for `message` made by `convert`, which `conversion` names."""
    key = (id(message), conversion)
    found = _payloads.get(key)
    if found is not None and found[0] is message:
        return found[1]  # type: ignore[return-value]
    payload = convert()
    _payloads.put(key, (message, payload))
    _results.put(id(payload), (payload, {}))
    return payload


def _results_of(payload: object) -> _Selections | None:
    found = _results.get(id(payload))
    return found[1] if found is not None and found[0] is payload else None


# (document text, operation name) -> the variables its events read
_event_variables: _Recent[tuple[str, str | None], tuple[str, ...]] = _Recent(CACHE_SIZE)


class _Variables(Visitor):
    """The variables used in a document, leaving out the root fields' arguments."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def enter_variable(self, node: VariableNode, *_: object) -> None:
        self.names.add(node.name.value)


def _variables_read_per_event(
    operation: OperationDefinitionNode, fragments: dict[str, FragmentDefinitionNode]
) -> tuple[str, ...]:
    """The variables that can change what one event of `operation` looks like."""
    seen = _Variables()
    for selection in operation.selection_set.selections:
        if isinstance(selection, FieldNode):
            # Its directives (@include, @skip) and selection set count; its arguments
            # only chose the stream.
            for directive in selection.directives or ():
                visit(directive, seen)
            if selection.selection_set is not None:
                visit(selection.selection_set, seen)
        else:
            visit(selection, seen)
    # Fragments may be spread anywhere below the root field: all of them count.
    for fragment in fragments.values():
        visit(fragment, seen)
    return tuple(sorted(seen.names))


class _Done:
    """Stands in for a per-event executor whose result is already known."""

    __slots__ = ("_result",)

    def __init__(self, result: ExecutionResult) -> None:
        self._result = result

    def execute_operation(self, serially: bool | None = None) -> ExecutionResult:
        return self._result


class SharingExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor, executing a shared payload once per distinct selection."""

    _event_key: tuple[str, str | None, str] | None = None

    def _selection_key(self) -> tuple[str, str | None, str] | None:
        """What, besides the payload, decides an event's result; None: never shared."""
        if self._event_key is not None:
            return self._event_key
        operation = self.operation
        if operation.loc is None:
            return None
        # The text, not the parsed node: equal documents parsed apart (without the parser
        # cache, or after it dropped them) still share.
        document = (operation.loc.source.body, operation.name.value if operation.name else None)
        names = _event_variables.get(document)
        if names is None:
            names = _variables_read_per_event(operation, self.fragment_definitions)
            _event_variables.put(document, names)
        coerced = self.variable_values.coerced
        # Kept on the subscription's executor (its per-event copies inherit it): the
        # document and the variables are those of the whole subscription.
        self._event_key = (*document, json.dumps([coerced.get(n) for n in names], default=repr))
        return self._event_key

    def build_per_event_executor(self, payload: Any) -> Any:
        results = _results_of(payload)
        key = self._selection_key() if results is not None else None
        found = results.get(key) if results is not None and key is not None else None
        if found is not None:
            # Another subscriber's execution of this payload and selection: no copy of the
            # executor, no execution.
            return _Done(found)
        return super().build_per_event_executor(payload)

    def execute_operation(self, serially: bool | None = None) -> AwaitableOrValue[Any]:
        results = _results_of(self.root_value)
        key = self._selection_key() if results is not None else None
        if results is None or key is None:
            return super().execute_operation(serially)
        found = results.get(key)
        if found is not None:
            return found
        result = super().execute_operation(serially)
        if self.is_awaitable(result):
            # The stream message types resolve synchronously; anything else is executed
            # per subscriber, as without sharing.
            return result
        assert isinstance(result, ExecutionResult)
        shared = ExecutionResult(
            SharedData(result.data) if result.data is not None else None, result.errors
        )
        results[key] = shared
        return shared

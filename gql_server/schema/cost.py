"""What a request costs, computed from its document before anything of it runs.

The price list is declared in the schema in the manner of the IBM GraphQL cost directive
specification, so that a client can compute a request's cost as the server does:

- `@cost(weight:)` on an object type is what each object of it costs: 1 by default, 0 for a
  scalar or an enum. On a field it is what the field costs once, on top of what it
  returns: 0 by default, 10 for a mutation, more for a report aggregated in the database.
- `@listSize(assumedSize:, slicingArguments:, sizedFields:)` says how many items a list
  holds. A connection is sized by its `first` or `last` argument (20 when neither is given,
  the default page), and the size multiplies its `edges`. A list with no `@listSize` is
  taken to hold 10 items.

A field's cost is its own weight, plus the weight of what it returns and the cost of its
selection, multiplied by the list's size for a list. Aliases and repeated fields count
each time they appear. Fragments on the types an abstract field may return count as the
dearest of them. Introspection (`__schema`,
`__type`) costs a flat INTROSPECTION_COST.

`operation_cost` is a pure function of the schema, the document and the variables; the
`QueryCost` extension refuses an operation over the maximum, COST_LIMIT_EXCEEDED with the
cost and the maximum, before any resolver runs, and answers every other one with its cost
in `extensions.cost`.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import strawberry
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    is_composite_type,
)
from graphql.execution.values import get_variable_values
from graphql.language import OperationType as AstOperationType
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.schema_directive import Location
from strawberry.types.base import get_object_definition
from strawberry.types.field import StrawberryField

from gql_server.schema.errors import ApiError
from gql_server.services.pagination import DEFAULT_PAGE_SIZE
from gql_server.settings import DEFAULT_MAX_QUERY_COST

logger = logging.getLogger(__name__)

COMPOSITE_WEIGHT = 1
MUTATION_WEIGHT = 10
DEFAULT_LIST_SIZE = 10
INTROSPECTION_COST = 10
SLICING_ARGUMENTS = ("first", "last")


@strawberry.schema_directive(
    locations=[Location.FIELD_DEFINITION, Location.OBJECT],
    description="The weight of a field, or of every field of a type (IBM cost directives).",
)
class Cost:
    weight: str


@strawberry.schema_directive(
    locations=[Location.FIELD_DEFINITION],
    name="listSize",
    description=(
        "How many items a list field holds (IBM cost directives): the value of one of its "
        "slicing arguments, else `assumedSize`; with `sizedFields`, the size multiplies "
        "those fields of its type."
    ),
)
class ListSize:
    assumed_size: int | None = None
    slicing_arguments: list[str] | None = None
    sized_fields: list[str] | None = None
    require_one_slicing_argument: bool = False


# A report aggregated in the database (about six statements over the account's work).
REPORT_COST = 200
REPORT = (Cost(weight=str(REPORT_COST)),)
TOTAL_COUNT_WEIGHT = 5
# Reviews or audits of one submission, as lists: rarely more than a few.
DECISIONS_PER_SUBMISSION = 5
# A long conversation, a well-kept FAQ (their hard bounds, 200 and 100, keep the worst
# case finite).
MESSAGES_ASSUMED = 20
FAQ_ASSUMED = 20
# Every connection's size: its page, as pagination.py gives it.
CONNECTION_SIZE = ListSize(
    assumed_size=DEFAULT_PAGE_SIZE,
    slicing_arguments=list(SLICING_ARGUMENTS),
    sized_fields=["edges"],
)


class CostLimitExceeded(ApiError):
    code = "COST_LIMIT_EXCEEDED"


@dataclass(frozen=True)
class FieldPrice:
    weight: int | None = None
    size: ListSize | None = None


@dataclass(frozen=True)
class PriceList:
    """The declared prices of a schema: fields' by (type name, field name), types' by name."""

    fields: Mapping[tuple[str, str], FieldPrice]
    types: Mapping[str, int]


def _directive(directives: object, kind: type) -> Any:
    return next((d for d in directives or () if isinstance(d, kind)), None)


def declare_defaults(query: type, mutation: type) -> None:
    """Declare in the schema the prices that follow a rule: every connection of the root
    query is sized by its page, every mutation weighs MUTATION_WEIGHT. A field that
    declares its own keeps it."""
    for field in _fields(query):
        returned = get_object_definition(field.type)
        is_connection = (
            returned is not None
            and any(f.python_name == "edges" for f in returned.fields)
            and bool({a.python_name for a in field.arguments} & set(SLICING_ARGUMENTS))
        )
        if is_connection and _directive(field.directives, ListSize) is None:
            field.directives.append(CONNECTION_SIZE)
    for field in _fields(mutation):
        if _directive(field.directives, Cost) is None:
            field.directives.append(Cost(weight=str(MUTATION_WEIGHT)))


def _fields(root: type) -> list[StrawberryField]:
    definition = get_object_definition(root, strict=True)
    return list(definition.fields)


def price_list(schema: GraphQLSchema) -> PriceList:
    """The prices the schema declares, read once after it is built."""
    backref = GraphQLCoreConverter.DEFINITION_BACKREF
    fields: dict[tuple[str, str], FieldPrice] = {}
    types: dict[str, int] = {}
    for type_ in schema.type_map.values():
        if not isinstance(type_, GraphQLObjectType) or type_.name.startswith("__"):
            continue
        definition = (type_.extensions or {}).get(backref)
        type_cost = _directive(getattr(definition, "directives", None), Cost)
        if type_cost is not None:
            types[type_.name] = int(type_cost.weight)
        for name, field in type_.fields.items():
            declared = (field.extensions or {}).get(backref)
            directives = getattr(declared, "directives", None)
            cost = _directive(directives, Cost)
            size = _directive(directives, ListSize)
            if cost is not None or size is not None:
                fields[(type_.name, name)] = FieldPrice(
                    weight=int(cost.weight) if cost is not None else None, size=size
                )
    return PriceList(fields, types)


@dataclass
class _Pricing:
    schema: GraphQLSchema
    prices: PriceList
    fragments: Mapping[str, FragmentDefinitionNode]
    variables: Mapping[str, Any]
    memo: dict[tuple[str, str, frozenset[tuple[str, int]]], int] = dataclasses.field(
        default_factory=dict
    )

    def selection(
        self,
        selection_set: SelectionSetNode | None,
        parent: Any,
        sized: Mapping[str, int] | None = None,
    ) -> int:
        """The cost of a selection on `parent`; `sized`: the lengths of its sized fields."""
        if selection_set is None:
            return 0
        common = 0
        by_type: dict[str, int] = {}
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                common += self.field(selection, parent, (sized or {}).get(selection.name.value))
                continue
            if isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is None:
                    continue
                condition = fragment.type_condition
                target = self.schema.get_type(condition.name.value) if condition else parent
                # A fragment spread many times is priced once per place it can be in: a
                # document of fragments that each spread the next twice is priced in
                # linear time, not exponential.
                memo_key = (
                    selection.name.value,
                    getattr(target or parent, "name", ""),
                    _frozen(sized),
                )
                cost = self.memo.get(memo_key)
                if cost is None:
                    cost = self.memo[memo_key] = self.selection(
                        fragment.selection_set, target or parent, sized
                    )
                if target is None or target is parent:
                    common += cost
                else:
                    by_type[target.name] = by_type.get(target.name, 0) + cost
                continue
            if not isinstance(selection, InlineFragmentNode):
                continue
            condition = selection.type_condition
            target = self.schema.get_type(condition.name.value) if condition else parent
            cost = self.selection(selection.selection_set, target or parent, sized)
            if target is None or target is parent:
                common += cost
            else:
                by_type[target.name] = by_type.get(target.name, 0) + cost
        return common + max(by_type.values(), default=0)

    def field(self, node: FieldNode, parent: Any, given_size: int | None = None) -> int:
        """A field's cost; `given_size`: its length, given by the connection it is in."""
        name = node.name.value
        if name == "__typename":
            return 0
        if name in ("__schema", "__type"):
            return INTROSPECTION_COST
        field: GraphQLField | None = getattr(parent, "fields", {}).get(name)
        if field is None:
            return 0
        price = self.prices.fields.get((parent.name, name), FieldPrice())
        named = get_named_type(field.type)
        # Each item returned costs its type's weight; the field's own weight counts once.
        item_weight = self.prices.types.get(
            named.name, COMPOSITE_WEIGHT if is_composite_type(named) else 0
        )
        size = price.size
        if size is not None and size.sized_fields:
            # A connection: its size is the length of its sized fields (`edges`).
            multiplier = self.size_of(node, size)
            inner = self.selection(
                node.selection_set, named, sized={n: multiplier for n in size.sized_fields}
            )
            return (price.weight or 0) + item_weight + inner
        per_item = item_weight + self.selection(node.selection_set, named)
        length = given_size
        for _ in range(_list_depth(field.type)):
            if length is None:
                length = self.size_of(node, size) if size is not None else DEFAULT_LIST_SIZE
            per_item *= length
        return (price.weight or 0) + per_item

    def size_of(self, node: FieldNode, size: ListSize) -> int:
        for argument in node.arguments or ():
            if argument.name.value not in (size.slicing_arguments or ()):
                continue
            value = argument.value
            if isinstance(value, VariableNode):
                given = self.variables.get(value.name.value)
            elif isinstance(value, IntValueNode):
                given = int(value.value)
            else:
                given = None
            if isinstance(given, int) and not isinstance(given, bool) and given >= 0:
                return given
        return size.assumed_size if size.assumed_size is not None else DEFAULT_LIST_SIZE


def _frozen(sized: Mapping[str, int] | None) -> frozenset[tuple[str, int]]:
    return frozenset((sized or {}).items())


def _list_depth(type_: GraphQLOutputType) -> int:
    depth = 0
    while True:
        if isinstance(type_, GraphQLNonNull):
            type_ = type_.of_type
        elif isinstance(type_, GraphQLList):
            depth += 1
            type_ = type_.of_type
        else:
            return depth


def operation_cost(
    schema: GraphQLSchema,
    prices: PriceList,
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any] | None,
) -> int:
    """The cost of one operation of a validated document, with its variables."""
    root = {
        AstOperationType.QUERY: schema.query_type,
        AstOperationType.MUTATION: schema.mutation_type,
        AstOperationType.SUBSCRIPTION: schema.subscription_type,
    }[operation.operation]
    pricing = _Pricing(schema, prices, fragments, _coerced(schema, operation, variables))
    return pricing.selection(operation.selection_set, root)


def _coerced(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    variables: Mapping[str, Any] | None,
) -> Mapping[str, Any]:
    """The variables as execution will see them: defaults applied, `100.0` read as the Int
    100. Values that do not coerce are priced as sent (execution refuses them anyway)."""
    found = get_variable_values(schema, operation.variable_definitions or (), variables or {})
    # graphql-core answers the coerced values (in `coerced`), or a list of errors.
    coerced = getattr(found, "coerced", None)
    return coerced if isinstance(coerced, dict) else (variables or {})


# The most fragment spreads a document may expand to: far more than any client writes,
# far fewer than what makes validating or pricing it slow.
MAX_EXPANDED_SPREADS = 1000


class TooManySpreads(ApiError):
    code = "FRAGMENT_LIMIT_EXCEEDED"


def expanded_spreads(document: DocumentNode, limit: int) -> int:
    """How many fragment spreads the document's operations expand to, counted once per
    fragment (memoized), stopping at `limit`: a document of fragments that each spread the
    next twice expands exponentially, which validation rules walking it would pay."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    counted: dict[str, int] = {}

    def spreads_in(node: Any, seen: frozenset[str]) -> int:
        total = 0
        for selection in getattr(getattr(node, "selection_set", None), "selections", ()) or ():
            if isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name in seen or name not in fragments:
                    continue  # a cycle or an unknown fragment: validation says so
                if name not in counted:
                    counted[name] = spreads_in(fragments[name], seen | {name})
                total += 1 + counted[name]
            else:
                total += spreads_in(selection, seen)
            if total > limit:
                return total
        return total

    total = 0
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            total += spreads_in(definition, frozenset())
            if total > limit:
                break
    return total


class SpreadLimit(SchemaExtension):
    """Refuses, before validation, a document whose fragments expand past
    MAX_EXPANDED_SPREADS (FRAGMENT_LIMIT_EXCEEDED): validating such a document would hold
    the process for minutes."""

    def on_validate(self) -> Iterator[None]:
        document = self.execution_context.graphql_document
        if document is not None:
            count = expanded_spreads(document, MAX_EXPANDED_SPREADS)
            if count > MAX_EXPANDED_SPREADS:
                raise TooManySpreads(
                    f"The document's fragments expand to more than {MAX_EXPANDED_SPREADS} spreads."
                )
        yield


class QueryCost(SchemaExtension):
    """Prices each operation before execution: over the maximum (the request context's
    `policy.max_cost`) it is refused whole, COST_LIMIT_EXCEEDED; otherwise its cost is kept
    on the context as `cost` (the rate limit spends it) and answered in `extensions.cost`."""

    def __init__(self, prices: PriceList) -> None:
        self.prices = prices
        self.cost: int | None = None
        self.maximum = DEFAULT_MAX_QUERY_COST

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        operation = _operation(document.definitions, context.operation_name) if document else None
        if document is not None and operation is not None:
            request = context.context
            policy = getattr(request, "policy", None)
            self.maximum = getattr(policy, "max_cost", DEFAULT_MAX_QUERY_COST)
            fragments = {
                d.name.value: d
                for d in document.definitions
                if isinstance(d, FragmentDefinitionNode)
            }
            try:
                self.cost = operation_cost(
                    context.schema._schema, self.prices, operation, fragments, context.variables
                )
            except Exception:
                # A fault of the pricing must not take requests down, nor let them through
                # uncounted: it is logged, and the request spends the maximum.
                logger.exception("could not price operation %s", context.operation_name)
                if hasattr(request, "cost"):
                    request.cost = self.maximum
                yield
                return
            if self.cost > self.maximum:
                # Raised, not set as the result: a subscription is refused so too.
                raise CostLimitExceeded(
                    f"This request costs {self.cost} points, more than the maximum "
                    f"of {self.maximum}: ask for fewer items (first, last) or fewer "
                    "fields, or split it.",
                    {"cost": self.cost, "maximumCost": self.maximum},
                )
            if hasattr(request, "cost"):
                request.cost = self.cost
        yield

    def get_results(self) -> dict[str, Any]:
        if self.cost is None or self.execution_context.operation_type.value == "subscription":
            return {}
        return {"cost": {"requestedQueryCost": self.cost, "maximumQueryCost": self.maximum}}


def _operation(definitions: Any, name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        # Without a name Strawberry runs the first: that is the one priced.
        return operations[0] if operations else None
    return next((o for o in operations if o.name and o.name.value == name), None)


__all__ = [
    "CONNECTION_SIZE",
    "Cost",
    "CostLimitExceeded",
    "ListSize",
    "PriceList",
    "QueryCost",
    "declare_defaults",
    "operation_cost",
    "price_list",
]

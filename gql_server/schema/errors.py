"""How failures reach clients.

Expected failures are data: a payload's `userErrors`. Access failures and the unexpected
are GraphQL errors with `extensions.code`; unexpected ones are masked.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors
from strawberry.types.execution import StreamExecutionResult

from gql_server.schema.enums import UserErrorCode
from gql_server.services.errors import ErrorCode, FieldPath, UseCaseError, field_label


@strawberry.type(description="An expected failure: the mutation changed nothing.")
class UserError:
    field: list[str] | None = strawberry.field(description="Path of the input at fault, if any.")
    message: str
    code: UserErrorCode


# The one `input` argument of a mutation (and of a query that takes its arguments so).
INPUT = ("input",)


def input_path(field: FieldPath, prefix: tuple[str, ...] = ()) -> list[str]:
    """A use case's field path as the API spells it: camelCase names, indexes as strings."""
    return [*prefix, *(field_label(segment) for segment in field)] if field else []


def user_errors(error: UseCaseError) -> list[UserError]:
    """A mutation's expected failures, at the paths of its input."""
    return [
        UserError(field=input_path(e.field, INPUT) or None, message=e.message, code=e.code)
        for e in error.errors
    ]


class ApiError(GraphQLError):
    """A GraphQL error whose message and code are safe to show."""

    code = "BAD_REQUEST"

    def __init__(self, message: str, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message, extensions={"code": self.code, **(extra or {})})


class Unauthenticated(ApiError):
    code = "UNAUTHENTICATED"


class Forbidden(ApiError):
    code = "FORBIDDEN"


class BadInput(ApiError):
    """Bad arguments of a query (queries have no payload to carry userErrors)."""

    code = "BAD_USER_INPUT"

    @classmethod
    def from_use_case(cls, error: UseCaseError, prefix: tuple[str, ...] = ()) -> BadInput:
        """`prefix`: the argument the fields are inside of (a query's `input`), if any."""
        first = error.errors[0]
        return cls(
            str(error),
            {
                "userErrors": [
                    {
                        "field": input_path(e.field, prefix),
                        "message": e.message,
                        "code": e.code.value,
                    }
                    for e in error.errors
                ],
                "reason": first.code.value,
            },
        )


_SUGGESTION = re.compile(r" ?Did you mean [^?]*\?")


def _is_coercion_error(error: GraphQLError) -> bool:
    """A variable's value, or a literal, that does not fit its type: graphql-core says
    which and why, also when one of our scalars refused it."""
    return error.path is None and error.message.startswith(
        ("Variable '$", "Expected value of type")
    )


def _is_safe(error: GraphQLError) -> bool:
    original = error.original_error
    return original is None or isinstance(original, ApiError) or _is_coercion_error(error)


# The limiters' refusals (schema/build.py), known by their messages: graphql-core and
# Strawberry raise them as plain GraphQLErrors.
_LIMITER_CODES = (
    (re.compile(r"^Syntax Error: Document contains more than \d+ tokens"), "TOKEN_LIMIT_EXCEEDED"),
    (re.compile(r"exceeds maximum operation depth of \d+$"), "DEPTH_LIMIT_EXCEEDED"),
    (re.compile(r"^\d+ aliases found\. Allowed: \d+$"), "ALIAS_LIMIT_EXCEEDED"),
)


# How graphql-core words a variable's value that does not fit its type (coerce_variable_values):
# the client's input, not its document. Other "Variable '$a' ..." messages are the
# document's, found by validation (never used, not defined, in the wrong position).
_VARIABLE_VALUE_REFUSALS = (
    " has invalid value",
    " has invalid default value",
    " got invalid value ",
    " was not provided.",
    " must not be null.",
)


def _client_code(error: GraphQLError) -> str:
    """The code of a client error raised before execution, by what raised it."""
    if error.message.startswith("Variable '$") and any(
        phrase in error.message for phrase in _VARIABLE_VALUE_REFUSALS
    ):
        return "BAD_USER_INPUT"
    for pattern, code in _LIMITER_CODES:
        if pattern.search(error.message):
            return code
    if error.message.startswith("Syntax Error"):
        return "GRAPHQL_PARSE_FAILED"
    return "GRAPHQL_VALIDATION_FAILED"


def is_expected(error: GraphQLError) -> bool:
    """An error the API means to answer (access, input, limits): the client's to read,
    not the operator's to investigate."""
    return _is_safe(error)


class ShapeErrors(MaskErrors):
    """Mask unexpected errors as INTERNAL; let access and input errors through as they are."""

    def __init__(self) -> None:
        super().__init__(
            should_mask_error=lambda error: not _is_safe(error), error_message="Internal error."
        )

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        masked.extensions = {"code": "INTERNAL"}
        return masked

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        processed = super()._process_errors(errors)
        for error in processed:
            if error.path is None:
                # graphql-core suggests names of fields, arguments, types and enum values
                # ("Did you mean 'statuses'?"), which tells a prober what the schema holds.
                error.message = _SUGGESTION.sub("", error.message)
            # Errors of the request itself (its text, its variables) carry a code too.
            if error.path is None and not (error.extensions or {}).get("code"):
                error.extensions = {**(error.extensions or {}), "code": _client_code(error)}
        return processed

    def on_stream_result(self, result: StreamExecutionResult) -> Iterator[None]:
        # MaskErrors tests every streamed result against a runtime-checkable Protocol, a
        # slow isinstance (9% of a fan-out to 5,000 subscribers); a result with nothing
        # in `errors`, `incremental` or `completed` has nothing to mask.
        if any(getattr(result, name, None) for name in ("errors", "incremental", "completed")):
            yield from super().on_stream_result(result)
        else:
            yield None


__all__ = [
    "ApiError",
    "BadInput",
    "ErrorCode",
    "Forbidden",
    "ShapeErrors",
    "Unauthenticated",
    "UserError",
    "is_expected",
    "user_errors",
]

"""What text a request may carry: its document at most MAX_DOCUMENT_CHARS long, and in every
string it carries no control character and at most MAX_STRING_CHARS characters.

A NUL byte cannot be stored by PostgreSQL's text types, and no control character but tab,
line feed and carriage return belongs in a name, a search, a key or an answer. One check
for the whole request, before anything runs, covers every string argument and variable
of every field (present and future): the request is refused BAD_USER_INPUT, naming where
the character is, and nothing changes. A string longer than any column or free text of
the product (the longest, instructions, are bounded by their use case far below) is refused
the same way, before it can reach SQL. A longer document is refused DOCUMENT_TOO_LARGE
before it is parsed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from graphql import DocumentNode, StringValueNode, Visitor, visit
from strawberry.extensions import SchemaExtension

from gql_server.schema.errors import ApiError, BadInput

_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_STRING_CHARS = 100_000
MAX_DOCUMENT_CHARS = 100_000


def _in_value(value: Any, path: str) -> str | None:
    if isinstance(value, str):
        return path if _is_unfit(value) else None
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = ((str(index), item) for index, item in enumerate(value))
    else:
        return None
    for key, item in items:
        found = _in_value(item, f"{path}.{key}")
        if found is not None:
            return found
        if isinstance(key, str) and _is_unfit(key):
            return path
    return None


class _Literals(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found = False

    def enter_string_value(self, node: StringValueNode, *_: Any) -> Any:
        if _is_unfit(node.value):
            self.found = True
            return self.BREAK
        return None


def _in_document(document: DocumentNode | None) -> bool:
    if document is None:
        return False
    literals = _Literals()
    visit(document, literals)
    return literals.found


def _is_unfit(text: str) -> bool:
    return len(text) > MAX_STRING_CHARS or _CONTROL.search(text) is not None


class DocumentTooLarge(ApiError):
    code = "DOCUMENT_TOO_LARGE"


class CheckStrings(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        query = self.execution_context.query
        if query is not None and len(query) > MAX_DOCUMENT_CHARS:
            raise DocumentTooLarge(
                f"The document is {len(query)} characters long; at most "
                f"{MAX_DOCUMENT_CHARS} are accepted."
            )
        yield

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        where = _in_value(context.variables or {}, "variables")
        if where is None and _in_document(context.graphql_document):
            where = "a string of the query"
        if where is not None:
            # Raised, not set as the result: a subscription is refused so too.
            raise BadInput(
                f"A string is longer than {MAX_STRING_CHARS} characters or holds control "
                f"characters (in {where}); only tab, line feed and carriage return are "
                "allowed."
            )
        yield

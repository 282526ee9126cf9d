"""Control characters are refused in every string a request carries.

A NUL byte cannot be stored by PostgreSQL's text types, and no control character but tab,
line feed and carriage return belongs in a name, a search, a key or an answer. One check
for the whole request, before anything runs, covers every string argument and variable
of every field (present and future): the request is refused BAD_USER_INPUT, naming where
the character is, and nothing changes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from graphql import DocumentNode, ExecutionResult, StringValueNode, Visitor, visit
from strawberry.extensions import SchemaExtension

from gql_server.schema.errors import BadInput

_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _in_value(value: Any, path: str) -> str | None:
    if isinstance(value, str):
        return path if _CONTROL.search(value) else None
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
        if isinstance(key, str) and _CONTROL.search(key):
            return path
    return None


class _Literals(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found = False

    def enter_string_value(self, node: StringValueNode, *_: Any) -> Any:
        if _CONTROL.search(node.value):
            self.found = True
            return self.BREAK
        return None


def _in_document(document: DocumentNode | None) -> bool:
    if document is None:
        return False
    literals = _Literals()
    visit(document, literals)
    return literals.found


class RefuseControlCharacters(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        where = _in_value(context.variables or {}, "variables")
        if where is None and _in_document(context.graphql_document):
            where = "a string of the query"
        if where is not None:
            context.result = ExecutionResult(
                data=None,
                errors=[
                    BadInput(
                        f"Strings may not hold control characters (found in {where}); "
                        "only tab, line feed and carriage return are allowed."
                    )
                ],
            )
        yield

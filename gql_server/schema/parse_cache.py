"""Strawberry's ParserCache, with a document that does not parse answered exactly as
Strawberry's own parse answers it.

ParserCache parses in its `on_parse` hook, where a syntax error (the token limit's too)
escapes the operation and reaches the client past every extension: without the code
ShapeErrors gives request errors (schema/errors.py). Here such a document is left to
Strawberry's parse, which fails inside the operation like every request error. Only
documents that parse are cached; an error never was.
"""

from __future__ import annotations

from collections.abc import Iterator

from graphql import GraphQLError
from strawberry import extensions


class ParserCache(extensions.ParserCache):
    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        try:
            context.graphql_document = self.cached_parse_document(
                context.query, **context.parse_options
            )
        except GraphQLError:
            # Parsed again by Strawberry, to fail where the extensions see it.
            context.graphql_document = None
        yield

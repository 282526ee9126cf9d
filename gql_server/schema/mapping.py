"""From inputs to the domain's values: fields named alike are copied, not listed again.

An input type mirrors a domain dataclass (a task draft, a filter) field by field under the
same snake_case names; the domain declares the fields, and the input converts only what
differs in kind: global ids (the domain's `pk_field`s) and nested inputs.
"""

from __future__ import annotations

import types
from dataclasses import fields
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

from gql_server.services.global_ids import filter_pk, pk_type

D = TypeVar("D")


def copy_fields(domain: type[D], given: object, **converted: Any) -> D:
    """`domain` (a dataclass) with the values of the same-named fields of `given`;
    `converted`: the values of the fields that take more than copying."""
    return domain(
        **{
            f.name: converted[f.name] if f.name in converted else getattr(given, f.name)
            for f in fields(domain)  # type: ignore[arg-type]
        }
    )


def to_filter(domain: type[D], given: object) -> D:
    """A filter of the domain from its input (a query's `filter` argument): the fields
    copied, and each of `domain`'s pk fields decoded from the same-named global id. A
    malformed id, or one of another type, is a VALIDATION error at ("filter", field)."""
    ids = {
        f.name: filter_pk(getattr(given, f.name), type_name, "filter", f.name)
        for f in fields(domain)  # type: ignore[arg-type]
        if (type_name := pk_type(f)) is not None
    }
    return copy_fields(domain, given, **ids)


def nullable(domain: type) -> frozenset[str]:
    """The fields of `domain` whose type admits None."""
    hints = get_type_hints(domain)
    return frozenset(
        f.name
        for f in fields(domain)
        if get_origin(hints[f.name]) in (Union, types.UnionType)
        and type(None) in get_args(hints[f.name])
    )

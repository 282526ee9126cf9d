"""The opaque ids of the API, for the places outside GraphQL that show them (callback bodies)."""

from __future__ import annotations

import base64


def global_id(type_name: str, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode().rstrip("=")

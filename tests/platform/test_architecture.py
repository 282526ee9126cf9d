"""The shape of the code, checked: one direction of imports, one writer of review states.

- No import cycle among the modules of `gql_server/` (imports inside functions count).
- Nothing below the resolvers (`services/`, `models/`, `rules/`) imports Strawberry or
  graphql-core, or names a GraphQL input path: use cases name their own fields.
- Only the review pipeline moves a submission into APPROVED, REJECTED or PARTIALLY_PAID.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests import REPO_ROOT

PACKAGE = REPO_ROOT / "gql_server"
BELOW_THE_API = ("services", "models", "rules")
REVIEW_STATES = {"APPROVED", "REJECTED", "PARTIALLY_PAID"}


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(REPO_ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _imports(tree: ast.AST) -> list[tuple[str, str | None]]:
    """(module, name) of every import in the tree, wherever it stands."""
    found: list[tuple[str, str | None]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [(node.module, alias.name) for alias in node.names]
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for module, imported in _imports(ast.parse(path.read_text())):
            if imported is not None and f"{module}.{imported}" in modules:
                graph[name].add(f"{module}.{imported}")
            elif module in modules:
                graph[name].add(module)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_of_the_package_imports_itself_back() -> None:
    assert _cycles(_graph()) == []


def _below_the_api() -> list[Path]:
    return [path for layer in BELOW_THE_API for path in (PACKAGE / layer).rglob("*.py")]


def test_nothing_below_the_resolvers_imports_strawberry_or_graphql() -> None:
    offenders = [
        f"{path.relative_to(REPO_ROOT)}: {module}"
        for path in _below_the_api()
        for module, _ in _imports(ast.parse(path.read_text()))
        if module.split(".")[0] in ("strawberry", "graphql")
    ]
    assert offenders == []


def test_nothing_below_the_resolvers_names_a_graphql_input_path() -> None:
    """A path into the API's `input` argument, or an API spelling of a field (camelCase)."""
    offenders = []
    for path in _below_the_api():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Tuple):
                strings = [
                    e.value
                    for e in node.elts
                    if isinstance(e, ast.Constant) and isinstance(e.value, str)
                ]
                if "input" in strings:
                    offenders.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno}")
            if isinstance(node, ast.Call) and any(
                isinstance(arg, ast.Constant) and arg.value == "input" for arg in node.args
            ):
                offenders.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno}")
    assert offenders == []


def _writes_review_state(node: ast.Call) -> bool:
    for keyword in node.keywords:
        value = keyword.value
        if (
            keyword.arg == "state"
            and isinstance(value, ast.Attribute)
            and value.attr in REVIEW_STATES
        ):
            return True
    return False


def test_the_writer_finder_finds_a_writer() -> None:
    code = "Submission.filter(id=1).update(state=S.PARTIALLY_PAID, paid_minor=5)"
    (call,) = [n for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Call) and n.keywords][:1]
    assert _writes_review_state(call)


def test_only_the_review_pipeline_moves_submissions_into_review_states() -> None:
    """No ORM write sets a review state by name; the pipeline's one UPDATE takes the state
    from its decision (services/review.py `_update_sql`)."""
    writers = [
        f"{path.relative_to(REPO_ROOT)}:{node.lineno}"
        for path in PACKAGE.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("update", "create", "bulk_create", "get_or_create")
        and _writes_review_state(node)
    ]
    assert writers == []
    sql_writers = [
        path.relative_to(REPO_ROOT).as_posix()
        for path in PACKAGE.rglob("*.py")
        if 'UPDATE "submission"' in path.read_text()
    ]
    assert sql_writers == ["gql_server/services/review.py"]

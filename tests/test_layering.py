"""The server's layers, checked from the source: services under thin front doors.

- no controller module imports another controller module (helpers in server/controllers/ that define no
  Controller — forms, requests, profile_page — are shared by them);
- nothing under server/services imports Litestar, Jinja, a controller, the app or the templates;
- the import graph of server/ (every import, also those inside functions) has no cycle;
- no controller queries or writes a table itself (it may name `models.tables` for the signed-in person's type
  and the role names): that is the services' work.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVER = ROOT / "server"
WEB_ONLY = ("litestar", "jinja2", "server.controllers", "server.app", "server.templating", "server.auth")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}  # `from server import x`
    return names


MODULES = {_module_name(path): path for path in SERVER.rglob("*.py")}
GRAPH = {name: {m for m in _imports(path) if m in MODULES and m != name} for name, path in MODULES.items()}


def _defines_controller(path: Path) -> bool:
    tree = ast.parse(path.read_text())
    return any(isinstance(node, ast.ClassDef) and any(getattr(b, "id", None) == "Controller" for b in node.bases)
               for node in tree.body)


CONTROLLERS = {name for name, path in MODULES.items()
               if name.startswith("server.controllers.") and _defines_controller(path)}


def test_the_controllers_are_found():
    assert {"server.controllers.profile", "server.controllers.my_absences", "server.controllers.cohorts",
            "server.controllers.feeds"} <= CONTROLLERS


def test_no_controller_imports_another():
    crossing = sorted((name, other) for name in CONTROLLERS for other in GRAPH[name] & CONTROLLERS)
    assert crossing == []


def test_services_know_no_web():
    services = [name for name in MODULES if name.startswith("server.services")]
    assert services
    reaching = sorted(
        (name, imported) for name in services for imported in _imports(MODULES[name])
        if imported.startswith(WEB_ONLY)
    )
    assert reaching == []


def test_the_server_import_graph_has_no_cycle():
    state: dict[str, str] = {}
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(GRAPH[node]):
            if state.get(nxt) == "open":
                cycles.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"

    for start in sorted(GRAPH):
        if start not in state:
            visit(start, [start])
    assert cycles == []


QUERIES = {"select", "insert", "update", "delete", "objects", "exists", "count", "save", "remove", "raw",
           "transaction"}
NOT_YET: set[str] = set()  # controllers allowed to query tables for now: none


def _queries(path: Path) -> list[str]:
    """`Table.select(...)`-style calls on names imported from models.tables or piccolo, and `row.save()` on
    a table instance made in the module."""
    tree = ast.parse(path.read_text())
    tables = {alias.asname or alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
              and node.module and node.module.startswith(("models.tables", "piccolo")) for alias in node.names}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in QUERIES:
            target = node.func.value
            while isinstance(target, ast.Attribute | ast.Call):
                target = target.func if isinstance(target, ast.Call) else target.value
            if isinstance(target, ast.Name) and target.id in tables:
                found.append(f"line {node.lineno}: {target.id}.{node.func.attr}")
    return found


def test_the_query_finder_finds_queries(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("from models.tables import Cohort\n"
                      "async def f():\n    return await Cohort.select().where(Cohort.id == 1).first()\n"
                      "def g(person):\n    return person.role == Cohort.Status.published\n")
    assert _queries(sample) == ["line 3: Cohort.select"]


def test_controllers_leave_queries_and_writes_to_services():
    querying = {name: found for name in sorted(CONTROLLERS | {n for n in MODULES if n.startswith("server.controllers.")})
                if name not in NOT_YET and (found := _queries(MODULES[name]))}
    assert querying == {}

"""The apps stand on floors and imports only point down (README, "Layout").

Every import statement is read with `ast`, function-local ones included, so a circle cannot hide
inside a function body. A lower app that must tell a higher one something sends a signal instead.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Lowest first. An app may import its own modules and those of any app before it.
FLOORS = ("socialcrm", "customers", "triage", "inbox", "profiles", "demo")
# The project's entry points stand above every app; nothing imports them. (socialcrm/celery.py stays
# on the floor: the package imports it, as Celery's Django setup asks, and it finds tasks by name.)
TOP = ("socialcrm.urls", "socialcrm.asgi", "socialcrm.management")


def _is_top(module: str) -> bool:
    return any(module == top or module.startswith(top + ".") for top in TOP)


def _floor(module: str) -> int:
    return len(FLOORS) if _is_top(module) else FLOORS.index(module.split(".")[0])


def _modules() -> dict[str, Path]:
    found = {}
    for app in FLOORS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imports(module: str, path: Path) -> list[tuple[int, str]]:
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    return _imports_in(path.read_text(), package=package)


def _imports_in(source: str, *, package: str) -> list[tuple[int, str]]:
    """(line, imported module) for every import of one of our apps in the source, at any depth."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # from . import x, from ..y import z
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        found += [(node.lineno, name) for name in names if name.split(".")[0] in FLOORS]
    return found


def _graph() -> dict[str, set[str]]:
    """Module -> the modules of ours it imports (a `from package import name` counts the package and,
    where `name` is a module, that module)."""
    modules = _modules()
    graph = {}
    for module, path in modules.items():
        graph[module] = {name for _, name in _imports(module, path) if name in modules and name != module}
    return graph


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's, without recursion)."""
    index, low, on_stack, stack, circles, counter = {}, {}, set(), [], [], 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    circles.append(sorted(component))
    return circles


def test_every_import_points_down_a_floor():
    upward = {}
    for module, path in _modules().items():
        for line, name in _imports(module, path):
            where = f"{path.relative_to(ROOT)}:{line}"
            if _is_top(name) and not _is_top(module):
                upward.setdefault(where, f"{where} imports {name}, an entry point")
            elif _floor(name) > _floor(module):
                upward.setdefault(where, f"{where} imports {name}, a floor above {module.split('.')[0]}")
    assert not upward, "Imports that point up (send a signal instead):\n" + "\n".join(upward.values())


def test_no_import_circle_spans_two_apps():
    spanning = [circle for circle in _circles(_graph()) if len({module.split(".")[0] for module in circle}) > 1]
    assert not spanning, "Import circles across apps:\n" + "\n".join(" <-> ".join(c) for c in spanning)


def test_the_graph_is_read_from_the_code():
    """The two tests above pass trivially if nothing is found; the known edges of a mention's path are."""
    graph = _graph()
    assert "customers.services" in graph["inbox.services.ingest"]  # identities resolved during ingest
    assert "triage.pipeline" in graph["inbox.services.triage"]  # triage decides, inbox applies
    assert "inbox.services.replies" in {name for _, name in _imports("inbox.tasks", _modules()["inbox.tasks"])}
    assert len(graph) > 80


def test_an_import_inside_a_function_counts():
    source = "def later():\n    from triage.tasks import retrain_classifiers\n    from . import live\n"
    assert _imports_in(source, package="inbox.services") == [
        (2, "triage.tasks"),
        (2, "triage.tasks.retrain_classifiers"),
        (3, "inbox.services"),
        (3, "inbox.services.live"),
    ]


def test_a_circle_is_found():
    """The circle the restructure removed: ingest enqueued triage, whose service imported ingest's module."""
    graph = {
        "inbox.services": {"triage.tasks"},
        "triage.tasks": {"triage.services"},
        "triage.services": {"inbox.services", "triage.models"},
        "triage.models": set(),
    }
    assert _circles(graph) == [["inbox.services", "triage.services", "triage.tasks"]]


def _catches_value_error(source: str) -> list[int]:
    """Lines of the `except` clauses in the source that catch ValueError (alone or in a tuple)."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ExceptHandler) and node.type is not None:
            caught = node.type.elts if isinstance(node.type, ast.Tuple) else [node.type]
            if any(isinstance(name, ast.Name) and name.id == "ValueError" for name in caught):
                lines.append(node.lineno)
    return lines


def test_the_doors_read_input_through_forms_and_the_payload_parser():
    """A view or API that parses a field itself with try/except ValueError gives its own wording (or
    none) to bad input; a Django form or socialcrm.payloads says what is wrong the same way everywhere."""
    doors = [path for app in FLOORS if app != "socialcrm" for path in (ROOT / app).glob("*.py")]
    doors = [path for path in doors if path.name in ("views.py", "api.py")] + [ROOT / "socialcrm" / "views.py"]
    parsing = [f"{path.relative_to(ROOT)}:{line}" for path in doors for line in _catches_value_error(path.read_text())]
    assert len(doors) >= 5
    assert not parsing, "Doors that parse input themselves (use a form or the payload parser):\n" + "\n".join(parsing)


def test_a_value_error_handler_is_found():
    source = "try:\n    int(x)\nexcept (TypeError, ValueError):\n    pass\ntry:\n    pass\nexcept KeyError:\n    pass\n"
    assert _catches_value_error(source) == [3]

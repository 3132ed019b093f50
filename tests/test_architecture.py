"""The layout's promises, read from the source: layers point one way (ocen_sdk ← participants ← authapi ←
ocen_registry), and no two modules import each other, even through a chain or from inside a function."""

import ast
import pathlib
import re
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGES = ("ocen_sdk", "participants", "authapi", "ocen_registry")
# What each layer may import of the project's own packages (the rest of the world is not policed here).
MAY_IMPORT = {
    "ocen_sdk": {"ocen_sdk"},
    "participants": {"ocen_sdk", "participants"},
    "authapi": {"ocen_sdk", "participants", "authapi"},
    "ocen_registry": {"ocen_sdk", "participants", "authapi", "ocen_registry"},
}


def modules() -> dict[str, pathlib.Path]:
    """Every module of the project's packages, by dotted name (a package by its own name)."""
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imported(name: str, path: pathlib.Path, known: dict) -> set[str]:
    """The project's modules that `name` imports anywhere in its text (module level, functions, TYPE_CHECKING):
    `from pkg import sub` counts the submodule `sub`, `from pkg import thing` the package `pkg`."""

    def known_prefix(dotted: str) -> str | None:
        while dotted and dotted not in known:
            dotted = dotted.rpartition(".")[0]
        return dotted or None

    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets |= {known_prefix(alias.name) for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                targets.add(sub if sub in known else known_prefix(source))
    return {target for target in targets if target and target != name}


def import_graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imported(name, path, known) for name, path in known.items()}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(graph)))

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph.get(node, ()):
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

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_no_two_modules_import_each_other_even_through_a_chain():
    assert circles(import_graph()) == []


@pytest.mark.parametrize("layer", PACKAGES)
def test_each_layer_imports_only_the_layers_below_it(layer):
    graph = import_graph()
    upward = sorted(
        f"{name} imports {target}"
        for name, targets in graph.items()
        if name.split(".")[0] == layer
        for target in targets
        if target.split(".")[0] not in MAY_IMPORT[layer]
    )
    assert upward == []


def test_the_toolkit_imports_no_django():
    uses_django = sorted(
        name
        for name, path in modules().items()
        if name.startswith("ocen_sdk")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Import | ast.ImportFrom)
        and any(
            (alias.name if isinstance(node, ast.Import) else node.module or "").startswith("django")
            for alias in node.names
        )
    )
    assert uses_django == []


def test_the_checker_sees_a_circle_and_an_import_hidden_in_a_function(tmp_path, monkeypatch):
    """The checks above can fail: a function-level import that closes a circle is found."""
    for package in PACKAGES:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "participants" / "services.py").write_text("def f():\n    from authapi import views\n")
    (tmp_path / "authapi" / "views.py").write_text("from participants.services import f\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    graph = import_graph()
    assert circles(graph) == [["authapi.views", "participants.services"]]
    assert "authapi.views" in graph["participants.services"]


def test_audit_action_names_are_written_only_in_their_enum():
    """Code says AuditAction.X: a mistyped name is an AttributeError, not an action the feed silently ignores."""
    from participants.models import AuditAction

    names = {action.value for action in AuditAction}
    enum = ROOT / "participants" / "models" / "audit.py"
    written = [
        f"{path.relative_to(ROOT)}:{node.lineno} {node.value}"
        for path in modules().values()
        if path != enum and "migrations" not in path.parts
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and node.value in names
    ]
    pattern = re.compile(r"(?<![\w.])(" + "|".join(re.escape(name) for name in names) + r")(?![\w.])")
    written += [
        f"{path.relative_to(ROOT)} {match}"
        for path in (ROOT / "templates").rglob("*.html")
        for match in pattern.findall(path.read_text())
    ]
    assert written == []


def test_no_decision_compares_a_display_label():
    """States and statuses are compared by their enum members; labels ("Suspended", "Under review") are for display:
    none appears as a comparison's operand or a dict key (the old state-to-colour and state-to-event maps)."""
    from django.apps import apps
    from django.db.models import Choices

    labels = {
        str(label)
        for module in {model.__module__ for model in apps.get_models()} | {"participants.models"}
        for member in vars(__import__(module, fromlist=["*"])).values()
        if isinstance(member, type) and issubclass(member, Choices) and member is not Choices
        for value, label in member.choices
        if str(label) != value
    }

    def label_constants(node):
        return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and n.value in labels]

    compared = []
    for path in modules().values():
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare):
                operands = [node.left, *node.comparators]
            elif isinstance(node, ast.Dict):
                operands = [key for key in node.keys if key is not None]
            else:
                continue
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            compared += [f"{where} {label}" for operand in operands for label in label_constants(operand)]
    alternatives = "|".join(re.escape(label) for label in labels)
    in_templates = re.compile(r"""(?:==|!=|\bin)\s*["'](""" + alternatives + r""")["']""")
    compared += [
        f"{path.relative_to(ROOT)} {label}"
        for path in (ROOT / "templates").rglob("*.html")
        for label in in_templates.findall(path.read_text())
    ]
    assert labels and compared == []


def test_no_module_is_longer_than_a_reader_can_hold():
    """500 lines at most, outside migrations (generated), tests and bench."""
    long = {
        str(path.relative_to(ROOT)): length
        for path in modules().values()
        if "migrations" not in path.parts and (length := len(path.read_text().splitlines())) > 500
    }
    assert long == {}


def test_the_domain_names_no_http_module_in_a_string_either():
    """No `import_module("authapi…")`, `apps.get_model("authapi", …)`, `ForeignKey("authapi.…")` or dotted path
    to an authapi object (a task, a setting) in participants: arrows the import graph cannot see. Docstrings
    may say where the HTTP side does a thing."""
    named = []
    for name, path in modules().items():
        if not name.startswith("participants") or "migrations" in path.parts:
            continue
        tree = ast.parse(path.read_text())
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        named += [
            f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
            and re.match(r"authapi([.:]|$)", node.value)
        ]
    assert named == []

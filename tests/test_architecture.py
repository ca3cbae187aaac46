"""The package's layers stand in one direction, read from the code's own imports (lazy ones inside functions
count too; imports only for type checkers do not):

    core, host  <-  stats  <-  channels  <-  delivery  <-  bot  <-  inbound  <-  web, admin  <-  events, cli  <-  extension

no import circle; platform SDKs only in channels/; no Flask in core/, stats/, channels/, delivery/, bot/, inbound/; and
nothing below the extension imports it (the demo CRM and crm_plugin.testing are hosts, above it all)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "crm_plugin"
HOSTS = ("crm_plugin.demo", "crm_plugin.testing")
SDKS = ("telebot", "vk_api", "viberbot", "slack_sdk")
FLASK = ("flask", "flask_admin", "flask_wtf", "flask_babel", "flask_login", "werkzeug")
FLASK_FREE = ("crm_plugin.core", "crm_plugin.stats", "crm_plugin.channels", "crm_plugin.delivery", "crm_plugin.bot",
              "crm_plugin.inbound")
# Lowest first; the Flask edge (web routes and admin views) is one layer: the web chat's page and API share code.
LAYERS = [("crm_plugin.core", "crm_plugin.host", "crm_plugin.phones"), ("crm_plugin.stats",), ("crm_plugin.channels",),
          ("crm_plugin.delivery",), ("crm_plugin.bot",), ("crm_plugin.inbound",), ("crm_plugin.web", "crm_plugin.admin")]


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _type_checking_only(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    for node in ast.iter_child_nodes(tree):
        if _type_checking_only(node):
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        yield from _imports(node)


def imported(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """Every module ``name`` imports: of this package (resolved to a module we have) and from outside."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
            continue
        base = node.module or ""
        if node.level:
            anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
            base = ".".join(anchor + ([base] if base else []))
        for alias in node.names:
            candidate = f"{base}.{alias.name}"
            found.add(candidate if candidate in known else base)
    return found


GRAPH = {name: imported(name, path, modules()) for name, path in modules().items()}


def _within(name: str, prefixes: tuple[str, ...] | str) -> bool:
    prefixes = (prefixes,) if isinstance(prefixes, str) else prefixes
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in graph:
                continue
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
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


def test_the_graph_is_read_from_the_code() -> None:
    # The reading itself must see the arrows it judges, or every rule below passes by seeing nothing.
    assert "crm_plugin.core.state" in GRAPH["crm_plugin.extension"]
    assert "telebot" in GRAPH["crm_plugin.channels.telegram"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_circle() -> None:
    assert cycles(GRAPH) == []


@pytest.mark.parametrize("sdk", SDKS)
def test_platform_sdks_only_in_channels(sdk: str) -> None:
    users = sorted(name for name, targets in GRAPH.items()
                   if any(_within(t, sdk) for t in targets) and not _within(name, "crm_plugin.channels"))
    assert users == []


def test_no_flask_below_the_edge() -> None:
    users = sorted(f"{name} -> {target}" for name, targets in GRAPH.items() if _within(name, FLASK_FREE)
                   for target in targets if _within(target, FLASK))
    assert users == []


def test_nothing_below_imports_the_extension() -> None:
    users = sorted(name for name, targets in GRAPH.items()
                   if "crm_plugin.extension" in targets and name != "crm_plugin" and not _within(name, HOSTS))
    assert users == []


def test_layers_import_only_downwards() -> None:
    upward = []
    for name, targets in GRAPH.items():
        own = next((i for i, layer in enumerate(LAYERS) if _within(name, layer)), None)
        if own is None:
            continue
        for target in targets:
            other = next((i for i, layer in enumerate(LAYERS) if _within(target, layer)), None)
            if other is not None and other > own:
                upward.append(f"{name} -> {target}")
    assert upward == []

"""How the packages depend on each other: the wire contract is light, the imports of src/
form no cycle, and the domain packages reach nothing above them."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "nextbest"


def test_the_wire_contract_loads_no_runtime() -> None:
    probe = (
        "import sys, nextbest.decide.types; "
        "print(sorted(m for m in ('onnxruntime', 'prometheus_client', 'redis', 'numpy') "
        "if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == "[]"


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _imports(path: Path, name: str, modules: dict[str, Path]) -> Iterator[str]:
    """Every project module `path` imports, at any depth of the file (type-checking-only
    imports included: a cycle through them is still a cycle for a reader)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for target in targets:
            if target in modules:
                yield target


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph = {}
    for name, path in modules.items():
        graph[name] = {t for t in _imports(path, name, modules) if t != name}
    return graph


def _package_of(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2])


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_modules_import_one_another_without_a_cycle() -> None:
    graph = _graph()
    # a package's __init__ re-exporting its submodules is not a dependency of theirs
    without_reexports = {
        module: {t for t in targets if not module.startswith(f"{t}.")}
        for module, targets in graph.items()
    }
    assert _cycle(without_reexports) is None


def test_packages_depend_on_one_another_without_a_cycle() -> None:
    packages: dict[str, set[str]] = {}
    for module, targets in _graph().items():
        own = _package_of(module)
        packages.setdefault(own, set()).update(
            _package_of(t) for t in targets if _package_of(t) != own
        )
    assert _cycle(packages) is None


DOMAIN = ("decide", "rules", "scoring", "pressure", "bundle", "exploration", "experiments")
EDGE = ("nextbest.api", "nextbest.service", "nextbest.metrics", "nextbest.cli")


@pytest.mark.parametrize("package", DOMAIN)
def test_domain_packages_import_nothing_from_the_edge(package: str) -> None:
    graph = _graph()
    reaching_up = {
        (module, target)
        for module, targets in graph.items()
        if module.startswith(f"nextbest.{package}")
        for target in targets
        if target.startswith(EDGE)
    }
    assert reaching_up == set()

"""No import cycles in `pledge`, counting imports inside functions and under TYPE_CHECKING (issue #12): the layers
contract in `make check` orders the packages; this orders the modules inside each package too."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path
from types import ModuleType

import grimp

import pledge


def _cycles(graph: grimp.ImportGraph) -> list[set[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    for start in sorted(graph.modules):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.find_modules_directly_imported_by(start))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            module, imported = work[-1]
            following = next(imported, None)
            if following is not None:
                if following not in index:
                    index[following] = low[following] = len(index)
                    stack.append(following)
                    on_stack.add(following)
                    work.append((following, iter(sorted(graph.find_modules_directly_imported_by(following)))))
                elif following in on_stack:
                    low[module] = min(low[module], index[following])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[module])
            if low[module] == index[module]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == module:
                        break
                if len(component) > 1:
                    found.append(component)
    return found


def _with_package_imports(graph: grimp.ImportGraph) -> grimp.ImportGraph:
    """Add what grimp leaves out: ``from pledge.store import codec`` inside ``pledge.store`` names the package, whose
    ``__init__`` imports the modules that import it (grimp records only the edge to ``pledge.store.codec``)."""
    packages = {module.__name__: Path(module.__file__ or "") for module in _packages()}
    for name, init in packages.items():
        for source in init.parent.rglob("*.py"):
            importer = _module_name(source)
            for node in ast.walk(ast.parse(source.read_text())):
                names_the_package = isinstance(node, ast.ImportFrom) and node.level == 0 and node.module == name
                if names_the_package and importer != name and importer in graph.modules:
                    graph.add_import(importer=importer, imported=name)
    return graph


def _packages() -> list[ModuleType]:
    return [
        importlib.import_module(info.name)
        for info in pkgutil.walk_packages(pledge.__path__, "pledge.")
        if info.ispkg and ".migrations" not in info.name
    ]


def _module_name(source: Path) -> str:
    parts = list(source.relative_to(Path(pledge.__file__).parent.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_no_module_of_pledge_imports_itself_through_others() -> None:
    graph = grimp.build_graph("pledge", exclude_type_checking_imports=False, cache_dir=None)
    cycles = _cycles(_with_package_imports(graph))
    assert not cycles, "import cycles: " + "; ".join(" ↔ ".join(sorted(cycle)) for cycle in cycles)


def test_the_check_finds_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for importer, imported in (("a.x", "a.y"), ("a.y", "a.z"), ("a.z", "a.x"), ("a.z", "a.w")):
        graph.add_import(importer=importer, imported=imported)
    assert _cycles(graph) == [{"a.x", "a.y", "a.z"}]

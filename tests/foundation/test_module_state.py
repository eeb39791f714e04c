"""No module keeps state of its own that code changes at run time: caches and registries belong to the object that
owns their lifetime (a runtime, an app's binding to it), or two runtimes in one process (a server and the statement's
checks, two tests) read and overwrite each other's."""

from __future__ import annotations

import ast
from pathlib import Path

import pledge

SOURCE = Path(pledge.__file__).parent
_CONTAINERS = frozenset({"dict", "list", "set", "defaultdict", "OrderedDict", "deque", "Counter"})
_MUTATORS = frozenset(
    {"append", "extend", "insert", "pop", "popitem", "clear", "update", "setdefault", "add", "discard", "remove"}
)
# Module-level caches of the token readers, which another change of #12 item 3 moves into their owners.
PENDING = {
    "trust/connect_jwt.py": {"_PATH_QSH"},
    "trust/jwt_policy.py": {"_HEADERS"},
}


def _module_containers(tree: ast.Module) -> set[str]:
    """Names the module binds to a mutable container: a literal, a comprehension or a container's constructor."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        literal = isinstance(value, ast.Dict | ast.List | ast.Set | ast.DictComp | ast.ListComp | ast.SetComp)
        constructed = isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id in _CONTAINERS
        if literal or constructed:
            names |= {target.id for target in targets if isinstance(target, ast.Name)}
    return names


def mutated_module_state(source: str) -> set[str]:
    """The module-level containers a function of ``source`` changes, and the names it rebinds with ``global``."""
    tree = ast.parse(source)
    containers = _module_containers(tree)
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Global):
            found |= set(node.names)
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign | ast.Delete):
            targets = node.targets if isinstance(node, ast.Assign | ast.Delete) else [node.target]
            found |= {
                target.value.id
                for target in targets
                if isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name)
            } & containers
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _MUTATORS:
            owner = node.func.value
            if isinstance(owner, ast.Name) and owner.id in containers:
                found.add(owner.id)
    return found


def test_no_module_changes_state_of_its_own() -> None:
    found = {
        path.relative_to(SOURCE).as_posix(): mutated_module_state(path.read_text()) for path in SOURCE.rglob("*.py")
    }
    unowned = {path: names - PENDING.get(path, set()) for path, names in found.items()}
    assert {path: names for path, names in unowned.items() if names} == {}


def test_the_scan_finds_each_way_of_keeping_state_in_a_module() -> None:
    assert mutated_module_state("_seen = {}\ndef f(k, v):\n    _seen[k] = v\n") == {"_seen"}
    assert mutated_module_state("_parts = []\ndef f(p):\n    _parts.append(p)\n") == {"_parts"}
    assert mutated_module_state("_ids = set()\nasync def f(i):\n    _ids.add(i)\n") == {"_ids"}
    assert mutated_module_state("_n = 0\ndef f():\n    global _n\n    _n += 1\n") == {"_n"}
    assert mutated_module_state("_c = {}\ndef f(k):\n    del _c[k]\n") == {"_c"}
    # A constant table read at run time, and a statement built from a table, are not state.
    assert mutated_module_state("CODES = {1: 'a'}\ndef f(k):\n    return CODES[k]\n") == set()
    assert mutated_module_state("t = Table('t')\ndef f():\n    return t.update()\n") == set()

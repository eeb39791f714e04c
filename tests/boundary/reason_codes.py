"""The reason codes Pledge answers with, as the source passes them to the refusal machinery, and as documented."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
from pathlib import Path

import pledge
from pledge import host
from pledge.errors import PledgeError, Refused

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = ROOT / "docs" / "reason-codes.md"
# The simulated Atlassian site answers as Atlassian would, not as Pledge does.
NOT_PLEDGE = ("sim",)


def all_pledge_errors() -> set[type[PledgeError]]:
    """Every exception class of Pledge (each module imported first)."""
    for module in pkgutil.walk_packages(pledge.__path__, "pledge."):
        if not module.name.startswith("pledge.migrations."):
            importlib.import_module(module.name)
    found: set[type[PledgeError]] = set()
    pending = [PledgeError]
    while pending:
        for sub in pending.pop().__subclasses__():
            found.add(sub)
            pending.append(sub)
    return found


def refusers() -> set[str]:
    """What takes a reason code as its first argument: the exceptions that carry one, and the refusal encoder."""
    carriers = {kind for kind in all_pledge_errors() if issubclass(kind, Refused)}
    return {kind.__name__ for kind in carriers} | {"Refused", "refusal"}


def codes_in_source(root: Path = ROOT / "src" / "pledge") -> dict[str, set[str]]:
    """Every reason code literal in the source: code -> the files passing it."""
    names = refusers()
    found: dict[str, set[str]] = {}
    for path in sorted(root.rglob("*.py")):
        if path.relative_to(root).parts[0] in NOT_PLEDGE:
            continue
        for code in _codes_in(ast.parse(path.read_text()), names):
            found.setdefault(code, set()).add(str(path.relative_to(ROOT)))
    for status_code in host.REFUSALS.values():
        found.setdefault(status_code[1], set()).add("src/pledge/host.py")
    for code in (*host.HTTP_ERROR_CODES.values(), host.OTHER_HTTP_ERROR):
        found.setdefault(code, set()).add("src/pledge/host.py")
    return found


def _codes_in(tree: ast.AST, refusers: set[str]) -> set[str]:
    codes: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args and _name(node.func) in refusers:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                codes.add(first.value)
        elif isinstance(node, ast.Dict):  # a JSON body built by hand: {"error": "<code>", ...}
            for key, value in zip(node.keys, node.values, strict=True):
                if (
                    isinstance(key, ast.Constant)
                    and key.value == "error"
                    and isinstance(value, ast.Constant)
                    and isinstance(value.value, str)
                ):
                    codes.add(value.value)
    return codes


def _name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def documented_codes() -> dict[str, str]:
    """The codes of docs/reason-codes.md's tables: code -> its status column."""
    rows = re.findall(r"^\| `([a-z0-9_]+)` \| ([^|]+) \|", DOCUMENT.read_text(), flags=re.MULTILINE)
    return {code: status.strip() for code, status in rows}


if __name__ == "__main__":
    for code, files in sorted(codes_in_source().items()):
        print(f"{code:28} {', '.join(sorted(files))}")

"""Guard: no validation pattern in ``src/pledge`` can be fooled by a trailing newline.

Python's ``$`` also matches before a final ``\\n``, so ``re.match(r"^[a-z]+$", "abc\\n")`` succeeds: a kid ending in
a newline once passed that way into a URL and made a 500. Patterns are therefore written without anchors and
checked with ``fullmatch``. Pydantic's ``Field(pattern=...)`` is the exception: it runs the Rust ``regex`` engine,
which searches (so it needs ``^``/``$``) and whose ``$`` is the end of the text (tested below on a real setting).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pledge.config import load_settings
from pledge.errors import ConfigurationError
from pledge.trust import install_keys

SOURCE = Path(__file__).resolve().parents[1] / "src" / "pledge"
_RE_FUNCTIONS = frozenset({"compile", "match", "fullmatch", "search", "findall", "finditer", "sub", "subn", "split"})


def _modules() -> Iterator[tuple[Path, ast.Module]]:
    for path in sorted(SOURCE.rglob("*.py")):
        yield path, ast.parse(path.read_text(), str(path))


def _re_literal(call: ast.Call) -> str | None:
    """The pattern literal of a ``re.<function>(literal, ...)`` call, else None."""
    func = call.func
    is_re = isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "re"
    if not (is_re and isinstance(func, ast.Attribute) and func.attr in _RE_FUNCTIONS and call.args):
        return None
    first = call.args[0]
    return first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None


def _ends_with_dollar(pattern: str) -> bool:
    stripped = pattern.rstrip()
    return stripped.endswith("$") and not stripped.endswith("\\$")


def _offences(path: Path, tree: ast.Module) -> Iterator[str]:
    compiled = {"re"} | {name for node in ast.walk(tree) for name in _compiled_names(node)}
    where = path.relative_to(SOURCE.parent)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        pattern = _re_literal(node)
        if pattern is not None and (_ends_with_dollar(pattern) or pattern.startswith("^")):
            yield f"{where}:{node.lineno}: anchored pattern {pattern!r}: drop ^/$ and use fullmatch"
        func = node.func
        # One argument: a validation (a tokenizer scanning from a position passes ``pos`` too).
        single = isinstance(func, ast.Attribute) and func.attr == "match" and len(node.args) == 1
        if (
            single
            and isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id in compiled
        ):
            yield f"{where}:{node.lineno}: {func.value.id}.match(value) checks a prefix only: use fullmatch"
        for keyword in node.keywords:
            value = keyword.value
            # Pydantic's Rust engine searches: an unanchored pattern would accept any text containing a match.
            literal = value.value if isinstance(value, ast.Constant) and isinstance(value.value, str) else None
            if (
                keyword.arg == "pattern"
                and literal is not None
                and not (literal.startswith("^") and literal.endswith("$"))
            ):
                yield f"{where}:{node.lineno}: Field pattern {literal!r} must be anchored with ^ and $"


def _compiled_names(node: ast.AST) -> Iterator[str]:
    """Names bound to ``re.compile(literal)`` by ``node``."""
    if not (isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(node.value, ast.Call)):
        return
    if _re_literal(node.value) is not None:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        yield from (target.id for target in targets if isinstance(target, ast.Name))


def test_no_validation_pattern_is_anchored_with_dollar_or_checked_as_a_prefix() -> None:
    offences = [offence for path, tree in _modules() for offence in _offences(path, tree)]
    assert offences == []


def test_the_guard_catches_the_mistake_it_exists_for(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import re\n"
        "_KID = re.compile(r'^[a-z]{1,8}$')\n"
        "def ok(kid: str) -> bool:\n"
        "    return bool(_KID.match(kid))\n"
        "def field() -> None:\n"
        "    Field(pattern=r'[A-Z]+')\n"
    )
    tree = ast.parse(sample.read_text())
    found = list(_offences(SOURCE / "sample.py", tree))
    assert len(found) == 3


@given(st.from_regex(install_keys.KID_PATTERN, fullmatch=True), st.sampled_from(["\n", "\r\n", "\x00", " ", "/"]))
def test_a_kid_with_any_trailing_character_outside_the_alphabet_is_refused(kid: str, tail: str) -> None:
    assert install_keys.KID_PATTERN.fullmatch(kid)
    assert not install_keys.KID_PATTERN.fullmatch(kid + tail)


@pytest.mark.parametrize("level", ["INFO\n", "INFO\r\n", "\nINFO"])
def test_pydantic_field_patterns_refuse_a_trailing_newline(tmp_path: Path, level: str) -> None:
    """The premise of the exemption above: the Rust engine's ``$`` does not match before a final newline."""
    with pytest.raises(ConfigurationError):
        load_settings(data_dir=tmp_path, log_level=level)


def test_python_dollar_really_matches_before_a_newline() -> None:
    """Why the guard exists (if Python ever changes this, the guard can be relaxed)."""
    assert re.match(r"^[a-z]+$", "abc\n")
    assert not re.fullmatch(r"[a-z]+", "abc\n")

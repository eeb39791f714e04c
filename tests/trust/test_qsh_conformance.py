"""Conformance of pledge.trust.qsh with Atlassian's canonicalizers (S11).

Node's ``atlassian-jwt`` is run once over a seeded corpus. Where its parameter order (by decoded name) agrees with
the Java rule (by percent-encoded name) we must equal it byte for byte; where it does not, we must equal Node's own
pieces re-sorted by the Java rule. ``qsh_vectors.json`` holds vectors from Node and hand-written Java-rule ones, so
the conformance is checked on a machine without node too.

Regenerate the vectors (needs node): ``PYTHONPATH=src python tests/trust/test_qsh_conformance.py --write-vectors``.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import quote, quote_plus, unquote

import pytest

from pledge.trust.qsh import canonical_request, query_string_hash

HERE = Path(__file__).resolve().parent
NODE_DIR = HERE / "node"
VECTORS = HERE / "qsh_vectors.json"
NODE_LIBRARY = "atlassian-jwt@2.0.3"
HOST = "https://example.atlassian.net"

SEED = 20_240_611
CORPUS_SIZE = 1_200


@dataclass(frozen=True)
class Request:
    method: str
    url: str
    context_path: str = ""

    def ours(self) -> str:
        return canonical_request(self.method, self.url, context_path=self.context_path)

    def for_node(self) -> dict[str, str]:
        line = {"method": self.method, "url": self.url}
        if self.context_path:
            line["baseUrl"] = HOST + self.context_path
        return line


# --- the reference Java ordering, independent of the module under test ------------------------------------------


def split_canonical(canonical: str) -> tuple[str, str, list[str]]:
    """(method, path, ["name=values", ...]); the path holds no raw "&" and encoded names hold no "&" or "="."""
    method, path, query = canonical.split("&", 2)
    return method, path, query.split("&") if query else []


def java_order(canonical: str) -> str:
    """The same pieces sorted by percent-encoded name, in code-unit order (Java's HttpRequestCanonicalizer)."""
    method, path, pieces = split_canonical(canonical)
    return "&".join([method, path, "&".join(sorted(pieces, key=lambda piece: piece.split("=", 1)[0]))])


def node_order(canonical: str) -> str:
    """The same pieces sorted by decoded name in UTF-16 code-unit order (JavaScript's Array.prototype.sort)."""
    method, path, pieces = split_canonical(canonical)

    def decoded_name(piece: str) -> bytes:
        return unquote(piece.split("=", 1)[0]).encode("utf-16-be", "surrogatepass")

    return "&".join([method, path, "&".join(sorted(pieces, key=decoded_name))])


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- the corpus ----------------------------------------------------------------------------------------------------

_WORDS = ["a", "b", "A", "B", "Z", "z", "first", "zee_last", "repeated", "x1", "1", "_", "-", ".", "~", "expand"]
_RESERVED = "&=+%#?/ *~,"
_ALPHABET = (
    "abcxyzABCXYZ0189-._~"  # unreserved
    + _RESERVED
    + "!$'()[]{}:;@|^`\"<>\\"  # other ASCII punctuation
    + "éüßÅ日本€Ａ😀\u00a0"  # Latin-1, CJK, BMP above the surrogates, astral, no-break space
)
_PATH_TOKENS = [
    "rest", "api", "2", "issue", "ABC-1", "a.b", "~user", "x_y", "%20", "%2F", "%2f", "%C3%A9", "%e6%97%a5",
    "%26", "%3F", "%23", "%25", "&", "=", ",", ";", ":", "@", "!", "$", "(", ")", "*", "+", "é",
]  # fmt: skip
_CONTEXTS = ["", "", "", "/wiki", "/jira", "/app/v1"]
_ESCAPE = re.compile("%[0-9A-F]{2}")
_METHODS = ["GET", "get", "Post", "PUT", "delete", "PATCH", "head", "options"]


def _random_text(rng: random.Random, low: int, high: int) -> str:
    return "".join(rng.choice(_ALPHABET) for _ in range(rng.randint(low, high)))


def _encode_component(rng: random.Random, text: str, *, is_name: bool, ascii_only: bool = False) -> str:
    """Put a decoded name or value on the wire, as various clients would."""
    styles = ["quote", "quote_plus", "urlencoder", "lowercase"] + ([] if ascii_only else ["minimal", "minimal"])
    style = rng.choice(styles)
    if style == "quote":
        return quote(text, safe="")
    if style == "quote_plus":
        return quote_plus(text, safe="")
    if style == "urlencoder":  # java.net.URLEncoder: keeps "*", encodes "~"
        return quote_plus(text, safe="*").replace("~", "%7E")
    if style == "lowercase":
        return _ESCAPE.sub(lambda match: match.group().lower(), quote(text, safe=""))
    # minimal: only what the query syntax needs, non-ASCII and most punctuation left raw. Not U+00A0: Node's
    # url.parse trims it from the end of a URL (it is never raw on the wire).
    must = "%&#+\u00a0" + ("=" if is_name else "")
    space = rng.choice(["+", "%20"])
    return "".join(space if c == " " else quote(c, safe="") if c in must else c for c in text)


def _query(rng: random.Random) -> tuple[str, set[str]]:
    features: set[str] = set()
    names: list[str] = []
    chunks: list[str] = []
    for _ in range(rng.choices([0, 1, 2, 3, 4, 6], weights=[2, 3, 3, 3, 2, 1])[0]):
        roll = rng.random()
        if names and roll < 0.2:
            name = rng.choice(names)
            features.add("repeated name")
        elif roll < 0.25:
            name = "jwt"
            features.add("jwt")
        elif roll < 0.6:
            name = rng.choice(_WORDS)
        else:
            name = _random_text(rng, 1, 4)
        names.append(name)
        roll = rng.random()
        if roll < 0.2:
            value = ""
        elif roll < 0.5:
            value = rng.choice(_WORDS)
        else:
            value = _random_text(rng, 1, 6)
        wire_name = _encode_component(rng, name, is_name=True)
        if not value and rng.random() < 0.5:
            chunks.append(wire_name)
            features.add("name without =")
            continue
        if rng.random() < 0.03:
            # Node's fallback decoder truncates raw non-ASCII to bytes when a component holds a malformed escape.
            wire_value = _encode_component(rng, value, is_name=False, ascii_only=True)
            wire_value += rng.choice(["%zz", "%C3", "%E2%82", "%"])
            features.add("malformed escape")
        else:
            wire_value = _encode_component(rng, value, is_name=False)
        chunks.append(f"{wire_name}={wire_value}")
        features.add("empty value" if not value else "value")
        if any(ord(c) > 127 for c in name + value):
            features.add("unicode")
        if any(c in _RESERVED for c in name + value):
            features.add("reserved")
    separator = "&&" if rng.random() < 0.05 else "&"
    return separator.join(chunks), features


def _path(rng: random.Random) -> str:
    segments = ["".join(rng.choice(_PATH_TOKENS) for _ in range(rng.randint(1, 3))) for _ in range(rng.randint(0, 4))]
    path = "/" + "/".join(segments)
    roll = rng.random()
    if roll < 0.25 and path != "/":
        path += "/"
    elif roll < 0.3:
        path += "//"
    return path


def generate_corpus(seed: int = SEED, size: int = CORPUS_SIZE) -> tuple[list[Request], set[str]]:
    rng = random.Random(seed)
    corpus: list[Request] = []
    features: set[str] = set()
    for _ in range(size):
        context = rng.choice(_CONTEXTS)
        path = _path(rng)
        if context:
            roll = rng.random()
            path = context + path if roll < 0.85 else (context + "x" + path if roll < 0.9 else path)
            features.add("context")
        if path.endswith("/") and path != "/":
            features.add("trailing slash")
        if rng.random() < 0.2:
            path = HOST + path
        query, query_features = _query(rng)
        features |= query_features
        url = path + ("?" + query if query or rng.random() < 0.3 else "")
        if rng.random() < 0.05:
            url += "#frag?x=1&jwt=y"
        corpus.append(Request(rng.choice(_METHODS), url, context))
    return corpus, features


# --- hand-written vectors of the Java rule -------------------------------------------------------------------------

JAVA_RULE_VECTORS: list[tuple[Request, str, str]] = [
    (Request("GET", "/x?z=1&%C3%A9=2"), "GET&/x&%C3%A9=2&z=1", "non-ASCII name sorts by its encoding"),
    (Request("GET", "/x?%C3%A4=1&Zebra=2"), "GET&/x&%C3%A4=1&Zebra=2", "'%' sorts before letters"),
    (Request("GET", "/x?a-=1&a%2F=2"), "GET&/x&a%2F=2&a-=1", "'/' is encoded, '-' is not"),
    (Request("GET", "/x?a1=x&a%3D=y"), "GET&/x&a%3D=y&a1=x", "'=' in a name"),
    (Request("GET", "/x?zoo=1&%7B=2"), "GET&/x&%7B=2&zoo=1", "'{' is encoded"),
    (Request("GET", "/x?v=%EF%BC%A1&v=%F0%9F%98%80"), "GET&/x&v=%F0%9F%98%80,%EF%BC%A1", "UTF-16 value order"),
    (Request("GET", "/x?a=1&B=2&A=3&b=4"), "GET&/x&A=3&B=2&a=1&b=4", "A < B < a < b"),
    (Request("GET", "/x?jwt=abc&JWT=def"), "GET&/x&JWT=def", "only 'jwt' exactly is dropped"),
    (Request("GET", f"{HOST}/a'b(c)!"), "GET&/a'b(c)!&", "the path stays as on the wire (Node escapes ')"),
    (Request("put", f"{HOST}/wiki/rest/a&b/?x=%7e", "/wiki"), "PUT&/rest/a%26b&x=~", "context, '&', slash"),
]


# --- node ----------------------------------------------------------------------------------------------------------


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def run_node(requests: Iterable[Request]) -> list[dict[str, str]]:
    node = shutil.which("node")
    assert node is not None
    lines = [json.dumps(request.for_node()) for request in requests]
    proc = subprocess.run(
        [node, str(NODE_DIR / "qsh.js")],
        cwd=NODE_DIR,
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=True,
    )
    results: list[dict[str, str]] = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(results) == len(lines), proc.stderr
    return results


@pytest.fixture(scope="module")
def node() -> Callable[[Iterable[Request]], list[dict[str, str]]]:
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if missing:
        _unavailable(f"node not installed: {' and '.join(missing)} not on PATH, needed to cross-check {NODE_LIBRARY}")
    if not (NODE_DIR / "node_modules" / "atlassian-jwt").is_dir():
        npm = shutil.which("npm")
        assert npm is not None
        try:
            proc = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=NODE_DIR,
                capture_output=True,
                text=True,
                timeout=300,
            )
        except subprocess.TimeoutExpired:
            _unavailable(f"node not installed: `npm ci` in {NODE_DIR} timed out")
        else:
            if proc.returncode != 0:
                _unavailable(f"node not installed: `npm ci` in {NODE_DIR} failed: {proc.stderr.strip()[-1000:]}")
    return run_node


@pytest.fixture(scope="module")
def corpus() -> tuple[list[Request], set[str]]:
    return generate_corpus()


# --- tests ---------------------------------------------------------------------------------------------------------


def test_corpus_is_deterministic_and_covers_the_hard_cases(corpus: tuple[list[Request], set[str]]) -> None:
    requests, features = corpus
    assert len(requests) >= 1_000
    assert generate_corpus()[0] == requests
    assert features >= {
        "repeated name", "jwt", "name without =", "empty value", "unicode", "reserved", "context", "trailing slash",
        "malformed escape",
    }  # fmt: skip


def test_corpus_matches_node_or_the_java_rule(
    node: Callable[[Iterable[Request]], list[dict[str, str]]], corpus: tuple[list[Request], set[str]]
) -> None:
    requests, _ = corpus
    results = node(requests)
    failures: list[str] = []
    disagreeing = 0
    for request, result in zip(requests, results, strict=True):
        assert "error" not in result, (request, result)
        node_canonical = result["canonical"]
        assert sha256_hex(node_canonical) == result["qsh"]
        # Node does sort by decoded name: the premise of the comparison.
        assert node_order(node_canonical) == node_canonical, (request, node_canonical)
        java = java_order(node_canonical)
        if java != node_canonical:
            disagreeing += 1
        ours = request.ours()
        if ours != java:
            failures.append(f"{request}\n  ours: {ours}\n  java: {java}\n  node: {node_canonical}")
        elif query_string_hash(request.method, request.url, context_path=request.context_path) != sha256_hex(java):
            failures.append(f"{request}: qsh differs")
    assert not failures, f"{len(failures)} of {len(requests)} differ:\n" + "\n".join(failures[:10])
    # The corpus must exercise the one place where we follow Java against Node, and stay mostly comparable.
    assert 0 < disagreeing < len(requests) // 2, disagreeing
    print(f"\n{disagreeing} of {len(requests)} requests: Node's parameter order differs from Java's")


def test_vectors_without_node() -> None:
    vectors = json.loads(VECTORS.read_text(encoding="utf-8"))
    sources = {vector["source"] for vector in vectors}
    assert sources == {NODE_LIBRARY, "java-rule"}
    assert len(vectors) >= 45
    for vector in vectors:
        request = Request(vector["method"], vector["url"], vector["context_path"])
        assert sha256_hex(vector["canonical"]) == vector["qsh"], vector
        assert request.ours() == vector["canonical"], vector
        assert query_string_hash(request.method, request.url, context_path=request.context_path) == vector["qsh"]


def test_hand_written_java_vectors_are_in_the_file() -> None:
    stored = {
        (v["method"], v["url"], v["context_path"], v["canonical"])
        for v in json.loads(VECTORS.read_text(encoding="utf-8"))
        if v["source"] == "java-rule"
    }
    written = {(r.method, r.url, r.context_path, canonical) for r, canonical, _ in JAVA_RULE_VECTORS}
    assert stored == written


def test_vectors_still_match_node(node: Callable[[Iterable[Request]], list[dict[str, str]]]) -> None:
    vectors = json.loads(VECTORS.read_text(encoding="utf-8"))
    requests = [Request(v["method"], v["url"], v["context_path"]) for v in vectors]
    for vector, result in zip(vectors, node(requests), strict=True):
        if vector["source"] == NODE_LIBRARY:
            assert result["canonical"] == vector["canonical"], vector
        elif "Node escapes" in vector["note"]:
            assert result["canonical"] == vector["canonical"].replace("'", "%27"), (vector, result)
        else:
            # A hand-written Java vector is Node's own answer re-sorted by encoded name.
            assert java_order(result["canonical"]) == vector["canonical"], (vector, result)


# --- regenerating qsh_vectors.json ---------------------------------------------------------------------------------

_SIMPLE = [
    Request("GET", "/path/to/service?zee_last=param&repeated=parameter 1&first=param&repeated=parameter 2"),
    Request("GET", "/path/to/service"),
    Request("POST", "/installed?"),
    Request("GET", f"{HOST}/wiki/rest/api/content?expand=body.storage&jwt=abc", "/wiki"),
    Request("GET", "/app/v1/", "/app/v1"),
    Request("delete", "/rest/api/2/issue/ABC-1/"),
    Request("GET", "/a&b/c?x=1"),
    Request("GET", "/x?q=a+b%2Bc&star=*&tilde=~&enc=%7E"),
    Request("GET", "/x?flag&empty=&r=2&r=1&r="),
    Request("GET", "/x?%E6%97%A5%E6%9C%AC=%F0%9F%98%80"),
]


def _vector(request: Request, canonical: str, source: str, note: str = "") -> dict[str, Any]:
    return {
        "method": request.method,
        "url": request.url,
        "context_path": request.context_path,
        "canonical": canonical,
        "qsh": sha256_hex(canonical),
        "source": source,
        "note": note,
    }


def write_vectors() -> None:
    simple = [result["canonical"] for result in run_node(_SIMPLE)]
    assert all(canonical == java_order(canonical) for canonical in simple)
    corpus = generate_corpus()[0]
    agreeing = [
        (request, result["canonical"])
        for request, result in zip(corpus, run_node(corpus), strict=True)
        if result["canonical"] == java_order(result["canonical"])
    ]
    from_node = list(zip(_SIMPLE, simple, strict=True)) + agreeing[::33][:30]
    vectors = [_vector(request, canonical, NODE_LIBRARY) for request, canonical in from_node]
    vectors += [_vector(r, canonical, "java-rule", note) for r, canonical, note in JAVA_RULE_VECTORS]
    VECTORS.write_text(json.dumps(vectors, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {len(vectors)} vectors to {VECTORS}")


if __name__ == "__main__":
    if sys.argv[1:] != ["--write-vectors"]:
        sys.exit(__doc__)
    write_vectors()

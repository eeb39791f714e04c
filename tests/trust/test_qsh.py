"""Unit tests of the query string hash (S11): PROTOCOLS.md, "Query string hash (QSH)"."""

from __future__ import annotations

import hashlib
import random
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pledge.trust.qsh import CONTEXT_QSH, canonical_request, query_string_hash

SPEC_URL = "/path/to/service?zee_last=param&repeated=parameter 1&first=param&repeated=parameter 2"
SPEC_CANONICAL = "GET&/path/to/service&first=param&repeated=parameter%201,parameter%202&zee_last=param"


def query_of(url: str) -> str:
    return canonical_request("GET", url).split("&", 2)[2]


def path_of(url: str, context_path: str = "") -> str:
    return canonical_request("GET", url, context_path=context_path).split("&", 2)[1]


def test_protocols_test_vector() -> None:
    assert canonical_request("GET", SPEC_URL) == SPEC_CANONICAL
    assert canonical_request("GET", "http://localhost:2990" + SPEC_URL) == SPEC_CANONICAL


def test_hash_is_hex_sha256_of_the_canonical_request() -> None:
    assert query_string_hash("GET", SPEC_URL) == hashlib.sha256(SPEC_CANONICAL.encode()).hexdigest()
    # The same value npm atlassian-jwt@2.0.3 gives.
    assert query_string_hash("GET", SPEC_URL) == "e52bb281606c3bd9ca16cfe96fe2df78f5d9ffa126f06befd750dfa10fa1a897"


def test_context_qsh_constant() -> None:
    assert CONTEXT_QSH == "context-qsh"


@pytest.mark.parametrize("method", ["get", "Get", "GET"])
def test_method_is_upper_cased(method: str) -> None:
    assert canonical_request(method, "/x").startswith("GET&")


@pytest.mark.parametrize("url", ["/path", "/path?", "/path?jwt=abc", "/path?&&", "https://h.example:8443/path#f"])
def test_no_parameters_ends_in_ampersand(url: str) -> None:
    assert canonical_request("POST", url) == "POST&/path&"


def test_only_the_path_of_a_full_url() -> None:
    url = "https://user@example.atlassian.net:443/wiki/rest/api/content?expand=body#frag?x=1"
    assert canonical_request("GET", url) == "GET&/wiki/rest/api/content&expand=body"
    assert path_of("https://example.atlassian.net") == "/"
    assert path_of("https://example.atlassian.net?x=1") == "/"
    assert path_of("?x=1") == "/"


@pytest.mark.parametrize(
    ("url", "context_path", "expected"),
    [
        ("/wiki/rest/api/content", "/wiki", "/rest/api/content"),
        ("https://example.atlassian.net/wiki/rest/api/content?a=b", "/wiki", "/rest/api/content"),
        ("/wiki", "/wiki", "/"),
        ("/wiki/", "/wiki", "/"),
        ("/app/v1/installed", "/app/v1", "/installed"),
        ("/rest/api/content", "/wiki", "/rest/api/content"),
        ("/rest/api/content", "/", "/rest/api/content"),
        # A plain string prefix, as Java's StringUtils.removeStart and npm atlassian-jwt remove it.
        ("/wikifoo", "/wiki", "/foo"),
    ],
)
def test_context_path_is_stripped(url: str, context_path: str, expected: str) -> None:
    assert path_of(url, context_path) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [("/a/", "/a"), ("/a/b/", "/a/b"), ("/", "/"), ("", "/"), ("/a//", "/a/"), ("//", "/")],
)
def test_one_trailing_slash_is_removed(url: str, expected: str) -> None:
    assert path_of(url) == expected


def test_ampersand_in_path_is_encoded() -> None:
    assert canonical_request("GET", "/rest/api/2/project&a=b?x=y") == "GET&/rest/api/2/project%26a=b&x=y"
    assert canonical_request("GET", "/rest/api/2/project?a=b&x=y") == "GET&/rest/api/2/project&a=b&x=y"
    assert path_of("/a%26b") == "/a%26b"


@pytest.mark.parametrize("path", ["/a%20b", "/a%2Fb/%2f", "/%C3%A9t%c3%a9", "/a'b(c)!*", "/a+b", "/~u/x;y=1", "/é"])
def test_path_is_kept_as_on_the_wire(path: str) -> None:
    assert path_of(path) == path
    assert path_of("https://example.atlassian.net" + path) == path


def test_jwt_parameter_is_dropped() -> None:
    assert query_of("/x?jwt=abc.def.ghi&a=1") == "a=1"
    assert query_of("/x?a=1&jwt=1&jwt=2&jwt") == "a=1"
    assert query_of("/x?%6Awt=abc&a=1") == "a=1"  # the decoded name is "jwt"
    assert query_of("/x?JWT=abc&jwt2=x&xjwt=y") == "JWT=abc&jwt2=x&xjwt=y"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("q=a+b", "q=a%20b"),  # "+" means a space in a query
        ("q=a%20b", "q=a%20b"),
        ("q=a%2Bb", "q=a%2Bb"),
        ("q=*", "q=%2A"),
        ("q=%2a", "q=%2A"),
        ("q=~", "q=~"),
        ("q=%7E", "q=~"),
        ("q=%7e", "q=~"),
        ("q=-._AZaz09", "q=-._AZaz09"),
        ("q=a=b", "q=a%3Db"),
        ("q=a%26b", "q=a%26b"),
        ("q=a,b", "q=a%2Cb"),  # an encoded "," never looks like the value separator
        ("q=/?:@!$'()", "q=%2F%3F%3A%40%21%24%27%28%29"),
        ("q=%25", "q=%25"),
        ("q=a%23b", "q=a%23b"),
        ("a+b=1", "a%20b=1"),
        ("a;b=1", "a%3Bb=1"),
        ("a=1;b=2", "a=1%3Bb%3D2"),  # ";" separates nothing
    ],
)
def test_names_and_values_are_encoded_like_java(query: str, expected: str) -> None:
    assert query_of("/x?" + query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("name=%E6%97%A5%E6%9C%AC", "name=%E6%97%A5%E6%9C%AC"),
        ("name=日本", "name=%E6%97%A5%E6%9C%AC"),  # raw text is text: wire bytes are to be decoded as UTF-8
        ("%C3%A9=%C3%BC", "%C3%A9=%C3%BC"),
        ("e=%F0%9F%98%80", "e=%F0%9F%98%80"),
        ("e=%c3%a9", "e=%C3%A9"),
        ("nbsp=%C2%A0", "nbsp=%C2%A0"),
        ("bad=%C3", "bad=%EF%BF%BD"),  # invalid UTF-8 decodes to U+FFFD, as in servlet containers and Node
        ("bad=%zz", "bad=%25zz"),  # a malformed escape stays literal, so it is still hashed
        ("bad=%", "bad=%25"),
    ],
)
def test_unicode(query: str, expected: str) -> None:
    assert query_of("/x?" + query) == expected


def test_lone_surrogate_is_encoded_as_java_does() -> None:
    assert query_of("/x?a=\ud800") == "a=%3F"


def test_parameters_without_value() -> None:
    assert query_of("/x?flag") == "flag="
    assert query_of("/x?flag=") == "flag="
    assert query_of("/x?b=&a&c=1") == "a=&b=&c=1"
    assert query_of("/x?a=1&&b=2&") == "a=1&b=2"
    assert query_of("/x?=v") == "=v"  # kept, so that it is hashed (Tomcat would drop it)


def test_repeated_values_are_sorted_decoded_and_joined_by_comma() -> None:
    assert query_of("/x?r=2&r=1&r=") == "r=,1,2"
    assert query_of("/x?r=b&a=0&r=a&r=b") == "a=0&r=a,b,b"
    # Sorted as decoded strings: "-" < "/", though "%2F" < "-".
    assert query_of("/x?v=%2F&v=-") == "v=-,%2F"
    # Sorted by UTF-16 code unit, as Java and JavaScript compare: U+1F600 (D83D DE00) < U+FF21.
    assert query_of("/x?v=%EF%BC%A1&v=%F0%9F%98%80") == "v=%F0%9F%98%80,%EF%BC%A1"


def test_parameters_are_sorted_by_encoded_name_in_code_unit_order() -> None:
    assert query_of("/x?a=1&B=2&A=3&b=4") == "A=3&B=2&a=1&b=4"
    assert query_of("/x?b=1&a_=2&a=3") == "a=3&a_=2&b=1"
    # Where the Java rule and npm's decoded-name sort disagree, Java wins.
    assert query_of("/x?z=1&%C3%A9=2") == "%C3%A9=2&z=1"
    assert query_of("/x?a-=1&a%2F=2") == "a%2F=2&a-=1"
    assert query_of("/x?a1=x&a%3D=y") == "a%3D=y&a1=x"


def test_spec_vector_shuffled() -> None:
    pairs = ["zee_last=param", "repeated=parameter 1", "first=param", "repeated=parameter 2", "jwt=x"]
    rng = random.Random(7)
    for _ in range(20):
        rng.shuffle(pairs)
        assert canonical_request("get", "/path/to/service?" + "&".join(pairs)) == SPEC_CANONICAL


_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=8)


@settings(max_examples=100, deadline=None, derandomize=True)
@given(
    params=st.lists(st.tuples(_text.filter(bool), _text), max_size=6),
    seed=st.integers(0, 2**32),
)
def test_independent_of_parameter_order_and_client_encoding(params: list[tuple[str, str]], seed: int) -> None:
    rng = random.Random(seed)
    encoders = [lambda s: quote(s, safe=""), lambda s: quote_plus(s, safe=""), lambda s: quote_plus(s, safe="*~")]

    def url() -> str:
        shuffled = params[:]
        rng.shuffle(shuffled)
        return "/x?" + "&".join(f"{rng.choice(encoders)(n)}={rng.choice(encoders)(v)}" for n, v in shuffled)

    first = canonical_request("GET", url())
    assert canonical_request("GET", url()) == first
    query = first.split("&", 2)[2]
    allowed = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~%=,&")
    assert set(query) <= allowed
    names = [piece.split("=", 1)[0] for piece in query.split("&")] if query else []
    assert names == sorted(names)
    assert len(names) == len({n for n, _ in params if n != "jwt"})

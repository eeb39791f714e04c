"""S2: the personal-data detector finds what the corpus says is personal and lets the rest through."""

from __future__ import annotations

import dataclasses
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pledge.store import pii
from pledge.store.pii import PiiFinding, PiiKind, first_finding, scan, scan_value

try:  # tests/ may or may not become a package; the corpus sits next to this file either way
    from .pii_corpus import FALSE_POSITIVES, TRUE_POSITIVES
except ImportError:
    from pii_corpus import FALSE_POSITIVES, TRUE_POSITIVES  # type: ignore[no-redef]


def test_corpus_is_big_enough_and_labels_are_unique() -> None:
    assert len(TRUE_POSITIVES) >= 300
    assert len(FALSE_POSITIVES) >= 100
    labels = [case[0] for case in TRUE_POSITIVES] + [case[0] for case in FALSE_POSITIVES]
    assert len(labels) == len(set(labels))
    assert {kind for _, _, kind in TRUE_POSITIVES} == set(PiiKind)


@pytest.mark.parametrize(("text", "kind"), [(t, k) for _, t, k in TRUE_POSITIVES], ids=[c[0] for c in TRUE_POSITIVES])
def test_true_positive_is_found_with_its_kind(text: str, kind: PiiKind) -> None:
    findings = scan(text)
    assert findings, "personal data not found"
    assert {f.kind for f in findings} == {kind}
    for f in findings:
        assert 0 <= f.start < f.end <= len(text)
        assert not text[f.start].isspace() and not text[f.end - 1].isspace()
    assert first_finding(text) == findings[0]


@pytest.mark.parametrize("text", [t for _, t, _ in TRUE_POSITIVES], ids=[c[0] for c in TRUE_POSITIVES])
def test_spans_cover_the_personal_data_as_written(text: str) -> None:
    # Spans are positions in the value as given, whatever it was folded from: cutting them out leaves nothing.
    redacted = text
    for f in reversed(scan(text)):
        redacted = redacted[: f.start] + "[redacted]" + redacted[f.end :]
    assert scan(redacted) == []


def test_a_span_covers_the_characters_a_finding_was_decoded_from() -> None:
    text = "mail alice%40example%2Ecom or b\u043eb&#64;example.org now"
    assert [text[f.start : f.end] for f in scan(text)] == ["alice%40example%2Ecom", "b\u043eb&#64;example.org"]
    text = "x \u200b\uff14\uff11\uff11\uff11 1111\u00a01111 1111\u200b y"
    assert [text[f.start : f.end] for f in scan(text)] == ["\uff14\uff11\uff11\uff11 1111\u00a01111 1111"]


def test_decoding_is_bounded_to_two_layers() -> None:
    assert scan("alice%2540example.com")
    assert scan("alice%252540example.com") == []  # a third layer is not peeled


@pytest.mark.parametrize("text", [t for _, t in FALSE_POSITIVES], ids=[c[0] for c in FALSE_POSITIVES])
def test_false_positive_passes(text: str) -> None:
    assert scan(text) == []
    assert first_finding(text) is None


def test_findings_are_ordered_and_do_not_overlap() -> None:
    text = "mail bob@example.com, call +1 202-555-0143, card 4111 1111 1111 1111, IBAN GB82 WEST 1234 5698 7654 32"
    findings = scan(text)
    assert [f.kind for f in findings] == [PiiKind.EMAIL, PiiKind.PHONE, PiiKind.PAYMENT_CARD, PiiKind.IBAN]
    assert [text[f.start : f.end] for f in findings] == [
        "bob@example.com",
        "+1 202-555-0143",
        "4111 1111 1111 1111",
        "GB82 WEST 1234 5698 7654 32",
    ]


def test_an_address_wins_over_the_number_inside_it() -> None:
    text = "2025550143.4111111111111111@example.com"
    assert scan(text) == [PiiFinding(PiiKind.EMAIL, 0, len(text))]


def test_card_expiry_is_trimmed_from_the_span() -> None:
    text = "4111 1111 1111 1111 12 28"
    finding = first_finding(text)
    assert finding is not None
    assert text[finding.start : finding.end] == "4111 1111 1111 1111"


# --- scan_value -------------------------------------------------------------------------------


def test_scan_value_finds_nothing_in_clean_nested_data() -> None:
    value = {
        "issue": "ABC-123",
        "id": 10042,
        "ratio": 0.75,
        "done": True,
        "nothing": None,
        "labels": ["v1.2.3", "2026-11-27", ("a436116f-02ce-4520-8fbb-7301462a1674",)],
        "nested": {"deeper": [{"count": 123456789}, {"colour": "#1a2b3c"}]},
    }
    assert scan_value(value) is None


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ({"a": {"b": [1, 2, {"c": "write to alice@example.com"}]}}, PiiKind.EMAIL),
        ({"bob@example.org": "key holds the address"}, PiiKind.EMAIL),
        ({"cards": [4111111111111111]}, PiiKind.PAYMENT_CARD),
        ([[["deep", (5555555555554444.0,)]]], PiiKind.PAYMENT_CARD),
        ({5105105105105100: "an int key"}, PiiKind.PAYMENT_CARD),
        ({"watchers": ["557058:f58131cb-b67d-43c7-b30d-6b58d40bd077"]}, PiiKind.ATLASSIAN_ACCOUNT_ID),
        ({"payout": {"iban": "DE89 3704 0044 0532 0130 00"}}, PiiKind.IBAN),
        (["+44 20 7946 0958"], PiiKind.PHONE),
        ("a plain string: 202-555-0143", PiiKind.PHONE),
        (378282246310005, PiiKind.PAYMENT_CARD),
    ],
)
def test_scan_value_walks_nested_json_like_values(value: object, kind: PiiKind) -> None:
    finding = scan_value(value)
    assert finding is not None
    assert finding.kind == kind


def test_scan_value_reports_the_first_finding_in_document_order() -> None:
    value = {"first": ["x", {"k": "alice@example.com"}], "second": 4111111111111111}
    assert scan_value(value) == PiiFinding(PiiKind.EMAIL, 0, len("alice@example.com"))


def test_scan_value_ignores_booleans_and_non_json_types() -> None:
    assert scan_value([True, False, None, b"4111111111111111", object()]) is None


def test_scan_value_survives_huge_and_odd_numbers() -> None:
    assert scan_value([10**5000, -(10**30), 1e300, float("nan"), float("inf"), 0.5, -1]) is None


def test_scan_value_handles_deep_nesting_without_recursion() -> None:
    value: object = "carol@example.net"
    for _ in range(2000):  # deeper than the default recursion limit
        value = [value]
    finding = scan_value({"deep": value})
    assert finding is not None and finding.kind is PiiKind.EMAIL


# --- properties -------------------------------------------------------------------------------

# Without a digit, an at sign or what folds or decodes to one (full-width and small forms, "%", "&"), nothing is found.
_NO_DIGIT_OR_AT = st.characters(exclude_categories=("Nd", "No"), exclude_characters="@＠﹫%％﹪&＆﹠")
# Text shaped like ids and numbers but without digits: hex letters, separators, "qm:", "+".
_TRICKY = st.text(alphabet="abcdefqmABCDEFWEST:-+.()_%/# xX", max_size=80)


@settings(max_examples=150, deadline=None)
@given(st.one_of(st.text(_NO_DIGIT_OR_AT, max_size=200), _TRICKY))
def test_text_without_digits_or_at_sign_never_has_a_finding(text: str) -> None:
    assert scan(text) == []
    assert scan_value({text: [text]}) is None


# Near misses of every rule: the corpus's personal data with a few characters cut out or spliced in, among them
# characters that fold or decode into the ASCII the rules read.
_SHAPE_ALPHABET = "0123456789 +-./():%@qmAaBbEeFfGLNTWXZ_&#;\u200b\u00a0\u2013\u0430\u0435\u0661\uff14\uff20\u0301"


@st.composite
def _near_misses(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from([t for _, t, _ in TRUE_POSITIVES] + [t for _, t in FALSE_POSITIVES]))
    for _ in range(draw(st.integers(1, 3))):
        start = draw(st.integers(0, len(text)))
        end = draw(st.integers(start, min(len(text), start + 3)))
        text = text[:start] + draw(st.text(_SHAPE_ALPHABET, max_size=2)) + text[end:]
    return text


def _with_check_digit(payload: str) -> str:
    """``payload`` and the digit that makes it pass the Luhn check."""
    return next(payload + d for d in "0123456789" if _luhn_valid(payload + d))


def _luhn_valid(digits: str) -> bool:
    doubled = [int(c) * 2 - 9 * (int(c) > 4) for c in digits[-2::-2]]
    return (sum(map(int, digits[-1::-2])) + sum(doubled)) % 10 == 0


def _iban(country: str, bban: str) -> str:
    check = 98 - int("".join(str(int(c, 36)) for c in bban + country + "00")) % 97
    return f"{country}{check:02d}{bban}"


# Personal data of every kind in its least redundant shapes (shortest phones, ids and IBANs with as few digits as
# they can have), so that each branch of the scan's pre-check is the only one that lets them through.
_VALID_SHAPES = st.one_of(
    st.from_regex(r"\A\+[1-9][0-9]{7,9}\Z"),
    st.from_regex(r"\A[5-7][a-f]{23}\Z"),
    st.from_regex(r"\A[0-9]{5,6}(:|%3A)[a-z]{8}-[a-z]{4}-[a-z]{4}-[a-z]{4}-[a-z]{12}\Z"),
    st.from_regex(r"\Aqm(:|%3A)[a-f]{8}-[a-f]{4}-[a-f]{4}-[a-f]{4}-[a-f]{11}[0-9]\Z"),
    st.from_regex(r"\A(4[0-9]{14}|5[1-5][0-9]{13}|3[47][0-9]{12})\Z").map(_with_check_digit),
    st.sampled_from([("DE", 18), ("GB", 18), ("NO", 11), ("FR", 23)]).flatmap(
        lambda country: st.from_regex(rf"\A[A-Z]{{{country[1]}}}\Z").map(lambda bban: _iban(country[0], bban))
    ),
)


@settings(max_examples=600, deadline=None)
@given(
    st.one_of(
        _near_misses(),
        st.tuples(st.text(_SHAPE_ALPHABET, max_size=4), _VALID_SHAPES, st.text(_SHAPE_ALPHABET, max_size=4)).map(
            "".join
        ),
        st.text(_SHAPE_ALPHABET, max_size=60),
        st.text(max_size=60),
    )
)
def test_the_cheap_pre_check_never_skips_a_finding(text: str) -> None:
    # scan skips the rules when a cheap search proves that none can fire: it must never skip a finding.
    findings = pii._all_findings(pii._fold(text))
    assert scan(text) == findings
    assert first_finding(text) == (findings[0] if findings else None)


@settings(max_examples=100, deadline=None)
@given(
    st.one_of(
        st.text(alphabet="0123456789 +-.()/:@abcexmpl%&#;\u200b\u00a0\u0430\uff10\u0301ﬁ½", max_size=120), st.text()
    )
)
def test_findings_are_well_formed_on_arbitrary_input(text: str) -> None:
    findings = scan(text)
    for f in findings:
        assert 0 <= f.start < f.end <= len(text)
    for earlier, later in itertools.pairwise(findings):
        assert earlier.end <= later.start


# --- what a finding may reveal ----------------------------------------------------------------


@pytest.mark.parametrize(("text", "kind"), [(t, k) for _, t, k in TRUE_POSITIVES], ids=[c[0] for c in TRUE_POSITIVES])
def test_finding_repr_holds_no_part_of_the_value(text: str, kind: PiiKind) -> None:
    finding = first_finding(text)
    assert finding is not None
    assert [f.name for f in dataclasses.fields(finding)] == ["kind", "start", "end"]
    assert repr(finding) == f"PiiFinding(kind={finding.kind!r}, start={finding.start}, end={finding.end})"
    matched = text[finding.start : finding.end]
    assert matched not in repr(finding) and matched not in str(finding)
    assert not any(matched[i : i + 4] in repr(finding) for i in range(len(matched) - 3) if matched[i : i + 4].isdigit())

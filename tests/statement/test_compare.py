"""The statement comparison: word-level changes, format changes, the terminal form, and exact reconstruction."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from pledge.statement.compare import (
    KEY,
    ChangeKind,
    Comparison,
    Segment,
    compare,
    render_terminal,
)

SAME, ADDED, REMOVED, FORMAT = ChangeKind.SAME, ChangeKind.ADDED, ChangeKind.REMOVED, ChangeKind.FORMAT


def changes(comparison: Comparison) -> list[tuple[ChangeKind, str]]:
    return [(s.kind, s.text) for s in comparison.segments if s.kind is not SAME]


def old_side(comparison: Comparison) -> str:
    return "".join(s.old_text if s.kind is FORMAT else s.text for s in comparison.segments if s.kind is not ADDED)


def new_side(comparison: Comparison) -> str:
    return "".join(s.text for s in comparison.segments if s.kind in (SAME, ADDED, FORMAT))


# --- what changed -----------------------------------------------------------------------------------


def test_a_region_change_is_one_word_out_and_one_word_in() -> None:
    comparison = compare("We host in us-east-1.", "We host in us-west-2.")

    assert changes(comparison) == [(REMOVED, "us-east-1"), (ADDED, "us-west-2")]
    assert comparison.segments == (
        Segment(SAME, "We host in "),
        Segment(REMOVED, "us-east-1"),
        Segment(ADDED, "us-west-2"),
        Segment(SAME, "."),
    )
    assert (comparison.removed_words, comparison.added_words, comparison.format_changes) == (1, 1, 0)
    assert comparison.has_changes


def test_a_changed_word_is_never_split() -> None:
    comparison = compare("We host in us.", "We host in use.")

    assert changes(comparison) == [(REMOVED, "us"), (ADDED, "use")]


def test_bold_added_around_the_same_words_is_a_format_change_only() -> None:
    comparison = compare("We keep customer data encrypted at rest.", "We keep customer **data encrypted** at rest.")

    assert changes(comparison) == [(FORMAT, "**data encrypted**")]
    assert [s.old_text for s in comparison.segments if s.kind is FORMAT] == ["data encrypted"]
    assert (comparison.added_words, comparison.removed_words, comparison.format_changes) == (0, 0, 1)


def test_bold_removed_shows_the_words_whose_format_changed() -> None:
    comparison = compare("We **never** sell data.", "We never sell data.")

    assert changes(comparison) == [(FORMAT, "never")]


def test_a_new_heading_marker_is_a_format_change_of_its_line() -> None:
    comparison = compare("Data residency\n\nWe host in the EU.", "## Data residency\n\nWe host in the EU.")

    assert changes(comparison) == [(FORMAT, "## Data residency")]


def test_whitespace_only_changes_are_format_changes() -> None:
    comparison = compare("We host  in the EU.\nAlways.", "We host in the EU. Always.")

    assert {kind for kind, _ in changes(comparison)} == {FORMAT}
    assert comparison.added_words == comparison.removed_words == 0


def test_changed_words_inside_new_markup_are_not_a_format_change() -> None:
    comparison = compare("We host in us-east-1.", "We host in **us-west-2**.")

    assert changes(comparison) == [(REMOVED, "us-east-1"), (ADDED, "**us-west-2**")]


def test_a_paragraph_added() -> None:
    old = "# Hosting\n\nWe host in the EU.\n\nBackups stay in the EU."
    new = "# Hosting\n\nWe host in the EU.\n\nLogs are kept for 30 days.\n\nBackups stay in the EU."

    comparison = compare(old, new)

    assert changes(comparison) == [(ADDED, "Logs are kept for 30 days.\n\n")]
    assert comparison.added_words == 6


def test_a_paragraph_removed() -> None:
    old = "We host in the EU.\n\nWe use a CDN in the US.\n\nBackups stay in the EU."
    new = "We host in the EU.\n\nBackups stay in the EU."

    comparison = compare(old, new)

    assert changes(comparison) == [(REMOVED, "We use a CDN in the US.\n\n")]
    assert comparison.removed_words == 7


def test_identical_texts_have_no_changes() -> None:
    text = "# Data\n\nWe keep **nothing** we do not need.\n\n- logs: 30 days\n- backups: 90 days\n"

    comparison = compare(text, text)

    assert not comparison.has_changes
    assert comparison.segments == (Segment(SAME, text),)
    assert (comparison.added_words, comparison.removed_words, comparison.format_changes) == (0, 0, 0)


def test_empty_texts() -> None:
    assert compare("", "").segments == ()
    assert changes(compare("", "New.")) == [(ADDED, "New.")]


# --- rendering --------------------------------------------------------------------------------------


def test_terminal_styles() -> None:
    comparison = compare("We host in us-east-1, _always_.", "We host in eu-west-1, **always**.")

    text = render_terminal(comparison)

    assert text.plain == "We host in us-east-1eu-west-1, **always**."
    styles = {text.plain[span.start : span.end]: str(span.style) for span in text.spans}
    assert styles == {
        "us-east-1": "red strike",
        "eu-west-1": "green underline",
        "**always**": "yellow",
    }


def test_key_labels() -> None:
    assert dict(KEY) == {
        ADDED: "This line was added.",
        REMOVED: "This line was removed.",
        FORMAT: "Formatting was changed.",
    }


# --- reconstruction ---------------------------------------------------------------------------------

WORDS = ["we", "host", "data", "in", "the", "EU", "us-east-1", "logs", "30", "days", "never", "sell", "it"]
PUNCTUATION = [".", ",", ":"]
MARKUP = ["**", "_", "`", "# ", "- ", "1. ", "> ", "[", "](https://example.com/a)", "|", "---"]
SEPARATORS = [" ", " ", " ", "  ", "\n", "\n\n", "\n\n\n", ""]

word_lists = st.lists(st.sampled_from(WORDS + PUNCTUATION), max_size=60)


@st.composite
def markdown(draw: st.DrawFn) -> str:
    parts = draw(st.lists(st.sampled_from(WORDS + PUNCTUATION + MARKUP), max_size=60))
    return "".join(part + draw(st.sampled_from(SEPARATORS)) for part in parts)


@st.composite
def edited(draw: st.DrawFn, base: st.SearchStrategy[str]) -> tuple[str, str]:
    """An old text and a new one: either unrelated, or the old with a few stretches replaced."""
    old = draw(base)
    if draw(st.booleans()):
        return old, draw(base)
    new = old
    for _ in range(draw(st.integers(0, 4))):
        start = draw(st.integers(0, len(new)))
        end = draw(st.integers(start, min(len(new), start + 30)))
        new = new[:start] + draw(base)[:20] + new[end:]
    return old, new


@st.composite
def edited_prose(draw: st.DrawFn) -> tuple[str, str]:
    """Words separated by single spaces, and the same with a few runs of words replaced."""
    old = draw(word_lists)
    new = list(old)
    for _ in range(draw(st.integers(0, 4))):
        start = draw(st.integers(0, len(new)))
        end = draw(st.integers(start, min(len(new), start + 6)))
        new[start:end] = draw(word_lists)[:5]
    return " ".join(old), " ".join(new)


@settings(deadline=None, max_examples=200)
@given(edited_prose())
def test_segments_rebuild_both_versions_of_prose(versions: tuple[str, str]) -> None:
    """Plain prose has no format changes, so the removed and added segments alone tell the two apart."""
    old, new = versions

    comparison = compare(old, new)

    assert "".join(s.text for s in comparison.segments if s.kind in (SAME, REMOVED)) == old
    assert "".join(s.text for s in comparison.segments if s.kind in (SAME, ADDED, FORMAT)) == new


@settings(deadline=None, max_examples=200)
@given(edited(markdown()))
def test_segments_rebuild_both_versions_of_markdown(versions: tuple[str, str]) -> None:
    old, new = versions

    comparison = compare(old, new)

    assert old_side(comparison) == comparison.old_markdown == old
    assert new_side(comparison) == comparison.new_markdown == new
    assert comparison.has_changes == (old != new)
    assert all(s.text or s.old_text for s in comparison.segments)
    kinds = [s.kind for s in comparison.segments]
    assert all(a is not b for a, b in itertools.pairwise(kinds)), "adjacent segments are merged"

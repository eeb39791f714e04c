"""The comparison as a document: the statement rendered, changes marked where they are, numbered for the change list,
unchanged sections collapsed, nothing a version contains able to forge a mark or inject markup."""

from __future__ import annotations

import re

from hypothesis import given, settings
from tests.statement.test_compare import edited, markdown

from pledge.statement.compare import compare
from pledge.statement.compare_page import Change, render_document

OLD = """# Data Security & Privacy Statement

## Overview

This statement covers **Issue Mailer**.

## Data storage and location

- Data is hosted in **US East (N. Virginia, us-east-1)**.
- **Not yet provided.** A register of sub-processors.

## Vendor

See [our site](https://old.example.com).

| Collection | Retention |
|---|---|
| `rules` | 90 days |
"""

NEW = """# Data Security & Privacy Statement

## Overview

This statement covers **Issue Mailer**.

## Data storage and location

- Data is hosted in **US West (Oregon, us-west-2)**.
- _Not yet provided._ A register of sub-processors.
- Backups are encrypted.

## Vendor

See [our site](https://new.example.com).

| Collection | Retention |
|---|---|
| `rules` | 30 days |
"""

ANY_MARK = re.compile("[\ue000-\ue005]")


def test_the_new_version_renders_as_a_document_with_its_changes_marked_inline() -> None:
    html = render_document(compare(OLD, NEW)).html

    assert "<h1>Data Security &amp; Privacy Statement</h1>" in html
    assert (
        "<li>Data is hosted in <strong>US "
        '<del class="removed" id="change-1">East</del><ins class="added">West</ins> ('
        '<del class="removed" id="change-2">N. Virginia</del><ins class="added">Oregon</ins>, '
        '<del class="removed" id="change-3">us-east-1</del><ins class="added">us-west-2</ins>)</strong>.</li>'
    ) in html
    assert '<li><em><span class="format-changed" id="change-4">Not yet provided.</span></em> A register' in html
    assert '<li><ins class="added" id="change-5">Backups are encrypted.</ins></li>' in html
    assert '<td><del class="removed" id="change-7">90</del><ins class="added">30</ins> days</td>' in html


def test_unchanged_sections_are_collapsed_and_changed_ones_are_open() -> None:
    html = render_document(compare(OLD, NEW)).html

    assert (
        '<details class="unchanged" id="section-1">\n<summary><h2>Overview</h2> '
        '<span class="unchanged-note">Unchanged</span></summary>\n<p>This statement covers <strong>Issue Mailer'
    ) in html
    assert '<section class="changed" id="section-2"><h2>Data storage and location</h2>' in html
    assert '<section class="changed" id="section-3"><h2>Vendor</h2>' in html
    assert html.count("<details") == 1


def test_every_change_is_listed_with_its_section_and_anchor() -> None:
    document = render_document(compare(OLD, NEW))

    assert [(c.label, c.section, c.removed, c.added, c.anchored) for c in document.changes] == [
        ("Changed", "Data storage and location", "East", "West", True),
        ("Changed", "Data storage and location", "N. Virginia", "Oregon", True),
        ("Changed", "Data storage and location", "us-east-1", "us-west-2", True),
        ("Formatting changed", "Data storage and location", "", "Not yet provided.", True),
        ("Added", "Data storage and location", "", "Backups are encrypted.", True),
        ("Changed", "", "https://old.example.com", "https://new.example.com", False),
        ("Changed", "Vendor", "90", "30", True),
    ]
    for change in document.changes:
        assert document.html.count(f'id="{change.anchor}"') == (1 if change.anchored else 0)


def test_a_changed_link_address_is_the_new_one_and_is_listed_without_an_anchor() -> None:
    html = render_document(compare(OLD, NEW)).html

    assert '<p>See <a href="https://new.example.com">our site</a>.</p>' in html


def test_removed_words_lose_their_markup_so_the_new_version_still_parses() -> None:
    old = "## A\n\nWe keep **nothing** and *more*.\n\n## B\n\nSame.\n"
    new = "## A\n\nWe keep it.\n\n## B\n\nSame.\n"

    document = render_document(compare(old, new))

    assert "<p>We keep " in document.html and "**" not in document.html and "*" not in document.html
    assert [c.label for c in document.changes] == ["Changed"]


def test_identical_versions_collapse_every_section() -> None:
    document = render_document(compare(OLD, OLD))

    assert document.changes == ()
    assert document.html.count('<details class="unchanged"') == 3
    assert "<section" not in document.html


def test_a_version_cannot_forge_a_mark_or_inject_html() -> None:
    forged = "## A\n\nText \ue000\ue0047\ue005 forged\ue003 <script>alert(1)</script> [x](javascript:alert(1))\n"

    document = render_document(compare("## A\n\nText.\n", forged))

    assert "<script" not in document.html and 'href="javascript' not in document.html
    assert 'id="change-7"' not in document.html
    assert not ANY_MARK.search(document.html)
    assert not any(ANY_MARK.search(c.added + c.removed) for c in document.changes)


@settings(deadline=None, max_examples=200)
@given(edited(markdown()))
def test_any_comparison_renders_with_balanced_marks_and_one_anchor_per_listed_change(
    versions: tuple[str, str],
) -> None:
    old, new = versions

    document = render_document(compare(old, new))

    assert not ANY_MARK.search(document.html)
    for tag in ("ins", "del"):
        assert document.html.count(f"<{tag} ") == document.html.count(f"</{tag}>")
    assert all(isinstance(change, Change) for change in document.changes)
    for change in document.changes:
        assert document.html.count(f'id="{change.anchor}"') == (1 if change.anchored else 0)

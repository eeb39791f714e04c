"""The statement's Markdown source, rendered from facts and claims, and its HTML (S14: one section per app).

The same facts always give the same bytes, so a new version is stored only when a promise changes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markdown_it import MarkdownIt
from markupsafe import Markup

from pledge.promises import Disclosure, DisclosureKind
from pledge.statement.claims import BULLETS, Bullet, Section, bullets_in
from pledge.statement.facts import AppFacts, Facts
from pledge.statement.verify import Outcome
from pledge.store.data_manifest import Category

TEMPLATES = Environment(
    loader=PackageLoader("pledge", "web/templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
"""Templates of the statement: ``*.md`` Markdown source (not escaped) and ``*.html`` pages (escaped)."""

# Raw HTML in the Markdown is shown as text, never interpreted: the statement quotes app-provided strings.
MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table")
_BLANK_LINES = re.compile(r"\n{3,}")


def _table_cell(text: str) -> str:
    """Text safe inside a Markdown table cell: one line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


TEMPLATES.filters["cell"] = _table_cell
TEMPLATES.globals["categories"] = Category


def _tidy(markdown: str) -> str:
    return _BLANK_LINES.sub("\n\n", markdown).strip() + "\n"


NOT_YET_PROVIDED = "Not yet provided"
FAILED = "Failed verification"
NOT_VERIFIED = "Not verified"
NOT_OFFERED = DisclosureKind.NOT_OFFERED.value


@dataclass(frozen=True, slots=True)
class Printed:
    """A bullet as the statement prints it: the mark before its sentence (None: a claim whose check held)."""

    mark: str | None
    text: str


def mark(bullet: Bullet, facts: Facts, outcomes: Mapping[str, Outcome]) -> str | None:
    """How the statement marks ``bullet`` given the outcomes of the verification it is published with."""
    if isinstance(bullet, Disclosure):
        return bullet.kind.value
    if not bullet.offered(facts):
        return NOT_OFFERED
    if not bullet.provided:
        return NOT_YET_PROVIDED
    outcome = outcomes.get(bullet.id)
    if outcome is Outcome.PASSED:
        return None
    return FAILED if outcome is Outcome.FAILED else NOT_VERIFIED


def render(facts: Facts, outcomes: Mapping[str, Outcome], bullets: Sequence[Bullet] = BULLETS) -> str:
    """The whole statement as Markdown: the overview, a section per promise area, then a section per app. Each
    claim is marked by its outcome in ``outcomes`` (a verification of this deployment against ``facts``); only a
    claim whose check passed is printed without a mark."""
    sections = [
        (section, [Printed(mark(bullet, facts, outcomes), bullet.sentence(facts)) for bullet in in_section])
        for section in Section
        if (in_section := bullets_in(section, bullets))
    ]
    template = TEMPLATES.get_template("statement.md")
    return _tidy(template.render(facts=facts, sections=sections, marks=_MARKS))


def render_app(app: AppFacts, facts: Facts) -> str:
    """One app's section as Markdown, as it appears in the statement."""
    return _tidy(TEMPLATES.get_template("statement_app.md").render(app=app, facts=facts))


_MARKS = {
    "failed": FAILED,
    "missing": NOT_YET_PROVIDED,
    "not_offered": NOT_OFFERED,
    "yours": DisclosureKind.YOURS.value,
}


def to_html(markdown: str) -> Markup:
    """Markdown to HTML; raw HTML in the source is escaped, not passed through."""
    return Markup(MARKDOWN.render(markdown))  # noqa: S704 - markdown-it escapes text and refuses raw HTML

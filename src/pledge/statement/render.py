"""The statement's Markdown source, rendered from facts and claims, and its HTML (S14: one section per app).

The same facts always give the same bytes, so a new version is stored only when a promise changes.
"""

from __future__ import annotations

import re

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markdown_it import MarkdownIt
from markupsafe import Markup

from pledge.statement.claims import CLAIMS, Section, StatementClaim, claims_in
from pledge.statement.facts import AppFacts, Facts
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
_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table")
_BLANK_LINES = re.compile(r"\n{3,}")


def _table_cell(text: str) -> str:
    """Text safe inside a Markdown table cell: one line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


TEMPLATES.filters["cell"] = _table_cell
TEMPLATES.globals["categories"] = Category


def _tidy(markdown: str) -> str:
    return _BLANK_LINES.sub("\n\n", markdown).strip() + "\n"


def render(facts: Facts, claims: tuple[StatementClaim, ...] = CLAIMS) -> str:
    """The whole statement as Markdown: the overview, a section per promise area, then a section per app."""
    sections = [(section, claims_in(section, claims)) for section in Section]
    template = TEMPLATES.get_template("statement.md")
    return _tidy(template.render(facts=facts, sections=[(s, c) for s, c in sections if c]))


def render_app(app: AppFacts) -> str:
    """One app's section as Markdown, as it appears in the statement."""
    return _tidy(TEMPLATES.get_template("statement_app.md").render(app=app))


def to_html(markdown: str) -> Markup:
    """Markdown to HTML; raw HTML in the source is escaped, not passed through."""
    return Markup(_MARKDOWN.render(markdown))  # noqa: S704 - markdown-it escapes text and refuses raw HTML

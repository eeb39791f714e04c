"""The statement's text: generated from settings and manifests, honest about what is not provided yet."""

from __future__ import annotations

from tests.statement.example import mailer_app

from pledge.app import App
from pledge.config import load_settings
from pledge.statement.claims import CLAIMS, Section
from pledge.statement.facts import gather
from pledge.statement.render import render, render_app, to_html
from pledge.store.data_manifest import DataManifest


def _statement(**settings: object) -> str:
    return render(gather(load_settings(**settings), [mailer_app()]))


def test_the_statement_has_every_section_then_one_per_app() -> None:
    markdown = _statement()
    headings = [line for line in markdown.splitlines() if line.startswith("## ")]
    assert headings == ["## Overview", *(f"## {section.title}" for section in Section), "## App: Issue Mailer"]


def test_it_quotes_the_settings() -> None:
    markdown = _statement(region="eu-west-1", deletion_grace_days=45, backup_retention_days=60)
    assert "hosted in the **eu-west-1** region" in markdown
    assert "Unrecoverable deletion 45 days after uninstall" in markdown
    assert "backups are configured to be kept 60 days (never less than 30)" in markdown


def test_a_claim_without_a_check_is_stated_as_not_yet_provided() -> None:
    markdown = _statement()
    facts = gather(load_settings(), [mailer_app()])
    for claim in CLAIMS:
        sentence = claim.sentence(facts)
        if claim.provided:
            assert f"- {sentence}" in markdown
        else:
            assert f"- **Not yet provided.** {sentence}" in markdown
    assert "**Not yet provided.** Unrecoverable deletion 30 days after uninstall" in markdown


def test_the_app_section_lists_personal_data_secrets_and_retention() -> None:
    section = render_app(gather(load_settings(), [mailer_app()]).apps[0])
    assert "- Personal data: `rules.recipient`." in section
    assert "- Secrets: `smtp.password`" in section
    assert "| `sent_mail` | What was sent, for the delivery report | 90 days |" in section
    assert "| `rules` | Which issues to e-mail, and to whom | until the site's account is deleted |" in section
    assert "| `rules.recipient` | personal data | Where the rule sends mail \\| one address |" in section
    assert section in _statement()


def test_an_app_that_stores_nothing_says_so() -> None:
    app = App(key="hello", name="Hello", data=DataManifest())
    section = render_app(gather(load_settings(), [app]).apps[0])
    assert "- Personal data: none." in section
    assert "This app stores no data of its own." in section


def test_the_same_facts_give_the_same_bytes() -> None:
    assert _statement() == _statement()
    assert _statement() != _statement(region="us-west-2")


def test_html_escapes_markup_an_app_supplies() -> None:
    app = App(key="evil", name="<script>alert(1)</script>", description="<img src=x onerror=alert(1)>")
    html = to_html(render(gather(load_settings(), [app])))
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;" in html


def test_claim_ids_are_unique() -> None:
    ids = [claim.id for claim in CLAIMS]
    assert len(ids) == len(set(ids))

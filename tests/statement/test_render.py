"""The statement's text: generated from settings and manifests, honest about what is not provided yet."""

from __future__ import annotations

import dataclasses

import pytest
from tests.statement.example import mailer_app, verified

from pledge.app import App
from pledge.config import load_settings
from pledge.egress.sub_processors import SubProcessor
from pledge.errors import ConfigurationError
from pledge.statement.claims import CLAIMS, Section
from pledge.statement.facts import Facts, gather
from pledge.statement.render import FAILED, NOT_OFFERED, render, render_app, to_html
from pledge.store.data_manifest import DataManifest


def _facts(**settings: object) -> Facts:
    return gather(load_settings(**{"hosting_provider": "aws", **settings}), [mailer_app()])


def _statement(failed: tuple[str, ...] = (), **settings: object) -> str:
    facts = _facts(**settings)
    return render(facts, verified(facts, failed=failed).outcomes())


def test_the_statement_has_every_section_then_one_per_app() -> None:
    markdown = _statement()
    headings = [line for line in markdown.splitlines() if line.startswith("## ")]
    assert headings == ["## Overview", *(f"## {section.title}" for section in Section), "## App: Issue Mailer"]


def test_it_quotes_the_settings() -> None:
    markdown = _statement(region="eu-west-1", deletion_grace_days=45, backup_retention_days=60)
    assert (
        "hosted by **Amazon Web Services (AWS)** in the **Europe (Ireland)** region (`eu-west-1`): its database is "
        "a SQLite file on the server's own disk" in markdown
    )
    assert "- Unrecoverable deletion 45 days after uninstall" in markdown
    assert "Backups of all stored data at least once a day, each kept 60 days." in markdown
    unnamed = gather(load_settings(region="eu-west-1"), [mailer_app()])
    assert "the hosting provider is not declared" in render(unnamed, verified(unnamed).outcomes())


def test_each_claim_is_marked_by_its_outcome_and_only_a_held_claim_is_unmarked() -> None:
    facts = _facts()
    markdown = _statement(failed=("https-only",))
    for claim in CLAIMS:
        sentence = claim.sentence(facts)
        if not claim.offered(facts):
            assert f"- **{NOT_OFFERED}.** {sentence}" in markdown
        elif not claim.provided:
            assert f"- **Not yet provided.** {sentence}" in markdown
        elif claim.id == "https-only":
            assert f"- **{FAILED}.** {sentence}" in markdown
        else:
            assert f"- {sentence}" in markdown
    assert "- Unrecoverable deletion 30 days after uninstall" in markdown
    assert "- **Not offered.** Moving your site's app data between Atlassian Cloud and Data Center." in markdown
    assert "- **Your responsibility.** The security of your users' Atlassian logins" in markdown
    unverified = render(facts, {})
    assert "- **Not verified.** The server's public address answers over HTTPS only" in unverified


def test_the_app_section_lists_personal_data_secrets_and_retention() -> None:
    facts = _facts()
    section = render_app(facts.apps[0], facts)
    assert "- Personal data: `rules.recipient`." in section
    assert "The service runs on Amazon Web Services (AWS), which hosts its data" in section
    assert "- Secrets: `smtp.password`" in section
    assert "| `sent_mail` | What was sent, for the delivery report | 90 days |" in section
    assert "| `rules` | Which issues to e-mail, and to whom | until the site's account is deleted |" in section
    assert "| `rules.recipient` | personal data | Where the rule sends mail \\| one address |" in section
    assert section in _statement()


def test_an_app_that_stores_nothing_says_so() -> None:
    app = App(key="hello", name="Hello", data=DataManifest())
    facts = gather(load_settings(), [app])
    section = render_app(facts.apps[0], facts)
    assert "- Personal data: none." in section
    assert "This app stores no data of its own." in section


def test_the_same_facts_give_the_same_bytes() -> None:
    assert _statement() == _statement()
    assert _statement() != _statement(region="us-west-2")


def test_html_escapes_markup_an_app_supplies() -> None:
    app = App(key="evil", name="<script>alert(1)</script>", description="<img src=x onerror=alert(1)>")
    facts = gather(load_settings(), [app])
    html = to_html(render(facts, verified(facts).outcomes()))
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;" in html


def test_claim_ids_are_unique() -> None:
    ids = [claim.id for claim in CLAIMS]
    assert len(ids) == len(set(ids))


def test_an_app_s_sub_processors_are_printed_with_purpose_countries_and_hosts() -> None:
    mailer = dataclasses.replace(
        mailer_app(),
        sub_processors=(
            SubProcessor("Postmark", "sending the rules' e-mails", ("US",), ("smtp.postmarkapp.com",)),
            SubProcessor("Sentry", "error reports", ("DE", "US"), ("o1.ingest.sentry.io", "sentry.io")),
        ),
    )
    facts = gather(load_settings(hosting_provider="aws"), [mailer])
    section = render_app(facts.apps[0], facts)
    assert (
        "- Sub-processors: **Postmark**, sending the rules' e-mails (US; reached at `smtp.postmarkapp.com`);"
        " **Sentry**, error reports (DE, US; reached at `o1.ingest.sentry.io`, `sentry.io`)."
    ) in section
    assert "none declared by this app" in render_app(_facts().apps[0], _facts())


@pytest.mark.parametrize(
    ("name", "purpose", "countries", "hosts"),
    [
        ("", "p", ("US",), ("a.example",)),
        ("**Bold**", "p", ("US",), ("a.example",)),
        ("A | B", "p", ("US",), ("a.example",)),
        ("A", "line\nbreak", ("US",), ("a.example",)),
        ("A", "p", (), ("a.example",)),
        ("A", "p", ("usa",), ("a.example",)),
        ("A", "p", ("US",), ()),
        ("A", "p", ("US",), ("*.example.com",)),
        ("A", "p", ("US",), ("192.0.2.1",)),
        ("A", "p", ("US",), ("localhost.localdomain.example", "127.0.0.1")),
        ("A", "p", ("US",), ("Upper.Example",)),
    ],
)
def test_a_sub_processor_that_could_not_be_printed_or_enforced_as_written_is_refused(
    name: str, purpose: str, countries: tuple[str, ...], hosts: tuple[str, ...]
) -> None:
    with pytest.raises(ValueError, match="sub-processor"):
        SubProcessor(name, purpose, countries, hosts)


def test_the_service_s_own_sub_processors_are_printed_in_every_app_section() -> None:
    facts = gather(
        load_settings(hosting_provider="aws", sub_processors="tests.egress.declared:SERVICE"), [mailer_app()]
    )
    section = render_app(facts.apps[0], facts)
    assert (
        "- Sub-processors: none declared by this app. The service's own: **Sentry**, error reports"
        " (DE, US; reached at `o1.ingest.sentry.io`). The service runs on Amazon Web Services (AWS)"
    ) in section


def test_a_sub_processors_setting_that_names_no_register_is_one_line() -> None:
    with pytest.raises(ConfigurationError, match=r"PLEDGE_SUB_PROCESSORS='tests.egress.declared:NOT_A_REGISTER'"):
        gather(load_settings(sub_processors="tests.egress.declared:NOT_A_REGISTER"), [mailer_app()])
    with pytest.raises(ConfigurationError, match="cannot import it"):
        gather(load_settings(sub_processors="tests.egress.nowhere:SERVICE"), [mailer_app()])

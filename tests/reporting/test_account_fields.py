"""Account fields: declared personal, holding only accountIds, and what a tenant's records hold of them (S2)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from tests.reporting.conftest import MANIFEST, Hooks, follow_up_app

from pledge.clock import FrozenClock
from pledge.reporting.accounts import stored_accounts
from pledge.runtime import Runtime
from pledge.store import Category, Field, InvalidValue

ALICE = "557058:1b2c3d4e-0000-4000-8000-00000000a11c"
BOB = "5b10ac8d82e05b22cc7d4ef5"


def test_only_a_personal_data_field_may_hold_accountids() -> None:
    with pytest.raises(ValueError, match=r"declare it Category\.PERSONAL"):
        Field("owner", Category.CONFIGURATION, "Who owns it", account_id=True)


@pytest.mark.parametrize(
    "value", ["unknown", "alice@example.com", "a b", "x" * 129, 42, [ALICE, 7], {"id": ALICE}, [ALICE] * 1001]
)
def test_an_account_field_refuses_anything_but_accountids(runtime: Runtime, value: object) -> None:
    tenant = runtime.tenants.create(
        app_key="follow-up", base_url="https://acme.atlassian.net", product_type="jira", client_key="acme"
    )
    store = runtime.store_for(follow_up_app(Hooks()), tenant)
    with pytest.raises(InvalidValue, match="holds Atlassian accountIds"):
        store.create("followers", {"issue_key": "SIM-1", "follower": value})


def test_the_accountids_held_with_when_each_was_last_written(runtime: Runtime, clock: FrozenClock) -> None:
    tenant = runtime.tenants.create(
        app_key="follow-up", base_url="https://acme.atlassian.net", product_type="jira", client_key="acme"
    )
    store = runtime.store_for(follow_up_app(Hooks()), tenant)
    first = clock.now()
    store.create("followers", {"issue_key": "SIM-1", "follower": ALICE})
    store.create("followers", {"issue_key": "SIM-2", "follower": None})
    clock.advance(timedelta(hours=2))
    store.create("digests", {"recipients": [ALICE, BOB], "subject": "weekly"})
    assert stored_accounts(store, MANIFEST) == {ALICE: first + timedelta(hours=2), BOB: first + timedelta(hours=2)}

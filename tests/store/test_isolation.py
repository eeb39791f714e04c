"""S2: random sequences of store operations for many tenants of two apps never reach another tenant's records.

A hypothesis state machine drives every store operation (create, get, update, delete, filtered list, count, data
key rotation) through the stores of six tenants, each holding references to records of every tenant, and checks
each answer against a per-tenant model: a tenant sees exactly its own records, and a record id of another tenant
is as unknown to it as an id that never existed.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, rule, run_state_machine_as_test

from pledge.app import App
from pledge.runtime import Runtime
from pledge.store import RecordNotFound, Secret, TenantStore, rotate_tenant_key
from pledge.tenants import Tenant

TENANTS = 6
COLLECTIONS = ("rules", "sent")
WORDS = ["alpha", "beta", "gamma"]
ADDRESSES = ["a@example.com", "b@example.com", "c@example.org"]

VALUES = {
    "rules": st.fixed_dictionaries(
        {},
        optional={
            "name": st.sampled_from(WORDS),
            "project": st.sampled_from(["OPS", "SUP"]),
            "recipient": st.sampled_from(ADDRESSES),
            "body": st.sampled_from(WORDS) | st.integers(-5, 5) | st.none(),
            "smtp_password": st.sampled_from(WORDS).map(Secret),
        },
    ),
    "sent": st.fixed_dictionaries({}, optional={"issue": st.sampled_from(["OPS-1", "OPS-2"]), "note": st.none()}),
}
FILTERS = {
    "rules": st.sampled_from(
        [("name", w) for w in WORDS] + [("recipient", a) for a in ADDRESSES] + [("project", "OPS")]
    ),
    "sent": st.sampled_from([("issue", "OPS-1"), ("issue", "OPS-2")]),
}
collections = st.sampled_from(COLLECTIONS)
tenant_numbers = st.integers(0, TENANTS - 1)


def test_no_operation_reaches_another_tenants_records(runtime: Runtime, mailer: App) -> None:
    apps = [mailer, App(key="notes", name="Notes", data=mailer.data)]

    class Isolation(RuleBasedStateMachine):
        records = Bundle("records")

        def __init__(self) -> None:
            super().__init__()
            self.tenants: list[Tenant] = []
            self.stores: list[TenantStore] = []
            for i in range(TENANTS):
                app = apps[i % 2]
                tenant = runtime.tenants.create(
                    app_key=app.key,
                    client_key=uuid.uuid4().hex,
                    base_url="https://x.atlassian.net",
                    product_type="jira",
                )
                self.tenants.append(tenant)
                self.stores.append(runtime.store_for(app, tenant))
            self.model: list[dict[tuple[str, str], dict[str, Any]]] = [{} for _ in range(TENANTS)]

        @rule(target=records, t=tenant_numbers, data=st.data())
        def create(self, t: int, data: st.DataObject) -> tuple[int, str, str]:
            collection = data.draw(collections)
            values = data.draw(VALUES[collection])
            record = self.stores[t].create(collection, values)
            assert record.values == values
            self.model[t][(collection, record.id)] = values
            return (t, collection, record.id)

        @rule(ref=records, t=tenant_numbers)
        def get(self, ref: tuple[int, str, str], t: int) -> None:
            _, collection, record_id = ref
            expected = self.model[t].get((collection, record_id))
            if expected is None:
                with pytest.raises(RecordNotFound):
                    self.stores[t].get(collection, record_id)
            else:
                assert self.stores[t].get(collection, record_id).values == expected

        @rule(ref=records, t=tenant_numbers, data=st.data())
        def update(self, ref: tuple[int, str, str], t: int, data: st.DataObject) -> None:
            _, collection, record_id = ref
            changes = data.draw(VALUES[collection])
            expected = self.model[t].get((collection, record_id))
            if expected is None:
                with pytest.raises(RecordNotFound):
                    self.stores[t].update(collection, record_id, changes)
            else:
                expected = {**expected, **changes}
                assert self.stores[t].update(collection, record_id, changes).values == expected
                self.model[t][(collection, record_id)] = expected

        @rule(ref=records, t=tenant_numbers)
        def delete(self, ref: tuple[int, str, str], t: int) -> None:
            _, collection, record_id = ref
            if (collection, record_id) in self.model[t]:
                self.stores[t].delete(collection, record_id)
                del self.model[t][(collection, record_id)]
            else:
                with pytest.raises(RecordNotFound):
                    self.stores[t].delete(collection, record_id)

        @rule(t=tenant_numbers, data=st.data())
        def list_filtered(self, t: int, data: st.DataObject) -> None:
            collection = data.draw(collections)
            field, value = data.draw(FILTERS[collection])
            expected = sorted(
                record_id
                for (c, record_id), values in self.model[t].items()
                if c == collection and values.get(field, object()) == value
            )
            found = self.stores[t].list(collection, where={field: value}, limit=1000)
            assert [r.id for r in found] == expected
            assert self.stores[t].count(collection, where={field: value}) == len(expected)

        @rule(t=tenant_numbers)
        def rotate_key(self, t: int) -> None:
            rotate_tenant_key(runtime.engine, runtime.vault, self.tenants[t].id, batch_size=3)

        def teardown(self) -> None:
            for t, store in enumerate(self.stores):
                for collection in COLLECTIONS:
                    seen = {r.id: r.values for r in store.list(collection, limit=1000)}
                    assert seen == {rid: v for (c, rid), v in self.model[t].items() if c == collection}

    run_state_machine_as_test(
        Isolation,
        settings=settings(
            max_examples=40,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )

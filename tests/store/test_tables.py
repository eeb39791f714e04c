"""The store's hot statements run on the driver's cursor (pledge.store._prepared): converted as ``Connection.execute``
would convert them, inside SQLAlchemy's transaction, raising SQLAlchemy's errors without their parameters."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from pledge import schema
from pledge.db import open_engine
from pledge.store import tables

NOW = datetime(2026, 11, 27, 18, 0, 0, 123456, tzinfo=UTC)
TENANT = "a" * 32
SECRET_PAYLOAD = b"sealed-payload-that-must-not-reach-an-error-message"


def _row(record_id: str) -> dict[str, object]:
    return {
        "tenant_id": TENANT,
        "app_key": "mailer",
        "collection": "rules",
        "id": record_id,
        "key_version": 1,
        "revision": 1,
        "payload": SECRET_PAYLOAD,
        "created_at": NOW,
        "updated_at": NOW,
    }


def _count(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(tables.records_table)).scalar_one())


def test_a_record_reads_back_as_execute_would_convert_it(engine: Engine) -> None:
    with engine.begin() as connection:
        tables.insert_record(connection, _row("1" * 32), (b"d" * 32, None))
    with engine.connect() as connection:
        found = tables.select_record(connection, tables.record_key(TENANT, "mailer", "rules", "1" * 32))
        listed = tables.select_records(
            connection,
            tables.list_records((0,), 1, False),
            {**tables.record_key(TENANT, "mailer", "rules"), "digest_0_1": b"d" * 32, "limit": 10},
        )
        through_execute = connection.execute(
            select(*tables.RECORD_COLUMNS).where(tables.records_table.c.id == "1" * 32)
        ).one()

    assert found == tuple(through_execute) == ("1" * 32, SECRET_PAYLOAD, 1, NOW, NOW)
    assert found is not None and found[3].tzinfo is UTC
    assert listed == [found]


def test_an_insert_is_part_of_the_sqlalchemy_transaction_it_runs_in(engine: Engine) -> None:
    with pytest.raises(RuntimeError), engine.begin() as connection:
        tables.insert_record(connection, _row("2" * 32), ())
        raise RuntimeError("the handler failed after writing")

    assert _count(engine) == 0


def test_a_driver_error_is_sqlalchemys_and_carries_no_parameters(engine: Engine) -> None:
    with engine.begin() as connection:
        tables.insert_record(connection, _row("3" * 32), ())

    with pytest.raises(IntegrityError) as raised, engine.begin() as connection:
        tables.insert_record(connection, _row("3" * 32), ())

    assert SECRET_PAYLOAD.decode() not in str(raised.value)  # PostgreSQL's own detail names the key: ids only
    assert _count(engine) == 1


@pytest.mark.postgres
def test_a_lost_connection_is_invalidated_and_the_next_call_gets_a_new_one(
    postgres_url: str, postgres_admin: Engine
) -> None:
    engine = open_engine(postgres_url)
    schema.upgrade(engine)
    key = tables.record_key(TENANT, "mailer", "rules", "4" * 32)
    try:
        with engine.connect() as connection:
            backend = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
            with postgres_admin.connect() as admin:
                admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
            with pytest.raises(DBAPIError) as raised:
                tables.select_record(connection, dict(key))
            assert raised.value.connection_invalidated

        with engine.connect() as connection:
            assert tables.select_record(connection, dict(key)) is None
    finally:
        engine.dispose()

"""Alembic environment: always run by :mod:`pledge.schema` on a connection it already holds under a lock."""

from alembic import context

from pledge.db import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()

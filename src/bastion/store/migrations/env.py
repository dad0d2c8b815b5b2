"""Alembic environment: the URL or an open connection comes from ``bastion.store.db``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from bastion.store.models import Base

config = context.config
connection = config.attributes.get("connection")


def run(conn: object) -> None:
    context.configure(
        connection=conn,  # type: ignore[arg-type]
        target_metadata=Base.metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies the table.
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    run(connection)
else:
    engine = create_engine(config.attributes["url"])
    with engine.begin() as conn:
        run(conn)
    engine.dispose()

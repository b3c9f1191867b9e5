"""Alembic environment of the VPN control plane (run through Database.migrate)."""

from __future__ import annotations

from alembic import context

from onshi.vpn.storage.database import VERSION_TABLE
from onshi.vpn.storage.tables import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    version_table=VERSION_TABLE,
    # Only our tables: a shared database also holds the central service's.
    include_name=lambda name, type_, _parent: (
        type_ != "table" or bool(name and name.startswith("vpn_"))
    ),
)
with context.begin_transaction():
    context.run_migrations()

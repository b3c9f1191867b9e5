"""The VPN schema: migrations match the models, a version table of its own, sharing a database
with the central service, and nothing that could hold claims or My Number card data."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from onshi.central.storage.database import Database as CentralDatabase
from onshi.vpn.storage.database import VERSION_TABLE, Database
from onshi.vpn.storage.tables import Base

# The service only carries traffic (seed 1-1: レセプトデータやマイナンバーカード情報を保存する事はありません).
FORBIDDEN = re.compile(
    r"claim|receipt|rece|レセプト|my_?number|mynumber|individual_?number|kojin|insur|hoken"
    r"|card_serial|birth|patient",
    re.IGNORECASE,
)


def test_no_column_could_hold_claims_or_my_number(vpn_db_url: str) -> None:
    engine = sqlalchemy.create_engine(vpn_db_url)
    try:
        inspector = sqlalchemy.inspect(engine)
        tables = [name for name in inspector.get_table_names() if name.startswith("vpn_")]
        assert len(tables) == len(Base.metadata.tables)
        names = [f"{table}.{c['name']}" for table in tables for c in inspector.get_columns(table)]
    finally:
        engine.dispose()
    assert names, "the schema was not inspected"
    assert [n for n in names if FORBIDDEN.search(n)] == []


def test_the_check_would_catch_such_a_column() -> None:
    for name in ("vpn_x.InsuredNumber", "vpn_x.my_number", "vpn_x.claim_file", "vpn_x.receipt"):
        assert FORBIDDEN.search(name)


def test_migrations_match_the_models(vpn_db_url: str) -> None:
    db = Database(vpn_db_url)
    try:
        with db.engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "version_table": VERSION_TABLE}
            )
            assert compare_metadata(context, Base.metadata) == []
            tables = sqlalchemy.inspect(connection).get_table_names()
        assert VERSION_TABLE in tables and "alembic_version" not in tables
        db.migrate()  # idempotent
    finally:
        db.dispose()


@pytest.fixture
def empty_postgres(postgres_admin_url: str) -> Iterator[str]:
    name = f"shared_{uuid.uuid4().hex[:12]}"
    admin = sqlalchemy.create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    try:
        yield str(
            sqlalchemy.make_url(postgres_admin_url)
            .set(database=name)
            .render_as_string(hide_password=False)
        )
    finally:
        with admin.connect() as c:
            c.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.postgres
def test_shares_a_postgresql_database_with_central(empty_postgres: str) -> None:
    central, vpn = CentralDatabase(empty_postgres), Database(empty_postgres)
    try:
        central.migrate()
        vpn.migrate()
        central.migrate()
        vpn.migrate()
        with vpn.engine.connect() as c:
            tables = set(sqlalchemy.inspect(c).get_table_names())
            vpn_version = c.execute(sqlalchemy.text(f"SELECT version_num FROM {VERSION_TABLE}"))
            assert [r[0] for r in vpn_version] == ["0001"]
        assert {"alembic_version", VERSION_TABLE, "vpn_account", "audit_entry"} <= tables
    finally:
        central.dispose()
        vpn.dispose()

from sqlalchemy import inspect

from onshi.central.storage.database import Database


def test_migrated_schema_has_every_table(database: Database) -> None:
    names = set(inspect(database.engine).get_table_names())
    assert {"qualification", "individual", "insurer", "card_link", "audit_entry"} <= names


def test_migrate_is_idempotent(database: Database) -> None:
    database.migrate()
    database.migrate()
    assert "alembic_version" in inspect(database.engine).get_table_names()


def test_migrations_build_exactly_the_models(database: Database) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from onshi.central.storage.tables import Base

    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []

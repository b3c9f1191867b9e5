from sqlalchemy import inspect

from onshi.central.storage.database import Database


def test_migrated_schema_has_every_table(database: Database) -> None:
    names = set(inspect(database.engine).get_table_names())
    assert {"qualification", "individual", "insurer", "card_link", "audit_entry"} <= names


def test_migrate_is_idempotent(database: Database) -> None:
    database.migrate()
    database.migrate()
    assert "alembic_version" in inspect(database.engine).get_table_names()

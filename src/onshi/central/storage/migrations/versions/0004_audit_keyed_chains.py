"""audit log: chains (one per writing process), a chain version, a database sequence for seq

Existing entries become chain ``legacy`` (chain_seq = seq, version 1: the unkeyed SHA-256);
the first server started on the new code seals that chain with a keyed entry, and new entries
go to keyed chains (version 2). ``seq`` is now given by the database (a sequence on PostgreSQL,
the rowid on SQLite), so that writers need no lock to number their entries.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("audit_entry") as batch_op:
        batch_op.add_column(sa.Column("chain", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("chain_seq", _ID, nullable=True))
        batch_op.add_column(sa.Column("version", sa.Integer(), nullable=True))
    op.execute("UPDATE audit_entry SET chain = 'legacy', chain_seq = seq, version = 1")
    with op.batch_alter_table("audit_entry") as batch_op:
        batch_op.alter_column("chain", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("chain_seq", existing_type=_ID, nullable=False)
        batch_op.alter_column("version", existing_type=sa.Integer(), nullable=False)
        batch_op.create_unique_constraint(op.f("uq_audit_entry_chain"), ["chain", "chain_seq"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE SEQUENCE audit_entry_seq OWNED BY audit_entry.seq")
        op.execute(
            "SELECT setval('audit_entry_seq', COALESCE(MAX(seq), 0) + 1, false) FROM audit_entry"
        )
        op.execute(
            "ALTER TABLE audit_entry ALTER COLUMN seq SET DEFAULT nextval('audit_entry_seq')"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE audit_entry ALTER COLUMN seq DROP DEFAULT")
        op.execute("DROP SEQUENCE audit_entry_seq")
    with op.batch_alter_table("audit_entry") as batch_op:
        batch_op.drop_constraint(op.f("uq_audit_entry_chain"), type_="unique")
        batch_op.drop_column("version")
        batch_op.drop_column("chain_seq")
        batch_op.drop_column("chain")

"""診療情報 (medical_treatment), dispensing institutions on drug lines, bulk flows

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_INSTITUTION = (
    ("DiOrg", 1),
    ("MeTrDiHCd", 10),
    ("MeTrDiHNm", 200),
    ("PrlsHCd", 10),
    ("PrlsHNm", 200),
    ("InOut", 1),
)


def upgrade() -> None:
    with op.batch_alter_table("drug_dispensing") as batch_op:
        for name, length in _INSTITUTION:
            batch_op.add_column(sa.Column(name, sa.String(length=length), nullable=True))
    with op.batch_alter_table("bulk_reception") as batch_op:
        batch_op.add_column(
            sa.Column("flow", sa.String(length=16), nullable=False, server_default="eligibility")
        )
    op.create_table(
        "medical_treatment",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("individual_id", _ID, nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("DiDate", sa.Date(), nullable=False),
        sa.Column("MeTrDiHCd", sa.String(length=10), nullable=True),
        sa.Column("MeTrDiHNm", sa.String(length=200), nullable=True),
        sa.Column("SinInfN", sa.String(length=200), nullable=False),
        sa.Column("SinInfCd", sa.String(length=20), nullable=True),
        sa.Column("MeTrIdCl", sa.String(length=2), nullable=True),
        sa.Column("Qua1", sa.String(length=20), nullable=True),
        sa.Column("Times", sa.String(length=20), nullable=True),
        sa.Column("Unit", sa.String(length=20), nullable=True),
        sa.Column("content_digest", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["individual_id"],
            ["individual.id"],
            name=op.f("fk_medical_treatment_individual_id_individual"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_medical_treatment")),
        sa.UniqueConstraint("content_digest", name=op.f("uq_medical_treatment_content_digest")),
    )
    with op.batch_alter_table("medical_treatment") as batch_op:
        batch_op.create_index(
            "ix_medical_treatment_individual_date", ["individual_id", "DiDate"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("medical_treatment") as batch_op:
        batch_op.drop_index("ix_medical_treatment_individual_date")
    op.drop_table("medical_treatment")
    with op.batch_alter_table("bulk_reception") as batch_op:
        batch_op.drop_column("flow")
    with op.batch_alter_table("drug_dispensing") as batch_op:
        for name, _ in reversed(_INSTITUTION):
            batch_op.drop_column(name)

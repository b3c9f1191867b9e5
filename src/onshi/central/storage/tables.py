"""Tables of the central service (SQLAlchemy 2). Column names follow the OQS element names.

No table holds a My Number: cards are known by their user certificate's issuer and serial.
Personal data lives only in ``qualification``; everything else refers to an ``individual`` id.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Sequence,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Id = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrements INTEGER PRIMARY KEY only


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Insurer(Base):
    """保険者."""

    __tablename__ = "insurer"
    InsurerNumber: Mapped[str] = mapped_column(String(8), primary_key=True)
    InsurerName: Mapped[str] = mapped_column(String(200))


class Individual(Base):
    """One person across insurers; ``external_id`` is the insurers' IndividualId if they gave one."""

    __tablename__ = "individual"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)


class Qualification(Base):
    """The current state of one qualification; earlier states are in ``qualification_history``."""

    __tablename__ = "qualification"
    __table_args__ = (
        UniqueConstraint(
            "InsurerNumber",
            "InsuredCardSymbol",
            "InsuredIdentificationNumber",
            "InsuredBranchNumber",
            name="uq_qualification_card_key",
        ),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    individual_id: Mapped[int] = mapped_column(ForeignKey("individual.id"), index=True)
    InsurerNumber: Mapped[str] = mapped_column(ForeignKey("insurer.InsurerNumber"))
    InsuredCardSymbol: Mapped[str] = mapped_column(String(38))
    InsuredIdentificationNumber: Mapped[str] = mapped_column(String(38))
    # '' when the insurer gave no branch number: NULLs would escape the unique key.
    InsuredBranchNumber: Mapped[str] = mapped_column(String(2))
    PersonalFamilyClassification: Mapped[str | None] = mapped_column(String(1))
    InsuredName: Mapped[str | None] = mapped_column(String(100))
    Name: Mapped[str] = mapped_column(String(100))
    NameKana: Mapped[str] = mapped_column(String(100))
    Sex1: Mapped[str] = mapped_column(String(1))
    Birthdate: Mapped[dt.date] = mapped_column(Date)
    Address: Mapped[str | None] = mapped_column(String(200))
    PostNumber: Mapped[str | None] = mapped_column(String(8))
    InsuredCardClassification: Mapped[str] = mapped_column(String(2))
    InsuredCertificateIssuanceDate: Mapped[dt.date | None] = mapped_column(Date)
    InsuredCardValidDate: Mapped[dt.date | None] = mapped_column(Date)
    InsuredCardExpirationDate: Mapped[dt.date | None] = mapped_column(Date)
    InsuredPartialContributionRatio: Mapped[str | None] = mapped_column(String(3))
    QualificationDate: Mapped[dt.date] = mapped_column(Date)
    DisqualificationDate: Mapped[dt.date | None] = mapped_column(Date)
    ReasonOfLoss: Mapped[str | None] = mapped_column(String(2))
    ElderlyRecipientCertificateDate: Mapped[dt.date | None] = mapped_column(Date)
    ElderlyRecipientValidStartDate: Mapped[dt.date | None] = mapped_column(Date)
    ElderlyRecipientValidEndDate: Mapped[dt.date | None] = mapped_column(Date)
    ElderlyRecipientContributionRatio: Mapped[str | None] = mapped_column(String(3))
    # SHA-256 of the imported row: re-importing the same data is a no-op.
    content_digest: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime)


class QualificationHistory(Base):
    """An earlier state of a qualification, kept when an import changed it."""

    __tablename__ = "qualification_history"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    qualification_id: Mapped[int] = mapped_column(ForeignKey("qualification.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    superseded_at: Mapped[dt.datetime] = mapped_column(DateTime)
    content: Mapped[str] = mapped_column(Text)  # the earlier row as JSON, OQS names as keys


class LimitApplicationCertificate(Base):
    """限度額適用認定証 information attached to a qualification."""

    __tablename__ = "limit_application_certificate"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    qualification_id: Mapped[int] = mapped_column(ForeignKey("qualification.id"), index=True)
    LimitApplicationCertificateClassification: Mapped[str] = mapped_column(String(2))
    LimitApplicationCertificateClassificationFlag: Mapped[str] = mapped_column(String(3))
    LimitApplicationCertificateDate: Mapped[dt.date | None] = mapped_column(Date)
    LimitApplicationCertificateValidStartDate: Mapped[dt.date] = mapped_column(Date)
    LimitApplicationCertificateValidEndDate: Mapped[dt.date | None] = mapped_column(Date)
    LimitApplicationCertificateLongTermDate: Mapped[dt.date | None] = mapped_column(Date)
    content_digest: Mapped[str] = mapped_column(String(64), unique=True)


class SpecificDiseasesCertificate(Base):
    """特定疾病療養受療証 information attached to a qualification."""

    __tablename__ = "specific_diseases_certificate"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    qualification_id: Mapped[int] = mapped_column(ForeignKey("qualification.id"), index=True)
    SpecificDiseasesDiseaseCategory: Mapped[str] = mapped_column(String(1))
    SpecificDiseasesCertificateDate: Mapped[dt.date | None] = mapped_column(Date)
    SpecificDiseasesValidStartDate: Mapped[dt.date] = mapped_column(Date)
    SpecificDiseasesValidEndDate: Mapped[dt.date | None] = mapped_column(Date)
    SpecificDiseasesSelfPay: Mapped[int | None] = mapped_column(Integer)
    content_digest: Mapped[str] = mapped_column(String(64), unique=True)


class DrugDispensing(Base):
    """One line of drug dispensing history (薬剤情報), from claims."""

    __tablename__ = "drug_dispensing"
    __table_args__ = (Index("ix_drug_dispensing_individual_date", "individual_id", "DiDate"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    individual_id: Mapped[int] = mapped_column(ForeignKey("individual.id"))
    DiDate: Mapped[dt.date] = mapped_column(Date)  # 調剤日
    PrDate: Mapped[dt.date | None] = mapped_column(Date)  # 処方日
    DrugC: Mapped[str] = mapped_column(String(20))
    DrugN: Mapped[str] = mapped_column(String(200))
    IngreN: Mapped[str | None] = mapped_column(String(200))
    Qua1: Mapped[str] = mapped_column(String(20))
    Unit: Mapped[str | None] = mapped_column(String(20))
    UsageN: Mapped[str | None] = mapped_column(String(200))
    Times: Mapped[str | None] = mapped_column(String(20))
    # Who dispensed (MeTrDiHCd/MeTrDiHNm) and who prescribed (PrlsHCd/PrlsHNm); DiOrg 1 医療機関,
    # 2 薬局; InOut 1 院内, 2 院外 (onshi's codes: the official lists are not public).
    DiOrg: Mapped[str | None] = mapped_column(String(1))
    MeTrDiHCd: Mapped[str | None] = mapped_column(String(10))
    MeTrDiHNm: Mapped[str | None] = mapped_column(String(200))
    PrlsHCd: Mapped[str | None] = mapped_column(String(10))
    PrlsHNm: Mapped[str | None] = mapped_column(String(200))
    InOut: Mapped[str | None] = mapped_column(String(1))
    content_digest: Mapped[str] = mapped_column(String(64), unique=True)


class MedicalTreatment(Base):
    """One line of 診療情報 from claims: a diagnosis-side treatment or an operation (手術).

    ``category`` is the consent it needs: "diagnosis" (DiagnosisInfoConsFlg) or "operation"
    (OperationInfoConsFlg). Served with drug information when FileCategory is 3 or 4.
    """

    __tablename__ = "medical_treatment"
    __table_args__ = (Index("ix_medical_treatment_individual_date", "individual_id", "DiDate"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    individual_id: Mapped[int] = mapped_column(ForeignKey("individual.id"))
    category: Mapped[str] = mapped_column(String(16))
    DiDate: Mapped[dt.date] = mapped_column(Date)  # 診療日
    MeTrDiHCd: Mapped[str | None] = mapped_column(String(10))
    MeTrDiHNm: Mapped[str | None] = mapped_column(String(200))
    SinInfN: Mapped[str] = mapped_column(String(200))  # 診療行為名
    SinInfCd: Mapped[str | None] = mapped_column(String(20))  # 診療行為コード
    MeTrIdCl: Mapped[str | None] = mapped_column(String(2))  # 診療識別 (50 手術, 70 画像診断…)
    Qua1: Mapped[str | None] = mapped_column(String(20))
    Times: Mapped[str | None] = mapped_column(String(20))
    Unit: Mapped[str | None] = mapped_column(String(20))
    content_digest: Mapped[str] = mapped_column(String(64), unique=True)


class CheckupResult(Base):
    """One item of a specific health checkup (特定健診)."""

    __tablename__ = "checkup_result"
    __table_args__ = (Index("ix_checkup_result_individual_date", "individual_id", "EffectiveTime"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    individual_id: Mapped[int] = mapped_column(ForeignKey("individual.id"))
    EffectiveTime: Mapped[dt.date] = mapped_column(Date)
    ItemCode: Mapped[str] = mapped_column(String(20))
    ItemName: Mapped[str] = mapped_column(String(200))
    DataType: Mapped[str | None] = mapped_column(String(10))
    DataValue: Mapped[str | None] = mapped_column(String(100))
    Unit: Mapped[str | None] = mapped_column(String(20))
    Oid: Mapped[str | None] = mapped_column(String(100))
    DataValueName: Mapped[str | None] = mapped_column(String(200))
    content_digest: Mapped[str] = mapped_column(String(64), unique=True)


class CardLink(Base):
    """A My Number card's user certificate (利用者証明用電子証明書) linked to an individual.

    Known by issuer and serial, with the certificate's digest: never the 12-digit number.
    """

    __tablename__ = "card_link"
    __table_args__ = (UniqueConstraint("issuer", "serial", name="uq_card_link_issuer_serial"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    issuer: Mapped[str] = mapped_column(String(300))
    serial: Mapped[str] = mapped_column(String(64))  # hex
    certificate_digest: Mapped[str] = mapped_column(String(64), unique=True)
    individual_id: Mapped[int] = mapped_column(ForeignKey("individual.id"), index=True)
    linked_at: Mapped[dt.datetime] = mapped_column(DateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class Facility(Base):
    """A medical institution or pharmacy allowed to ask (医療機関等)."""

    __tablename__ = "facility"
    MedicalInstitutionCode: Mapped[str] = mapped_column(String(10), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    registered_at: Mapped[dt.datetime] = mapped_column(DateTime)


class Consent(Base):
    """A consent given by card at a facility's reader."""

    __tablename__ = "consent"
    __table_args__ = (
        Index("ix_consent_lookup", "individual_id", "MedicalInstitutionCode", "kind"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    individual_id: Mapped[int] = mapped_column(ForeignKey("individual.id"))
    MedicalInstitutionCode: Mapped[str] = mapped_column(String(10))
    kind: Mapped[str] = mapped_column(String(16))
    given_at: Mapped[dt.datetime] = mapped_column(DateTime)


class CardNonce(Base):
    """A challenge the central service issued for a card to sign; usable once, briefly."""

    __tablename__ = "card_nonce"
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    MedicalInstitutionCode: Mapped[str] = mapped_column(String(10))
    issued_at: Mapped[dt.datetime] = mapped_column(DateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class BulkReception(Base):
    """一括照会 upload: answered at once with a ReceptionNumber, processed in the background."""

    __tablename__ = "bulk_reception"
    __table_args__ = (
        UniqueConstraint(
            "MedicalInstitutionCode", "idempotency_key", name="uq_bulk_reception_idempotency"
        ),
    )
    ReceptionNumber: Mapped[str] = mapped_column(String(32), primary_key=True)
    MedicalInstitutionCode: Mapped[str] = mapped_column(String(10), index=True)
    ArbitraryFileIdentifier: Mapped[str | None] = mapped_column(String(100))
    QualificationConfirmationDate: Mapped[dt.date] = mapped_column(Date)
    ReceptionDateTime: Mapped[dt.datetime] = mapped_column(DateTime)
    record_count: Mapped[int] = mapped_column(Integer)
    completed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # The client's key for this upload: a resent upload (the client died before it stored our
    # answer) gets the same ReceptionNumber instead of a second reception.
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    # eligibility (OQSmuquc), online-care (OQSmuonq), home-visit (OQSmuhvq), medical-aid (OQSmutic)
    flow: Mapped[str] = mapped_column(String(16), server_default="eligibility")


class BulkRecord(Base):
    """One record of a bulk upload: the question, then its answer (JSON, OQS names)."""

    __tablename__ = "bulk_record"
    ReceptionNumber: Mapped[str] = mapped_column(
        ForeignKey("bulk_reception.ReceptionNumber"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    ArbitraryIdentifier: Mapped[str | None] = mapped_column(String(100))
    request: Mapped[str] = mapped_column(Text)
    result: Mapped[str | None] = mapped_column(Text)


class AuditEntry(Base):
    """An append-only, hash-chained record of one access. Identifiers are keyed digests.

    ``seq`` (a database sequence) orders all entries; ``chain``/``chain_seq`` place the entry in
    its writer's chain; ``version`` 1 is the unkeyed SHA-256 of old logs, 2 the keyed link.
    """

    __tablename__ = "audit_entry"
    __table_args__ = (UniqueConstraint("chain", "chain_seq"),)
    seq: Mapped[int] = mapped_column(Id, Sequence("audit_entry_seq"), primary_key=True)
    chain: Mapped[str] = mapped_column(String(64))
    chain_seq: Mapped[int] = mapped_column(Id)
    version: Mapped[int] = mapped_column(Integer)
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime)
    MedicalInstitutionCode: Mapped[str | None] = mapped_column(String(10))
    action: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(40))
    previous_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))

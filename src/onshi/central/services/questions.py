"""What facilities ask, as validated values (adapters build these from HTTP JSON or OQS XML)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from onshi.central.domain.consent import ConsentKind
from onshi.central.domain.qualification import CardKey


@dataclass(frozen=True, slots=True)
class CardNumberQuestion:
    """資格確認照会 by insurance-card number (OQSsiquc01)."""

    key: CardKey
    birthdate: dt.date
    on: dt.date  # QualificationConfirmationDate
    limit_consent: bool = False  # LimitApplicationCertificateRelatedConsFlg = 1
    arbitrary_file_identifier: str | None = None


class IdentityMethod:
    """本人確認の方法 at the reader."""

    FACE = "face"  # 顔認証
    VISUAL = "visual"  # 目視確認
    PIN = "pin"  # 暗証番号

    ALL = frozenset({FACE, VISUAL, PIN})


@dataclass(frozen=True, slots=True)
class CardQuestion:
    """A confirmation by My Number card: the card's certificate and its signature over a nonce."""

    certificate_pem: bytes
    nonce: str
    signature: bytes
    identity_method: str
    consents: frozenset[ConsentKind] = field(default_factory=frozenset)
    on: dt.date | None = None  # defaults to today (JST)
    arbitrary_file_identifier: str | None = None


@dataclass(frozen=True, slots=True)
class BulkRecordQuestion:
    """One record of a bulk check (一括照会), matched back by ``arbitrary_identifier``."""

    key: CardKey
    birthdate: dt.date
    arbitrary_identifier: str | None = None
    limit_consent: bool = False


@dataclass(frozen=True, slots=True)
class BulkQuestion:
    on: dt.date
    records: tuple[BulkRecordQuestion, ...]
    arbitrary_file_identifier: str | None = None


@dataclass(frozen=True, slots=True)
class HistoryQuestion:
    """薬剤情報 (YZKsiquc01) or 特定健診情報 (TKKsiquc01) for the holder of a card key."""

    key: CardKey
    start: dt.date | None = None
    end: dt.date | None = None
    arbitrary_file_identifier: str | None = None
    with_treatments: bool = False  # FileCategory 3/4: add 診療情報 (drug information only)


@dataclass(frozen=True, slots=True)
class BulkPeriodQuestion:
    """Online care, home visits, medical aid (OQSmuonq01/muhvq01/mutic01): no names are sent;
    every patient who gave this facility a consent from ``start`` to ``end`` is answered."""

    flow: str  # online-care, home-visit or medical-aid
    start: dt.date
    end: dt.date
    arbitrary_file_identifier: str | None = None

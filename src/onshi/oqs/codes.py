"""OQS code lists (official ids OQSCD001–013), as the real interface publishes them.

Independent clients parse results strictly and throw on unknown values, so onshi emits only these.
Values are the strings that appear in the XML.
"""

from __future__ import annotations

from enum import StrEnum


class ReferenceClassification(StrEnum):
    """照会区分: how the patient was identified."""

    MY_NUMBER_CARD = "1"  # マイナンバーカード
    INSURANCE_CARD = "2"  # 被保険者証情報


class SegmentOfResult(StrEnum):
    """処理結果区分 of a whole message."""

    COMPLETED = "1"  # 正常終了
    PROCESSING = "2"  # 処理中
    FAILED = "9"  # 異常終了


class ProcessingResultStatus(StrEnum):
    """処理結果状況 of one record."""

    OK = "1"  # 正常終了
    ERROR = "2"  # エラー


class CharacterCodeIdentifier(StrEnum):
    UTF8 = "0"
    SHIFT_JIS = "1"


class QualificationValidity(StrEnum):
    """資格有効性."""

    VALID = "1"  # 有効
    INVALID = "2"  # 無効
    INVALID_NEWER_EXISTS = "3"  # 無効（新しい資格あり）
    NOT_FOUND = "4"  # 該当資格なし
    MULTIPLE = "5"  # 複数該当


class Sex(StrEnum):
    MALE = "1"  # 男
    FEMALE = "2"  # 女
    UNSET = "3"  # 未設定


class PersonalFamilyClassification(StrEnum):
    """本人・家族の別."""

    INSURED = "1"  # 本人
    DEPENDENT = "2"  # 家族


class PreschoolClassification(StrEnum):
    PRESCHOOL = "1"  # 未就学該当


class InsuredCardClassification(StrEnum):
    """被保険者証区分."""

    GENERAL = "01"  # 被保険者証（一般）
    RETIRED = "02"  # 被保険者証（退職）
    SHORT_TERM_GENERAL = "03"  # 短期被保険者証（一般）
    SHORT_TERM_RETIRED = "04"  # 短期被保険者証（退職）
    QUALIFICATION_CERTIFICATE = "05"  # 被保険者資格証明書
    SPECIAL_RETIREMENT = "06"  # 特例退職被保険者証
    SELF_DEFENSE_FORCES = "07"  # 自衛官診療証


class ReasonOfLoss(StrEnum):
    """資格喪失事由."""

    DEATH = "01"  # 死亡
    PUBLIC_ASSISTANCE = "02"  # 生活保護受給開始
    OTHER_INSURANCE = "03"  # 医療保険等の資格取得
    OTHER = "99"  # その他


class ConsentFlag(StrEnum):
    """…ConsFlg for limit certification and the face-reader consents."""

    NOT_GIVEN = "0"  # 未同意
    GIVEN = "1"  # 同意


class LimitApplicationCertificateClassification(StrEnum):
    LIMIT = "01"  # 限度額適用認定証
    LIMIT_AND_MEAL = "02"  # 限度額適用・標準負担額減額認定証
    MEAL = "03"  # 標準負担額減額認定証


class LimitApplicationCertificateClassificationFlag(StrEnum):
    """適用区分."""

    A01 = "A01"  # ア
    A02 = "A02"  # イ
    A03 = "A03"  # ウ
    A04 = "A04"  # エ
    A05 = "A05"  # オ
    A06 = "A06"  # オ（境）
    B01 = "B01"  # 現役並みⅢ
    B02 = "B02"  # 現役並みⅡ
    B03 = "B03"  # 現役並みⅠ
    B04 = "B04"  # 一般
    B05 = "B05"  # 低所得Ⅱ
    B06 = "B06"  # 低所得Ⅰ
    B07 = "B07"  # 低所得Ⅰ（老福）
    B08 = "B08"  # 低所得Ⅰ（境）
    B09 = "B09"  # 一般Ⅱ
    B10 = "B10"  # 一般Ⅰ


class SpecificDiseasesCertificateRelatedConsFlg(StrEnum):
    NOT_GIVEN = "0"  # 同意なし
    GIVEN = "1"  # 同意あり
    EXPIRED = "2"  # 同意有効期限切れ


class SpecificDiseasesDiseaseCategory(StrEnum):
    """特定疾病区分."""

    DIALYSIS = "1"  # 人工透析を必要とする慢性腎不全
    HEMOPHILIA = "2"  # 先天性血液凝固因子障害
    HIV_FROM_BLOOD_PRODUCTS = "3"  # 血液凝固因子製剤の投与に起因するHIV感染症

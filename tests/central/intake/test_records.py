"""JSON Lines intake: drug, 診療情報 (diagnosis, operation), checkup, limit, specific-disease and
card links."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import threading
import time
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from onshi.central.errors import IntakeRejected
from onshi.central.intake import records_store
from onshi.central.intake.counts import ImportCounts
from onshi.central.intake.insured_store import import_insured
from onshi.central.intake.records_store import CARD_KEY, import_linked
from onshi.central.storage.database import Database

from .support import counts, csv_bytes, row

KEY = {
    "InsurerNumber": "01130012",
    "InsuredCardSymbol": "1234",
    "InsuredIdentificationNumber": "5001",
    "InsuredBranchNumber": "00",
}
OTHER = dict(KEY, InsuredIdentificationNumber="5002")

SAMPLES: dict[str, dict[str, Any]] = {
    "drug": {
        "DiDate": "20250401",
        "PrDate": "20250331",
        "DrugC": "2149044F1027",
        "DrugN": "アムロジピン錠5mg",
        "IngreN": "アムロジピンベシル酸塩",
        "Qua1": "1",
        "Unit": "錠",
        "UsageN": "1日1回朝食後",
        "Times": "28",
        "DiOrg": "2",
        "MeTrDiHCd": "1349900016",
        "MeTrDiHNm": "オンシ調剤薬局",
        "PrlsHCd": "1319900011",
        "PrlsHNm": "オンシ内科クリニック",
        "InOut": "2",
    },
    "diagnosis": {
        "DiDate": "20250401",
        "MeTrDiHCd": "1319900011",
        "MeTrDiHNm": "オンシ内科クリニック",
        "SinInfN": "ＣＴ撮影",
        "SinInfCd": "170033410",
        "MeTrIdCl": "70",
        "Qua1": "1",
        "Times": "1",
        "Unit": "回",
    },
    "operation": {
        "DiDate": "20250401",
        "SinInfN": "白内障手術（眼内レンズを挿入）（その他）",
        "SinInfCd": "150263410",
        "MeTrIdCl": "50",
    },
    "checkup": {
        "EffectiveTime": "20240610",
        "ItemCode": "9N001000000000001",
        "ItemName": "身長",
        "DataType": "PQ",
        "DataValue": "170.2",
        "Unit": "cm",
    },
    "limit": {
        "LimitApplicationCertificateClassification": "01",
        "LimitApplicationCertificateClassificationFlag": "A03",
        "LimitApplicationCertificateValidStartDate": "20250401",
        "LimitApplicationCertificateValidEndDate": "20260331",
    },
    "specific-disease": {
        "SpecificDiseasesDiseaseCategory": "1",
        "SpecificDiseasesValidStartDate": "20200101",
        "SpecificDiseasesSelfPay": 10000,
    },
}
TABLE = {
    "drug": "drug_dispensing",
    "checkup": "checkup_result",
    "diagnosis": "medical_treatment",
    "operation": "medical_treatment",
    "limit": "limit_application_certificate",
    "specific-disease": "specific_diseases_certificate",
    "cards": "card_link",
}

VARY: dict[str, dict[str, Any]] = {
    "drug": {"Times": "14"},
    "checkup": {"DataValue": "171.0"},
    "diagnosis": {"Times": "2"},
    "operation": {"DiDate": "20250402"},
    "limit": {"LimitApplicationCertificateValidEndDate": "20270331"},
    "specific-disease": {"SpecificDiseasesSelfPay": 20000},
}
BAD: dict[str, tuple[str, Any, str]] = {
    "drug": ("DiDate", "20250230", "calendar date"),
    "checkup": ("ItemCode", "", "is required"),
    "diagnosis": ("MeTrDiHCd", "13-1990001", "institution code"),
    "operation": ("SinInfN", "", "is required"),
    "limit": ("LimitApplicationCertificateClassificationFlag", "Z99", "code"),
    "specific-disease": ("SpecificDiseasesDiseaseCategory", "9", "code"),
}


def jsonl(*records: dict[str, Any] | str) -> io.BytesIO:
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in records]
    return io.BytesIO(("\n".join(lines) + "\n").encode())


@pytest.fixture
def people(database: Database) -> Database:
    import_insured(database, io.BytesIO(csv_bytes([row(1), row(2)])))
    return database


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_each_kind_imports_once(people: Database, kind: str) -> None:
    sample = SAMPLES[kind]
    second = sample | VARY[kind]
    data = jsonl(KEY | sample, OTHER | sample, KEY | second)
    assert import_linked(people, kind, data) == ImportCounts(inserted=3)
    data.seek(0)
    assert import_linked(people, kind, data) == ImportCounts(unchanged=3)
    assert counts(people)[TABLE[kind]] == 3


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_bad_lines_and_unknown_card_keys_reject_the_file(people: Database, kind: str) -> None:
    column, value, reason = BAD[kind]
    unknown = dict(KEY, InsuredIdentificationNumber="9999")
    data = jsonl(
        KEY | SAMPLES[kind],
        KEY | SAMPLES[kind] | {column: value},
        "",
        "{not json",
        unknown | SAMPLES[kind],
        KEY | SAMPLES[kind] | {"Colour": "red"},
        '["a list"]',
        OTHER | SAMPLES[kind],
    )
    with pytest.raises(IntakeRejected) as caught:
        import_linked(people, kind, data, chunk_size=2)
    found = [(p.line, p.column) for p in caught.value.problems]
    assert found == [(2, column), (4, "(record)"), (5, CARD_KEY), (6, "Colour"), (7, "(record)")]
    assert reason in caught.value.problems[0].reason
    assert counts(people)[TABLE[kind]] == 0


def test_diagnosis_and_operation_lines_keep_their_category(people: Database) -> None:
    import_linked(people, "diagnosis", jsonl(KEY | SAMPLES["diagnosis"]))
    # The same facts filed as an operation are another line (another consent opens them).
    import_linked(people, "operation", jsonl(KEY | SAMPLES["diagnosis"]))
    from sqlalchemy import select

    from onshi.central.storage import tables as t

    with people.sessions() as s:
        assert sorted(s.scalars(select(t.MedicalTreatment.category))) == ["diagnosis", "operation"]


@pytest.mark.parametrize(
    ("column", "value"), [("DiOrg", "3"), ("InOut", "0"), ("PrlsHCd", "13199000111")]
)
def test_drug_institution_codes_are_checked(people: Database, column: str, value: str) -> None:
    with pytest.raises(IntakeRejected) as caught:
        import_linked(people, "drug", jsonl(KEY | SAMPLES["drug"] | {column: value}))
    assert [(p.line, p.column) for p in caught.value.problems] == [(1, column)]


def test_drug_prescribed_after_dispensing_is_refused(people: Database) -> None:
    with pytest.raises(IntakeRejected) as caught:
        import_linked(people, "drug", jsonl(KEY | SAMPLES["drug"] | {"PrDate": "20250402"}))
    assert [(p.line, p.column) for p in caught.value.problems] == [(1, "DiDate")]


def test_non_utf8_line(people: Database) -> None:
    good = json.dumps(KEY | SAMPLES["drug"], ensure_ascii=False).encode()
    data = io.BytesIO(good + b"\n" + good.decode().encode("cp932") + b"\n")
    with pytest.raises(IntakeRejected) as caught:
        import_linked(people, "drug", data)
    assert [(p.line, "UTF-8" in p.reason) for p in caught.value.problems] == [(2, True)]


def _certificate(serial: int) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test JPKI user CA")])
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )


def test_cards_by_pem_or_by_identity(people: Database) -> None:
    pem = _certificate(0xABC).public_bytes(serialization.Encoding.PEM).decode()
    other = _certificate(0xDEF)
    digest = hashlib.sha256(other.public_bytes(serialization.Encoding.DER)).hexdigest()
    by_identity = {
        "issuer": other.issuer.rfc4514_string(),
        "serial": "0DEF",
        "certificate_digest": digest.upper(),
    }
    data = jsonl(KEY | {"certificate": pem}, OTHER | by_identity)
    assert import_linked(people, "cards", data) == ImportCounts(inserted=2)
    data.seek(0)
    assert import_linked(people, "cards", data) == ImportCounts(unchanged=2)
    # The same card for somebody else is refused, not silently kept or moved.
    with pytest.raises(IntakeRejected) as caught:
        import_linked(people, "cards", jsonl(OTHER | {"certificate": pem}))
    assert caught.value.problems[0].column == "certificate_digest"
    assert counts(people)["card_link"] == 2


def test_a_card_import_waits_for_one_in_progress(
    people: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two files linking one card to two persons at once: the second waits for the first to
    commit, then refuses the card. Reading before the first committed, it found no link, and
    its insert met the first's row: counted as already stored, the link silently not made."""
    pem = _certificate(0xABC).public_bytes(serialization.Encoding.PEM).decode()
    original = records_store.LinkedStore.write
    reached, go = threading.Event(), threading.Event()

    def paused(self: Any, chunk: Any, problems: Any) -> None:
        original(self, chunk, problems)
        if chunk and not reached.is_set():  # the first import: written, not committed yet
            reached.set()
            assert go.wait(30)

    monkeypatch.setattr(records_store.LinkedStore, "write", paused)
    results: dict[str, Any] = {}

    def run(name: str, record: dict[str, str]) -> None:
        try:
            results[name] = import_linked(people, "cards", jsonl(record | {"certificate": pem}))
        except Exception as exc:
            results[name] = exc

    first = threading.Thread(target=run, args=("first", KEY))
    first.start()
    assert reached.wait(30)
    second = threading.Thread(target=run, args=("second", OTHER))
    second.start()
    time.sleep(0.5)  # the second import gets as far as it can
    go.set()
    first.join(60)
    second.join(60)
    assert results["first"] == ImportCounts(inserted=1)
    assert isinstance(results["second"], IntakeRejected), results["second"]
    assert results["second"].problems[0].column == "certificate_digest"
    assert counts(people)["card_link"] == 1


def test_cards_refuse_bad_certificates(people: Database) -> None:
    with pytest.raises(IntakeRejected) as caught:
        import_linked(
            people,
            "cards",
            jsonl(
                KEY
                | {"certificate": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"},
                KEY | {"issuer": "CN=x", "serial": "xyz", "certificate_digest": "00"},
            ),
        )
    assert [(p.line, p.column) for p in caught.value.problems] == [
        (1, "certificate"),
        (2, "serial"),
        (2, "certificate_digest"),
    ]

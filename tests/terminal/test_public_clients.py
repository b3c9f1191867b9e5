"""Request files exactly as a public client writes them, answered end to end through a running
terminal agent against the central service, and read back the way the clients read them.

The fixtures (``fixtures/oqsdrug2``) are written as YUKI-ENT/OQSDrug2 writes its requests
(see the README there). The answers are read with XPath like OQSDrug2 (``//ResultCode``,
``//MessageContents``, ``/XmlMsg/MessageBody/MeTrMonthInf``…), face files are found with the
pattern a public C# client uses, and eligibility answers are checked against the strict code
lists of hangilc/myclinic-ts — all in this file's own code.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import delete

from onshi.central.services.clock import JST
from onshi.central.storage import tables as t
from onshi.terminal.agent import Agent
from tests.central import factories
from tests.stack import CentralStack, central_stack, running_agent, terminal_settings
from tests.terminal.oqs_files import bulk_upload_request, drop, eligibility_request, wait_for

FIXTURES = Path(__file__).parent / "fixtures" / "oqsdrug2"
CLINIC = "1311111111"
NOW = dt.datetime(2026, 12, 2, 14, 20, tzinfo=JST)  # the fixtures ask for 202606..202612
CONSENTED = NOW - dt.timedelta(hours=1)
OQSDRUG2_NAME = re.compile(r"(YZK|TKK)siquc01req_(0[1-4])(\d{6})(\d{4})(\d+)\.xml")
CLIENT_FACE_PATTERN = re.compile(r"\AOQSsiquc01res_face_.+_(\d{14})\.xml\Z")
DECLARATION = b'<?xml version="1.0" encoding="Shift_JIS" standalone="no"?>'
# myclinic-ts (packages/onshi-result/codes.ts) throws on any other value of these.
STRICT_CODES = {
    "SegmentOfResult": {"1", "2", "9"},
    "ReferenceClassification": {"1", "2"},
    "CharacterCodeIdentifier": {"0", "1"},
    "ProcessingResultStatus": {"1", "2"},
    "QualificationValidity": {"1", "2", "3", "4", "5"},
}
# What OQSDrug2 reads on each MeTrMonthInf (ProcessDrugInfoAsync2).
MONTH_FIELDS = (
    "MeTrMonth",
    "DiOrg",
    "MeTrDiHCd",
    "PrlsHCd",
    "MeTrDiHNm",
    "PrlsHNm",
    "PrIsOrg",
    "InOut",
)
PHARMACY = ("1349900016", "オンシ調剤薬局")


# -- the central data and the running terminal ----------------------------------------------


def _history(session: object, individual_id: int) -> None:
    drugs = (
        (dt.date(2026, 7, 10), "2149044F1027", "アムロジピン錠5mg", "2", PHARMACY, "2"),
        (
            dt.date(2026, 9, 15),
            "1149019F1560",
            "ロキソプロフェンNa錠60mg",
            "1",
            (CLINIC, "テスト診療所"),
            "1",
        ),
        (dt.date(2023, 1, 5), "1141007C1075", "カロナール細粒20%", "2", PHARMACY, "2"),
    )
    for day, code, name, origin, (where, where_name), in_out in drugs:
        session.add(  # type: ignore[attr-defined]
            t.DrugDispensing(
                individual_id=individual_id,
                DiDate=day,
                PrDate=day,
                DrugC=code,
                DrugN=name,
                Qua1="1",
                Unit="錠",
                UsageN="1日1回朝食後",
                Times="14",
                DiOrg=origin,
                MeTrDiHCd=where,
                MeTrDiHNm=where_name,
                PrlsHCd=CLINIC,
                PrlsHNm="テスト診療所",
                InOut=in_out,
                content_digest=f"{code}{day}".ljust(64, "0"),
            )
        )
    for category, name, kind in (
        ("diagnosis", "ＣＴ撮影（６４列以上のマルチスライス型の機器）", "70"),
        ("operation", "内視鏡的大腸ポリープ・粘膜切除術（長径２ｃｍ未満）", "50"),
    ):
        session.add(  # type: ignore[attr-defined]
            t.MedicalTreatment(
                individual_id=individual_id,
                category=category,
                DiDate=dt.date(2026, 9, 15),
                MeTrDiHCd=CLINIC,
                MeTrDiHNm="テスト診療所",
                SinInfN=name,
                SinInfCd="170033410" if kind == "70" else "150285010",
                MeTrIdCl=kind,
                Qua1="1",
                Times="1",
                Unit="回",
                content_digest=f"{category}".ljust(64, "0"),
            )
        )
    session.add(  # type: ignore[attr-defined]
        t.CheckupResult(
            individual_id=individual_id,
            EffectiveTime=dt.date(2026, 6, 20),
            ItemCode="9A751000000000001",
            ItemName="収縮期血圧(その他)",
            DataType="PQ",
            DataValue="128",
            Unit="mmHg",
            content_digest="checkup".ljust(64, "0"),
        )
    )


@pytest.fixture
def stack(sqlite_url: str, tmp_path: Path) -> Iterator[CentralStack]:
    s = central_stack(sqlite_url, tmp_path / "central")
    s.central.clock = lambda: NOW
    with s.central.db.transaction() as session:
        hanako = factories.qualification(
            session,
            InsuredCardSymbol="記号",
            InsuredIdentificationNumber="7001",
            Name="薬歴　花子",
            NameKana="ﾔｸﾚｷ ﾊﾅｺ",
            Sex1="2",
            Birthdate=dt.date(1958, 5, 20),
        )
        _history(session, hanako.individual_id)
        for kind in ("drug", "checkup", "diagnosis", "operation"):
            session.add(
                t.Consent(
                    individual_id=hanako.individual_id,
                    MedicalInstitutionCode=CLINIC,
                    kind=kind,
                    given_at=CONSENTED.replace(tzinfo=None),
                )
            )
        factories.qualification(session)  # 診療 太郎, no consents
    yield s
    s.close()


@pytest.fixture
def agent(stack: CentralStack, tmp_path: Path) -> Iterator[Agent]:
    with running_agent(terminal_settings(stack, tmp_path)) as a:
        yield a


def _withdraw(stack: CentralStack, *kinds: str) -> None:
    with stack.central.db.transaction() as session:
        session.execute(delete(t.Consent).where(t.Consent.kind.in_(kinds)))


def _send(agent: Agent, name: str) -> None:
    drop(agent.folders.req, name, (FIXTURES / name).read_bytes())


def _answer(agent: Agent, request: str, extension: str = ".xml") -> Path:
    """Where the client looks: the request's name with req→res (OQSDrug2: ``Replace("req", "res")``)."""
    return wait_for(agent.folders.res / request.replace("req", "res").replace(".xml", extension))


def _xml(path: Path) -> etree._Element:
    return etree.fromstring(path.read_bytes())


def _first(root: etree._Element, xpath: str) -> str | None:
    found = root.xpath(xpath)
    return found[0].text if found else None


def _oqsdrug2_drug_lines(root: etree._Element) -> list[dict[str, str]]:
    """Drug lines as OQSDrug2 reads them: month fields from MeTrMonthInf, then each DrugInf."""
    lines = []
    for month in root.xpath("/XmlMsg/MessageBody/MeTrMonthInf"):
        fields = {f: month.findtext(f) or "" for f in MONTH_FIELDS}
        for day in month.xpath("DiDateInfs/DiDateInf"):
            for drug in day.xpath("DrugInfs/DrugInf"):
                lines.append(
                    {**fields, "DiDate": day.findtext("DiDate"), "DrugC": drug.findtext("DrugC")}
                )
    return lines


def _oqsdrug2_treatments(root: etree._Element) -> list[dict[str, str]]:
    """診療情報 as OQSDrug2 reads it (ProcessSinryoInfoAsync): DiDateInf/MeTrInfs/MeTrInf."""
    return [
        {
            f: info.findtext(f) or ""
            for f in ("SinInfN", "SinInfCd", "MeTrIdCl", "Qua1", "Times", "Unit")
        }
        | {"DiDate": info.getparent().getparent().findtext("DiDate")}
        for info in root.xpath(
            "/XmlMsg/MessageBody/MeTrMonthInf/DiDateInfs/DiDateInf/MeTrInfs/MeTrInf"
        )
    ]


def _pdf_text(path: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout


# -- the fixtures are what the client writes -------------------------------------------------


def test_fixtures_are_written_as_dotnet_xmlwriter_writes_them() -> None:
    files = sorted(FIXTURES.glob("*.xml"))
    assert len(files) == 10
    for path in files:
        data = path.read_bytes()
        assert data.startswith(DECLARATION), path.name  # no BOM, the client's own declaration
        assert not data.endswith(b"\n"), path.name  # no final newline
        body = data[len(DECLARATION) :].lstrip(b"\r\n")
        assert b"\n" not in body.replace(b"\r\n", b""), path.name  # CRLF only
        assert b"\r\n  <MessageHeader>\r\n    <MedicalInstitutionCode>" in body, path.name
        data.decode("cp932")
        match = OQSDRUG2_NAME.fullmatch(path.name)
        if match:
            assert b"<BranchNumber />" in data
            assert f"<FileCategory>{int(match[2])}</FileCategory>".encode() in data


# -- drug information and checkups -------------------------------------------------------------


def test_drug_xml_by_month_is_read_as_oqsdrug2_reads_it(agent: Agent) -> None:
    name = "YZKsiquc01req_022612021415123450.xml"
    _send(agent, name)
    root = _xml(_answer(agent, name))
    assert _first(root, "//ResultCode") == "1"
    assert _first(root, "/XmlMsg/MessageHeader/QuaInf/Name") == "薬歴　花子"
    assert _first(root, "/XmlMsg/MessageHeader/QuaInf/Birth") == "19580520"
    # StartDate 202606 is 1 June, EndDate 202612 the last day of December: 2023 is left out.
    assert (_first(root, "//StartDate"), _first(root, "//EndDate")) == ("20260601", "20261202")
    lines = _oqsdrug2_drug_lines(root)
    assert [(line["DiDate"], line["DrugC"]) for line in lines] == [
        ("20260710", "2149044F1027"),
        ("20260915", "1149019F1560"),
    ]
    by_pharmacy, in_house = lines
    assert by_pharmacy | {} == {
        "MeTrMonth": "202607",
        "DiOrg": "2",
        "MeTrDiHCd": PHARMACY[0],
        "PrlsHCd": CLINIC,
        "MeTrDiHNm": PHARMACY[1],
        "PrlsHNm": "テスト診療所",
        "PrIsOrg": "1",  # prescribed here
        "InOut": "2",
        "DiDate": "20260710",
        "DrugC": "2149044F1027",
    }
    assert (in_house["MeTrDiHCd"], in_house["InOut"], in_house["DiOrg"]) == (CLINIC, "1", "1")
    assert not _oqsdrug2_treatments(root)  # FileCategory 2: drugs only
    assert not list(agent.folders.res.glob("*.err"))


def test_category_4_adds_diagnoses_and_operations(agent: Agent) -> None:
    name = "YZKsiquc01req_042612021415123450.xml"
    _send(agent, name)
    root = _xml(_answer(agent, name))
    assert _first(root, "//ResultCode") == "1"
    assert len(_oqsdrug2_drug_lines(root)) == 2
    treatments = _oqsdrug2_treatments(root)
    assert [(x["DiDate"], x["MeTrIdCl"]) for x in treatments] == [
        ("20260915", "70"),
        ("20260915", "50"),
    ]
    assert treatments[1]["SinInfN"].startswith("内視鏡的大腸ポリープ")
    assert _first(root, "//MessageContents") is None


def test_operations_need_their_own_consent(agent: Agent, stack: CentralStack) -> None:
    _withdraw(stack, "operation")
    name = "YZKsiquc01req_042612021415123450.xml"
    _send(agent, name)
    root = _xml(_answer(agent, name))
    assert _first(root, "//ResultCode") == "1"
    assert [x["MeTrIdCl"] for x in _oqsdrug2_treatments(root)] == ["70"]
    assert "手術情報" in (_first(root, "//MessageContents") or "")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("YZKsiquc01req_012612021415123450.xml", ("薬歴", "アムロジピン")),
        ("YZKsiquc01req_032612021415123450.xml", ("薬歴", "内視鏡的大腸ポリープ")),
        ("TKKsiquc01req_012612021415123450.xml", ("薬歴", "収縮期血圧")),
    ],
)
def test_pdf_categories_get_a_pdf(agent: Agent, name: str, expected: tuple[str, ...]) -> None:
    _send(agent, name)
    pdf = _answer(agent, name, ".pdf")
    time.sleep(0.05)
    assert pdf.read_bytes().startswith(b"%PDF-")
    assert not (agent.folders.res / pdf.name.replace(".pdf", ".xml")).exists()
    words = _pdf_text(pdf)
    for word in expected:
        assert word in words, (word, words[:500])


def test_checkup_xml(agent: Agent) -> None:
    name = "TKKsiquc01req_022612021415123450.xml"
    _send(agent, name)
    root = _xml(_answer(agent, name))
    assert _first(root, "//ResultCode") == "1"
    assert _first(root, "/XmlMsg/MessageHeader/QualificationsInfo/KanasName") == "ﾔｸﾚｷ ﾊﾅｺ"
    assert (
        root.xpath("//HealthCheckupResultAndQuestionInfo/ItemCode")[0].text == "9A751000000000001"
    )


# -- refusals are answered in kind -------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "withdrawn", "words"),
    [
        ("YZKsiquc01req_022612021415123450.xml", ("drug",), "薬剤情報の提供に患者さんの同意"),
        (
            "TKKsiquc01req_022612021415123450.xml",
            ("checkup",),
            "特定健診情報の提供に患者さんの同意",
        ),
        ("YZKsiquc01req_012612021415123450.xml", ("drug",), "同意"),  # a PDF asked, refused in XML
        ("YZKsiquc01req_022612021416999990.xml", (), "被保険者が見つかりません"),
    ],
)
def test_refusals_are_answered_in_kind(
    agent: Agent, stack: CentralStack, name: str, withdrawn: tuple[str, ...], words: str
) -> None:
    _withdraw(stack, *withdrawn)
    _send(agent, name)
    root = _xml(_answer(agent, name))
    assert _first(root, "//ResultCode") not in (None, "1")
    assert words in (_first(root, "//MessageContents") or "")
    assert not list(agent.folders.res.glob("*.err"))


def test_an_unreadable_file_still_gets_an_err(agent: Agent) -> None:
    drop(agent.folders.req, "YZKsiquc01req_broken.xml", DECLARATION + b"\r\n<XmlMsg><Message")
    wait_for(agent.folders.res / "YZKsiquc01req_broken.err")
    assert not (agent.folders.res / "YZKsiquc01res_broken.xml").exists()


# -- eligibility and bulk answers ---------------------------------------------------------------


def _strict(root: etree._Element) -> None:
    """What myclinic-ts's parser refuses: a code outside its lists, a required field missing."""
    for name, allowed in STRICT_CODES.items():
        for element in root.iter(name):
            assert element.text in allowed, (name, element.text)
    for required in ("ProcessExecutionTime", "QualificationConfirmationDate", "SegmentOfResult"):
        assert root.find(f"MessageHeader/{required}") is not None, required
    assert root.find("MessageBody/ProcessingResultStatus") is not None


def test_eligibility_answers_carry_qualification_dates(agent: Agent) -> None:
    drop(agent.folders.req, "OQSsiquc01req_taro.xml", eligibility_request())
    root = _xml(wait_for(agent.folders.res / "OQSsiquc01res_taro.xml"))
    _strict(root)
    assert _first(root, "//ResultOfQualificationConfirmation/QualificationDate") == "20200401"


def test_an_eligibility_request_for_another_facility_is_answered_with_status_2(
    agent: Agent,
) -> None:
    drop(agent.folders.req, "OQSsiquc01req_other.xml", eligibility_request(facility="1311112222"))
    root = _xml(wait_for(agent.folders.res / "OQSsiquc01res_other.xml"))
    _strict(root)
    assert _first(root, "//ProcessingResultStatus") == "2"
    assert _first(root, "//ProcessingResultCode") == "OQS_WRONG_FACILITY"
    assert "医療機関コード" in (_first(root, "//ProcessingResultMessage") or "")


def test_bulk_upload_answer_has_segment_and_status(agent: Agent) -> None:
    drop(agent.folders.req, "OQSmuquc01req_1.xml", bulk_upload_request(2))
    root = _xml(wait_for(agent.folders.res / "OQSmuquc01res_1.xml"))
    # As OQSDrug2's ReadUploadResultAsync reads it.
    assert _first(root, "//SegmentOfResult") == "1"
    assert _first(root, "//ProcessingResultStatus") == "1"
    assert _first(root, "//ReceptionNumber")


def _download_request(reception: str) -> bytes:
    """OQSmu…02req as OQSDrug2's CreateDownloadRequestAsync writes it."""
    return (
        DECLARATION
        + b"\r\n<XmlMsg>\r\n  <MessageHeader>\r\n"
        + f"    <MedicalInstitutionCode>{CLINIC}</MedicalInstitutionCode>\r\n".encode()
        + b"  </MessageHeader>\r\n  <MessageBody>\r\n"
        + f"    <ReceptionNumber>{reception}</ReceptionNumber>\r\n".encode()
        + b"  </MessageBody>\r\n</XmlMsg>"
    )


@pytest.mark.parametrize(
    ("upload", "consents_reported"),
    [
        ("OQSmuonq01req_202612020001.xml", True),
        ("OQSmuhvq01req_202612020002.xml", True),
        ("OQSmutic01req_202612020003.xml", False),
    ],
)
def test_bulk_flows_by_period(agent: Agent, upload: str, consents_reported: bool) -> None:
    _send(agent, upload)
    receipt = _xml(_answer(agent, upload))
    assert (_first(receipt, "//SegmentOfResult"), _first(receipt, "//ProcessingResultStatus")) == (
        "1",
        "1",
    )
    reception = _first(receipt, "//ReceptionNumber")
    assert reception
    prefix = upload[:8]
    for attempt in range(50):
        download = f"{prefix}02req_2026120210{attempt:02d}.xml"
        drop(agent.folders.req, download, _download_request(reception))
        result = _xml(_answer(agent, download))
        if _first(result, "//SegmentOfResult") == "1":
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the bulk result never completed")
    units = result.xpath("/XmlMsg/MessageBody/BulkConfirmUnit")
    # Only 薬歴 花子 consented at this clinic in the period; 診療 太郎 did not.
    assert len(units) == 1
    person = units[0].xpath(".//*[local-name()='ResultOfQualificationConfirmation']")[0]
    assert person.findtext("Name") == "薬歴　花子"
    assert person.findtext("QualificationDate") == "20200401"
    if consents_reported:
        for prefix_ in ("PharmacistsInfo", "DiagnosisInfo", "OperationInfo"):
            assert person.findtext(f"{prefix_}ConsFlg") == "1"
            assert person.findtext(f"{prefix_}ConsTime") == CONSENTED.strftime("%Y%m%d%H%M%S")
            assert person.findtext(f"{prefix_}AvailableTime") == (
                CONSENTED + dt.timedelta(hours=24)
            ).strftime("%Y%m%d%H%M%S")
    else:
        assert person.findtext("PharmacistsInfoConsFlg") is None


def test_an_unknown_reception_is_answered_with_segment_9(agent: Agent) -> None:
    drop(agent.folders.req, "OQSmuonq02req_x.xml", _download_request("20261202000000ABCDEF"))
    root = _xml(wait_for(agent.folders.res / "OQSmuonq02res_x.xml"))
    assert _first(root, "//SegmentOfResult") == "9"
    assert _first(root, "//ErrorCode") == "RECEPTION_NOT_FOUND"
    assert "受付番号" in (_first(root, "//ErrorMessage") or "")


# -- face files ---------------------------------------------------------------------------------


def test_face_file_is_found_by_clients_and_reports_every_consent(
    sqlite_url: str, tmp_path: Path
) -> None:
    """A card at the reader with the diagnosis and operation consents: the face file's name
    matches the client's pattern, and every consent given has its …ConsTime/…AvailableTime."""
    from onshi.central.domain.qualification import CardKey
    from onshi.pki import CertificateAuthority
    from onshi.reader import HttpTerminal, VirtualCard, present_card
    from onshi.terminal.reception import ReceptionServer

    s = central_stack(sqlite_url, tmp_path / "central")  # the real clock: the card is new
    try:
        with s.central.db.transaction() as session:
            factories.qualification(session)
        jpki = CertificateAuthority.load(s.settings.jpki_ca_dir)
        issued = jpki.issue_card_certificate()
        s.central.link_card(CardKey("06139999", "12-34", "4260", "00"), issued.certificate)
        card = VirtualCard.create(
            tmp_path / "taro.p12", issued, "1234", ca_certificate=jpki.certificate
        )
        with (
            running_agent(terminal_settings(s, tmp_path)) as agent,
            ReceptionServer(agent) as screen,
            HttpTerminal(screen.url) as port,
        ):
            summary = present_card(
                card.path, port, method="face", consents="drug,diagnosis,operation"
            )
            [face] = list(agent.folders.face.iterdir())
    finally:
        s.close()
    assert face.name == summary["face_file"]
    match = CLIENT_FACE_PATTERN.match(face.name)
    assert match is not None
    root = _xml(face)
    _strict(root)
    written = dt.datetime.strptime(match[1], "%Y%m%d%H%M%S")
    answered = dt.datetime.strptime(_first(root, "//ProcessExecutionTime") or "", "%Y%m%d%H%M%S")
    assert abs((written - answered).total_seconds()) < 60
    person = root.xpath("//ResultOfQualificationConfirmation")[0]
    assert person.findtext("QualificationDate") == "20200401"
    for prefix, given in (
        ("PharmacistsInfo", True),
        ("DiagnosisInfo", True),
        ("OperationInfo", True),
        ("SpecificHealthCheckupsInfo", False),
    ):
        assert person.findtext(f"{prefix}ConsFlg") == ("1" if given else "0")
        if given:
            since = dt.datetime.strptime(person.findtext(f"{prefix}ConsTime") or "", "%Y%m%d%H%M%S")
            until = dt.datetime.strptime(
                person.findtext(f"{prefix}AvailableTime") or "", "%Y%m%d%H%M%S"
            )
            assert until - since == dt.timedelta(hours=24)
        else:
            assert person.find(f"{prefix}ConsTime") is None

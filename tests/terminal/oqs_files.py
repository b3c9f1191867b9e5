"""Request files as billing software writes them, and reading the answers back."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET  # parsing our own trusted output only
from pathlib import Path

CLINIC = "1311111111"


def eligibility_request(
    *,
    number: str = "4260",
    birthdate: str = "19800401",
    date: str = "20261123",
    facility: str = CLINIC,
    encoding: str = "UTF-8",
    identifier: str = "X1",
) -> bytes:
    text = (
        f'<?xml version="1.0" encoding="{encoding}" standalone="no"?>\n'
        "<XmlMsg><MessageHeader>"
        f"<QualificationConfirmationDate>{date}</QualificationConfirmationDate>"
        f"<MedicalInstitutionCode>{facility}</MedicalInstitutionCode>"
        f"<ArbitraryFileIdentifier>{identifier}</ArbitraryFileIdentifier>"
        "</MessageHeader><MessageBody><QualificationConfirmSearchInfo>"
        "<InsurerNumber>06139999</InsurerNumber><InsuredCardSymbol>12-34</InsuredCardSymbol>"
        f"<InsuredIdentificationNumber>{number}</InsuredIdentificationNumber>"
        "<InsuredBranchNumber>00</InsuredBranchNumber>"
        f"<Birthdate>{birthdate}</Birthdate>"
        "<LimitApplicationCertificateRelatedConsFlg>0</LimitApplicationCertificateRelatedConsFlg>"
        "</QualificationConfirmSearchInfo></MessageBody></XmlMsg>"
    )
    return text.encode("cp932" if encoding.lower() in ("shift_jis", "cp932") else "utf-8")


def bulk_upload_request(count: int, *, date: str = "20261123", facility: str = CLINIC) -> bytes:
    records = "".join(
        "<QualificationConfirmSearchInfo>"
        "<InsurerNumber>06139999</InsurerNumber><InsuredCardSymbol>12-34</InsuredCardSymbol>"
        "<InsuredIdentificationNumber>4260</InsuredIdentificationNumber>"
        "<InsuredBranchNumber>00</InsuredBranchNumber><Birthdate>19800401</Birthdate>"
        f"<ArbitraryIdentifier>R{i}</ArbitraryIdentifier>"
        "</QualificationConfirmSearchInfo>"
        for i in range(count)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<XmlMsg><MessageHeader>'
        f"<QualificationConfirmationDate>{date}</QualificationConfirmationDate>"
        f"<MedicalInstitutionCode>{facility}</MedicalInstitutionCode>"
        f"</MessageHeader><MessageBody>{records}</MessageBody></XmlMsg>"
    ).encode()


def bulk_download_request(reception: str, *, facility: str = CLINIC) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<XmlMsg><MessageHeader>'
        f"<MedicalInstitutionCode>{facility}</MedicalInstitutionCode></MessageHeader>"
        f"<MessageBody><ReceptionNumber>{reception}</ReceptionNumber></MessageBody></XmlMsg>"
    ).encode()


def drop(folder: Path, name: str, data: bytes) -> None:
    """Write a request the way careful clients do: a temporary name, then a rename into req."""
    tmp = folder / f"~{name}.part"
    tmp.write_bytes(data)
    tmp.rename(folder / name)


def wait_for(path: Path, timeout: float = 15.0) -> Path:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"{path.name} did not appear within {timeout} s")
        time.sleep(0.01)
    return path


def read(path: Path) -> ET.Element:
    data = path.read_bytes()
    if b'encoding="Shift_JIS"' in data[:100]:
        # ElementTree reads no multi-byte encoding: decode, then parse without the declaration.
        return ET.fromstring(data.decode("cp932").split("?>", 1)[1])
    return ET.fromstring(data)


def text(root: ET.Element, path: str) -> str | None:
    found = root.find(path)
    return found.text if found is not None else None

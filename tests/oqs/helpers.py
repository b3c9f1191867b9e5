"""Writing request files the way real clients do, for the tests."""

from __future__ import annotations

from xml.sax.saxutils import escape

from onshi.oqs.messages import Encoding


def element(name: str, value: str | None) -> str:
    return "" if value is None else f"<{name}>{escape(value)}</{name}>"


def document(body: str, encoding: Encoding = Encoding.UTF8, *, bom: bool = False) -> bytes:
    text = f'<?xml version="1.0" encoding="{encoding.value}" standalone="no"?>\r\n{body}'
    data = text.encode(encoding.codec)
    return (b"\xef\xbb\xbf" + data) if bom else data


SEARCH = (
    "<QualificationConfirmSearchInfo>"
    "<InsurerNumber>  123456</InsurerNumber>"
    "<InsuredCardSymbol>12-34</InsuredCardSymbol>"
    "<InsuredIdentificationNumber>4260</InsuredIdentificationNumber>"
    "<InsuredBranchNumber>01</InsuredBranchNumber>"
    "<Birthdate>20010327</Birthdate>"
    "<LimitApplicationCertificateRelatedConsFlg>1</LimitApplicationCertificateRelatedConsFlg>"
    "</QualificationConfirmSearchInfo>"
)

HEADER = (
    "<MessageHeader>"
    "<QualificationConfirmationDate>20240501</QualificationConfirmationDate>"
    "<MedicalInstitutionCode>1311111111</MedicalInstitutionCode>"
    "<ArbitraryFileIdentifier>req-1</ArbitraryFileIdentifier>"
    "</MessageHeader>"
)


def eligibility(header: str = HEADER, search: str = SEARCH) -> str:
    return f"<XmlMsg>{header}<MessageBody>{search}</MessageBody></XmlMsg>"


def history(body: str, *, branch: str = "<BranchNumber />") -> str:
    """As YUKI-ENT/OQSDrug2 writes YZK/TKK requests (.NET XmlWriter: empty elements self-closed)."""
    return (
        "<XmlMsg><MessageHeader>"
        "<MedicalInstitutionCode>1311111111</MedicalInstitutionCode>"
        "<InsurerNumber>06123456</InsurerNumber>"
        "<InsuranceCardSymbol>記号</InsuranceCardSymbol>"
        "<InsuredPersonIdentificationNumber>1234</InsuredPersonIdentificationNumber>"
        f"{branch}"
        "<ArbitraryFileIdentifier>00240501120012345</ArbitraryFileIdentifier>"
        f"</MessageHeader><MessageBody>{body}</MessageBody></XmlMsg>"
    )

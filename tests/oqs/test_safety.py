"""Hostile XML: each attack is refused with its own code, reading nothing else, fetching nothing."""

import socket

import pytest

from onshi.oqs.messages import MAX_BYTES, OqsMessageError, parse_request
from tests.oqs.helpers import eligibility

NAME = "OQSsiquc01req_X.xml"


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the parser tried to use the network")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def code_of(data: bytes) -> str:
    with pytest.raises(OqsMessageError) as caught:
        parse_request(data, NAME)
    assert "root:" not in caught.value.message  # never the content of /etc/passwd
    return caught.value.code


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE XmlMsg [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol9 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
]>
<XmlMsg>&lol9;</XmlMsg>"""


def test_billion_laughs() -> None:
    assert code_of(BILLION_LAUGHS) == "OQS_FORBIDDEN_XML"


def test_quadratic_blowup() -> None:
    big = "A" * 100_000
    data = (
        f'<?xml version="1.0"?><!DOCTYPE XmlMsg [<!ENTITY a "{big}">]>'
        f"<XmlMsg>{'&a;' * 10_000}</XmlMsg>"
    ).encode()
    assert code_of(data) == "OQS_FORBIDDEN_XML"


def test_external_entity_to_etc_passwd() -> None:
    data = (
        b'<?xml version="1.0"?><!DOCTYPE XmlMsg [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        b"<XmlMsg><MessageHeader><MedicalInstitutionCode>&xxe;</MedicalInstitutionCode>"
        b"</MessageHeader></XmlMsg>"
    )
    assert code_of(data) == "OQS_FORBIDDEN_XML"


def test_external_dtd_over_the_network() -> None:
    data = b'<?xml version="1.0"?><!DOCTYPE XmlMsg SYSTEM "http://example.invalid/x.dtd"><XmlMsg/>'
    assert code_of(data) == "OQS_FORBIDDEN_XML"


def test_parameter_entity() -> None:
    data = (
        b'<?xml version="1.0"?><!DOCTYPE XmlMsg [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>'
        b"<XmlMsg/>"
    )
    assert code_of(data) == "OQS_FORBIDDEN_XML"


def test_any_doctype_even_harmless() -> None:
    assert code_of(b"<!DOCTYPE XmlMsg><XmlMsg/>") == "OQS_FORBIDDEN_XML"


def test_xinclude() -> None:
    data = (
        b'<XmlMsg xmlns:xi="http://www.w3.org/2001/XInclude">'
        b'<xi:include href="file:///etc/passwd" parse="text"/></XmlMsg>'
    )
    assert code_of(data) == "OQS_FORBIDDEN_XML"


def test_deep_nesting() -> None:
    depth = 100_000
    data = b"<XmlMsg>" + b"<a>" * depth + b"</a>" * depth + b"</XmlMsg>"
    assert code_of(data) == "OQS_TOO_DEEP"


def test_huge_attribute() -> None:
    data = b'<XmlMsg a="' + b"x" * 2_000_000 + b'"/>'
    assert code_of(data) == "OQS_TOO_LARGE"


def test_file_above_the_size_cap_is_not_parsed() -> None:
    data = b'<XmlMsg a="' + b"x" * MAX_BYTES + b'"/>'
    assert code_of(data) == "OQS_TOO_LARGE"


def test_too_many_elements() -> None:
    data = b"<XmlMsg>" + b"<a/>" * 250_000 + b"</XmlMsg>"
    assert code_of(data) == "OQS_TOO_LARGE"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"<XmlMsg>",
        b"<XmlMsg></xmlmsg>",
        b"not xml at all",
        b"<XmlMsg>\xff\xfe</XmlMsg>",  # not UTF-8
    ],
)
def test_malformed(data: bytes) -> None:
    assert code_of(data) == "OQS_MALFORMED_XML"


def test_wrong_root() -> None:
    assert code_of(b"<Envelope><MessageHeader/></Envelope>") == "OQS_WRONG_ROOT"


def test_unsupported_encoding() -> None:
    data = '<?xml version="1.0" encoding="EUC-JP"?><XmlMsg/>'.encode("euc_jp")
    assert code_of(data) == "OQS_ENCODING"


def test_attribute_or_namespace_is_a_schema_error() -> None:
    assert code_of(eligibility().replace("<XmlMsg>", '<XmlMsg a="1">').encode()) == "OQS_SCHEMA"
    namespaced = eligibility().replace("<XmlMsg>", '<XmlMsg xmlns="urn:x">').encode()
    assert code_of(namespaced) == "OQS_WRONG_ROOT"

"""Reading untrusted XML without reading other files, using the network or exhausting memory.

Layers, in order: a byte cap before anything is parsed; decoding by the declared encoding (ours,
so the parser only ever sees UTF-8); expat through defusedxml with DTDs, entities and external
references forbidden (any DOCTYPE is refused before its first declaration is read); then, while
the parser streams, caps on nesting depth, element count and attribute size, and a refusal of
XInclude. Python's ElementTree never processes XInclude or fetches anything by itself.
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import defusedxml
import defusedxml.ElementTree as DET

from onshi.oqs.messages.encoding import Encoding, decode
from onshi.oqs.messages.errors import ForbiddenXml, MalformedXml, TooDeep, TooLarge, WrongRoot

MAX_BYTES = 16 * 1024 * 1024  # a 10,000-record bulk request is about 4 MiB
MAX_DEPTH = 16  # the deepest message (drug result) nests 8 levels
MAX_ELEMENTS = 200_000  # a full bulk request has about 90,000
MAX_ATTRIBUTE = 1024  # OQS messages carry no attributes at all

XINCLUDE = "{http://www.w3.org/2001/XInclude}"


@dataclass(frozen=True, slots=True)
class Limits:
    max_bytes: int = MAX_BYTES
    max_depth: int = MAX_DEPTH
    max_elements: int = MAX_ELEMENTS


REQUEST_LIMITS = Limits()
# onshi's own output, parsed back to check it: trusted, but a result may be large.
OWN_OUTPUT_LIMITS = Limits(max_bytes=1 << 30, max_elements=1 << 30)


def parse(data: bytes, limits: Limits = REQUEST_LIMITS) -> tuple[ET.Element, Encoding]:
    """The root element (which must be ``XmlMsg``) and the encoding the document was written in."""
    if len(data) > limits.max_bytes:
        raise TooLarge(f"the file has {len(data)} bytes; at most {limits.max_bytes} are read")
    text, encoding = decode(data)
    source = io.BytesIO(text.encode("utf-8"))
    depth = elements = 0
    root: ET.Element | None = None
    try:
        for event, elem in DET.iterparse(
            source,
            events=("start", "end"),
            forbid_dtd=True,
            forbid_entities=True,
            forbid_external=True,
        ):
            if event == "end":
                depth -= 1
                continue
            depth += 1
            elements += 1
            if root is None:
                root = elem
            if depth > limits.max_depth:
                raise TooDeep(f"elements nest deeper than {limits.max_depth} levels")
            if elements > limits.max_elements:
                raise TooLarge(f"the file has more than {limits.max_elements} elements")
            if elem.tag.startswith(XINCLUDE):
                raise ForbiddenXml("XInclude is not allowed in OQS messages")
            for name, value in elem.attrib.items():
                if len(value) > MAX_ATTRIBUTE:
                    raise TooLarge(
                        f"attribute {name!r} of {_local(elem.tag)} has {len(value)} characters"
                    )
    except defusedxml.DTDForbidden:
        raise ForbiddenXml("a DOCTYPE (DTD) is not allowed in OQS messages") from None
    except defusedxml.EntitiesForbidden:
        raise ForbiddenXml("entity declarations are not allowed in OQS messages") from None
    except defusedxml.ExternalReferenceForbidden:
        raise ForbiddenXml("external references are not allowed in OQS messages") from None
    except ET.ParseError as exc:
        raise MalformedXml(f"not well-formed XML: {exc}") from None
    if root is None:  # pragma: no cover - expat reports an empty document as a ParseError
        raise MalformedXml("the file holds no XML element")
    if root.tag != "XmlMsg":
        raise WrongRoot(f"the root element is {_local(root.tag)}; OQS messages have XmlMsg")
    return root, encoding


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]

"""The XML Schemas (XSD 1.0) of every message onshi reads or writes, loaded once from the package."""

from __future__ import annotations

import functools
import threading
import xml.etree.ElementTree as ET
from importlib import resources

import xmlschema
from lxml import etree
from xmlschema.validators import XsdAtomic, XsdFacet

from onshi.oqs.messages.errors import InvalidValue, OqsMessageError, SchemaViolation

# Values never repeated in error messages (they end up in .err files and logs).
PERSONAL_ELEMENTS = frozenset(
    {
        "InsuredCardSymbol",
        "InsuredIdentificationNumber",
        "InsuredBranchNumber",
        "InsuranceCardSymbol",
        "InsuredPersonIdentificationNumber",
        "BranchNumber",
        "Birthdate",
        "Name",
        "NameKana",
        "InsuredName",
        "Address",
    }
)

SCHEMA_NAMES = frozenset(
    {
        "OQSsiquc01req",
        "OQSsiquc01res",
        "OQSmuquc01req",
        "OQSmuquc01res",
        "OQSmuquc02req",
        "OQSmuquc02res",
        "YZKsiquc01req",
        "YZKsiquc01res",
        "TKKsiquc01req",
        "TKKsiquc01res",
        *(
            f"{flow}{n}{way}"
            for flow in ("OQSmuonq", "OQSmuhvq", "OQSmutic")
            for n in ("01", "02")
            for way in ("req", "res")
        ),
        "face",
        "err",
    }
)


@functools.cache
def schema_for(name: str) -> xmlschema.XMLSchema:
    """The schema of message ``name`` (``"OQSsiquc01req"``, ``"face"``, ``"err"``…)."""
    if name not in SCHEMA_NAMES:
        raise KeyError(f"no OQS schema named {name!r}; known: {', '.join(sorted(SCHEMA_NAMES))}")
    path = resources.files("onshi.oqs.messages") / "schemas" / f"{name}.xsd"
    with resources.as_file(path) as file:
        # Only our own files are read: the schemas import nothing remote.
        return xmlschema.XMLSchema(str(file), allow="local", defuse="always")


_fast_schemas: dict[str, etree.XMLSchema] = {}
# libxml2 builds a schema (with its xs:include) through global state: two threads building at
# once can fail with XMLSchemaParseError, as the terminal's workers did on their first requests.
_building = threading.Lock()


def _fast_schema(name: str) -> etree.XMLSchema:
    schema = _fast_schemas.get(name)
    if schema is None:
        with _building:
            schema = _fast_schemas.get(name)
            if schema is None:
                path = resources.files("onshi.oqs.messages") / "schemas" / f"{name}.xsd"
                with resources.as_file(path) as file:
                    schema = etree.XMLSchema(etree.parse(str(file), _own_files()))
                _fast_schemas[name] = schema
    return schema


_parsers = threading.local()


def _own_files() -> etree.XMLParser:
    """Only onshi's own schema files and documents it has already parsed safely pass through
    this parser; one per thread, as lxml parsers are not to be shared between threads."""
    parser: etree.XMLParser | None = getattr(_parsers, "parser", None)
    if parser is None:
        parser = etree.XMLParser(
            resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True
        )
        _parsers.parser = parser
    return parser


def is_valid(name: str, data: bytes, codec: str = "utf-8") -> bool:
    """libxml2's yes/no for a document onshi wrote itself (no need to parse it defensively).

    libxml2's Shift_JIS lacks cp932's extensions (①, ㈱…), so other encodings are handed to it
    as UTF-8 text without their declaration.
    """
    if codec != "utf-8":
        data = data.decode(codec).split("?>", 1)[1].encode("utf-8")
    return bool(_fast_schema(name).validate(etree.fromstring(data, _own_files())))


def validate(name: str, root: ET.Element) -> None:
    """Raise :class:`InvalidValue` for a bad value, :class:`SchemaViolation` for a bad structure.

    libxml2 answers "valid or not" in C, fast enough for a 10,000-record bulk result; only an
    invalid document goes through xmlschema, whose errors name the element and the rule.
    """
    document = etree.fromstring(ET.tostring(root), _own_files())
    if _fast_schema(name).validate(document):
        return
    error = next(iter(schema_for(name).iter_errors(root)), None)
    if error is None:
        return
    raise _translate(error)


def _translate(error: xmlschema.XMLSchemaValidationError) -> OqsMessageError:
    elem = error.elem
    element = _local(elem.tag) if elem is not None and isinstance(elem.tag, str) else "XmlMsg"
    path = error.path or element
    reason = (error.reason or "does not match the schema").strip()
    if isinstance(error.validator, XsdFacet | XsdAtomic):
        value = (elem.text or "") if elem is not None else ""
        shown = "the value" if element in PERSONAL_ELEMENTS else repr(value)
        return InvalidValue(element, f"{shown} is not allowed here ({reason}) at {path}")
    return SchemaViolation(f"{path}: {reason}", element=element)


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]

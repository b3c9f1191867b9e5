"""Why an OQS message could not be read or written, as one exception tree with stable codes.

::

    OqsMessageError                 .code (stable, e.g. "OQS_SCHEMA") and .message (for a person)
    ├── UnknownMessage              OQS_UNKNOWN_MESSAGE   the file name is no request onshi knows
    ├── UnsafeXml                   (a hostile or oversized document; never parsed further)
    │   ├── TooLarge                OQS_TOO_LARGE         more than MAX_BYTES (checked before parsing),
    │   │                                                 MAX_ELEMENTS elements, or a 1 KiB attribute
    │   ├── TooDeep                 OQS_TOO_DEEP          nesting deeper than MAX_DEPTH
    │   └── ForbiddenXml            OQS_FORBIDDEN_XML     DOCTYPE, entities, external references, XInclude
    ├── MalformedXml                OQS_MALFORMED_XML     not well-formed XML, or bytes not in the declared encoding
    ├── UnsupportedEncoding         OQS_ENCODING          an encoding other than UTF-8 or Shift_JIS
    ├── WrongRoot                   OQS_WRONG_ROOT        the root element is not XmlMsg
    ├── SchemaViolation             OQS_SCHEMA            an element missing, unexpected or repeated
    ├── InvalidValue                OQS_INVALID_VALUE     a bad digit count, date or code in a named element
    ├── TooManyRecords              OQS_TOO_MANY_RECORDS  a bulk request above MAX_BULK_RECORDS
    ├── Unsupported                 OQS_UNSUPPORTED       a valid request onshi does not answer (PDF files)
    └── RenderError                 OQS_RENDER            an answer that would make an invalid result file (a bug)

The terminal agent turns any of these into an ``.err`` file (:func:`render_error`) with the code
and message unchanged; docs/oqs-messages.md tells the operator what to do for each code.
"""

from __future__ import annotations


class OqsMessageError(Exception):
    """Base of every error of the OQS message layer."""

    code = "OQS_ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class UnknownMessage(OqsMessageError):
    code = "OQS_UNKNOWN_MESSAGE"


class UnsafeXml(OqsMessageError):
    code = "OQS_UNSAFE_XML"


class TooLarge(UnsafeXml):
    code = "OQS_TOO_LARGE"


class TooDeep(UnsafeXml):
    code = "OQS_TOO_DEEP"


class ForbiddenXml(UnsafeXml):
    code = "OQS_FORBIDDEN_XML"


class MalformedXml(OqsMessageError):
    code = "OQS_MALFORMED_XML"


class UnsupportedEncoding(OqsMessageError):
    code = "OQS_ENCODING"


class WrongRoot(OqsMessageError):
    code = "OQS_WRONG_ROOT"


class SchemaViolation(OqsMessageError):
    code = "OQS_SCHEMA"

    def __init__(self, message: str, *, element: str | None = None) -> None:
        super().__init__(message)
        self.element = element


class InvalidValue(OqsMessageError):
    """A value that is not what its element must hold; ``element`` names it (e.g. ``Birthdate``)."""

    code = "OQS_INVALID_VALUE"

    def __init__(self, element: str, message: str) -> None:
        super().__init__(f"{element}: {message}")
        self.element = element


class TooManyRecords(OqsMessageError):
    code = "OQS_TOO_MANY_RECORDS"


class Unsupported(OqsMessageError):
    code = "OQS_UNSUPPORTED"


class RenderError(OqsMessageError):
    code = "OQS_RENDER"

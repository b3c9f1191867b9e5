"""The two character encodings of the file interface: UTF-8 and Shift_JIS (read and written as cp932).

Windows clients (.NET ``Encoding.GetEncoding("Shift_JIS")``) really write cp932, Microsoft's
superset of Shift_JIS (NEC/IBM extensions: ①, ㈱, 髙…), so onshi reads and writes cp932 while the
declaration says ``Shift_JIS``, as those clients expect.
"""

from __future__ import annotations

import re
from enum import StrEnum

from onshi.oqs.codes import CharacterCodeIdentifier
from onshi.oqs.messages.errors import MalformedXml, UnsupportedEncoding

GETA = "〓"  # 下駄記号: the Japanese convention for a character that cannot be shown

BOM = b"\xef\xbb\xbf"


class Encoding(StrEnum):
    """The encoding of a message, by the name its XML declaration carries."""

    UTF8 = "UTF-8"
    SHIFT_JIS = "Shift_JIS"

    @property
    def codec(self) -> str:
        return "utf-8" if self is Encoding.UTF8 else "cp932"

    @property
    def character_code_identifier(self) -> CharacterCodeIdentifier:
        if self is Encoding.UTF8:
            return CharacterCodeIdentifier.UTF8
        return CharacterCodeIdentifier.SHIFT_JIS

    @classmethod
    def from_identifier(cls, value: str) -> Encoding:
        return cls.UTF8 if value.strip() == CharacterCodeIdentifier.UTF8 else cls.SHIFT_JIS


_NAMES = {
    "utf-8": Encoding.UTF8,
    "utf8": Encoding.UTF8,
    "shift_jis": Encoding.SHIFT_JIS,
    "shift-jis": Encoding.SHIFT_JIS,
    "sjis": Encoding.SHIFT_JIS,
    "x-sjis": Encoding.SHIFT_JIS,
    "cp932": Encoding.SHIFT_JIS,
    "ms932": Encoding.SHIFT_JIS,
    "windows-31j": Encoding.SHIFT_JIS,
}

_DECLARATION = re.compile(rb"<\?xml[ \t\r\n][^?>]{0,200}\?>")
_ENCODING = re.compile(rb"""encoding[ \t\r\n]*=[ \t\r\n]*(["'])([A-Za-z0-9._\-]{1,40})\1""")
_CCI = re.compile(rb"<CharacterCodeIdentifier>[ \t\r\n]*([01])[ \t\r\n]*</CharacterCodeIdentifier>")


def decode(data: bytes) -> tuple[str, Encoding]:
    """The document as text without its XML declaration, and the encoding it was written in.

    The declaration decides. Without one, a ``CharacterCodeIdentifier`` element (1 = Shift_JIS)
    decides, else UTF-8. A UTF-8 byte order mark is dropped.
    """
    if data.startswith(BOM):
        data = data[len(BOM) :]
    encoding = Encoding.UTF8
    declaration = _DECLARATION.match(data)
    if declaration:
        named = _ENCODING.search(declaration.group(0))
        if named:
            name = named.group(2).decode("ascii").lower()
            if name not in _NAMES:
                raise UnsupportedEncoding(
                    f"the XML declaration names encoding {name!r}: onshi reads UTF-8 and Shift_JIS only"
                )
            encoding = _NAMES[name]
        data = data[declaration.end() :]
    else:
        cci = _CCI.search(data)
        if cci and cci.group(1) == b"1":
            encoding = Encoding.SHIFT_JIS
    try:
        text = data.decode(encoding.codec)
    except UnicodeDecodeError as exc:
        raise MalformedXml(
            f"byte {exc.start} is not valid {encoding.value} (the encoding the file declares)"
        ) from None
    return text, encoding


# JIS X 0208 code points that cp932 maps to different Unicode characters than Shift_JIS
# decoders on other systems do: write the cp932 twin instead of a geta.
_CP932_TWINS = str.maketrans(
    {
        "\u301c": "\uff5e",  # WAVE DASH → FULLWIDTH TILDE
        "\u2016": "\u2225",  # DOUBLE VERTICAL LINE → PARALLEL TO
        "\u2212": "\uff0d",  # MINUS SIGN → FULLWIDTH HYPHEN-MINUS
        "\u00a2": "\uffe0",  # CENT SIGN
        "\u00a3": "\uffe1",  # POUND SIGN
        "\u00ac": "\uffe2",  # NOT SIGN
        "\u2014": "\u2015",  # EM DASH → HORIZONTAL BAR
    }
)


def _representable(ch: str) -> bool:
    try:
        ch.encode("cp932")
    except UnicodeEncodeError:
        return False
    return True


def encode(text: str, encoding: Encoding) -> bytes:
    """``text`` in ``encoding``; for Shift_JIS, characters cp932 lacks become 〓 (never an error)."""
    if encoding is Encoding.UTF8:
        return text.encode("utf-8")
    text = text.translate(_CP932_TWINS)
    try:
        return text.encode("cp932")
    except UnicodeEncodeError:
        return "".join(ch if _representable(ch) else GETA for ch in text).encode("cp932")


def declaration(encoding: Encoding) -> str:
    return f'<?xml version="1.0" encoding="{encoding.value}" standalone="no"?>\n'

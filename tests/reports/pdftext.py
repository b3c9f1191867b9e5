"""What a PDF says and how it is built, read back with pdfminer.six (no rendering)."""

from __future__ import annotations

import io

from pdfminer.high_level import extract_text
from pdfminer.pdfdocument import PDFDocument
from pdfminer.pdfpage import PDFPage
from pdfminer.pdfparser import PDFParser
from pdfminer.pdftypes import resolve1


def text(pdf: bytes) -> str:
    return extract_text(io.BytesIO(pdf))


def flat(pdf: bytes) -> str:
    """The text without whitespace: table cells wrap and extraction adds line breaks."""
    return "".join(text(pdf).split())


def page_count(pdf: bytes) -> int:
    return sum(1 for _ in PDFPage.get_pages(io.BytesIO(pdf)))


def fonts(pdf: bytes) -> dict[str, bool]:
    """Every font the pages' text uses → whether its program is embedded in the file."""
    document = PDFDocument(PDFParser(io.BytesIO(pdf)))
    found: dict[str, bool] = {}
    for page in PDFPage.create_pages(document):
        resources = resolve1(page.resources) or {}
        for font in (resolve1(resources.get("Font")) or {}).values():
            spec = resolve1(font)
            descriptor = resolve1(spec.get("FontDescriptor"))
            if descriptor is None:  # Type0 fonts keep it on the descendant
                for child in resolve1(spec.get("DescendantFonts") or []):
                    descriptor = resolve1(resolve1(child).get("FontDescriptor"))
            embedded = descriptor is not None and any(
                k in descriptor for k in ("FontFile", "FontFile2", "FontFile3")
            )
            found[resolve1(spec.get("BaseFont")).name] = embedded
    return found


def char_fonts(pdf: bytes) -> set[str]:
    """The fonts the characters on the pages are actually drawn with."""
    from pdfminer.high_level import extract_pages
    from pdfminer.layout import LTChar, LTContainer

    names: set[str] = set()

    def walk(item: object) -> None:
        if isinstance(item, LTChar):
            names.add(item.fontname)
        elif isinstance(item, LTContainer):
            for child in item:
                walk(child)

    for page in extract_pages(io.BytesIO(pdf)):
        walk(page)
    return names

"""The Japanese font every report embeds (subset) — found and registered once per path."""

from __future__ import annotations

import threading
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont

from onshi.reports.errors import FontMissing
from onshi.reports.settings import ReportSettings

_lock = threading.Lock()
_registered: dict[Path, str] = {}


def japanese_font(path: Path | None = None) -> str:
    """The reportlab name of the registered Japanese TrueType font (from ONSHI_REPORT_FONT).

    reportlab embeds TrueType fonts as subsets: only the glyphs a document uses go in the file.
    """
    font_path = (path or ReportSettings().font).expanduser()
    with _lock:
        name = _registered.get(font_path)
        if name is not None:
            return name
        if not font_path.is_file():
            raise FontMissing(
                f"the Japanese font {font_path} is missing: install the Debian package "
                "fonts-ipaexfont-gothic, or set ONSHI_REPORT_FONT to another TrueType (.ttf) font"
            )
        name = f"onshi-ja-{len(_registered)}"
        try:
            pdfmetrics.registerFont(TTFont(name, str(font_path)))
        except (TTFError, OSError) as exc:
            raise FontMissing(
                f"the font {font_path} cannot be used ({exc}); ONSHI_REPORT_FONT must name a "
                "TrueType font with Japanese glyphs (Debian: fonts-ipaexfont-gothic)"
            ) from exc
        _registered[font_path] = name
        return name

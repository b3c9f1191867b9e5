"""Typed settings of the report layer (environment prefix ``ONSHI_REPORT_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

# Debian fonts-ipaexfont-gothic: free (IPA Font License), embeddable, covers JIS X 0213.
DEFAULT_FONT = Path("/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf")


class ReportSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ONSHI_REPORT_", frozen=True)

    font: Path = DEFAULT_FONT

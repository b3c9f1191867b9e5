"""Typed settings of the terminal agent (environment prefix ``ONSHI_TERMINAL_``).

The defaults are those of ``onshi demo`` and of ``onshi central facility add``: the OQS folder
``var/OQS``, the agent's state ``var/terminal``, the facility's certificate in ``var/facility``,
the central service on https://127.0.0.1:8443, the reception screen on 127.0.0.1:8780.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from onshi.oqs.messages import MAX_BYTES, Encoding

FACILITY_DIR = Path("var/facility")  # where `onshi central facility add` writes by default


class TerminalSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ONSHI_TERMINAL_", frozen=True)

    oqs_dir: Path = Path("var/OQS")
    state_dir: Path = Path("var/terminal")
    central_url: str = "https://127.0.0.1:8443"
    facility_code: str = "1311111111"
    cert_path: Path = FACILITY_DIR / "facility.cert.pem"
    key_path: Path = FACILITY_DIR / "facility.key.pem"
    ca_path: Path = FACILITY_DIR / "ca.cert.pem"
    host: str = "127.0.0.1"
    port: int = Field(default=8780, ge=0, le=65535)
    workers: int = Field(default=4, ge=1, le=32)
    face_encoding: Encoding = Encoding.UTF8
    retry_first_seconds: float = 0.5
    retry_max_seconds: float = 30.0
    use_polling: bool = False  # only where inotify is unavailable (network shares)
    # A file found by a scan (not seen closed) is claimed once unchanged for settle_seconds;
    # one still changing after settle_max_seconds is answered TERMINAL_STILL_WRITING.
    settle_seconds: float = Field(default=1.0, ge=0)
    settle_max_seconds: float = Field(default=60.0, gt=0)
    max_request_bytes: int = Field(default=MAX_BYTES, ge=1)

    @property
    def state_db(self) -> Path:
        return self.state_dir / "terminal.sqlite3"

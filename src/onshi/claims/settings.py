"""Typed settings of the claims receiver, built once at startup (prefix ``ONSHI_CLAIMS_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ClaimsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ONSHI_CLAIMS_", frozen=True)

    # Received files, the TLS server certificate; nothing here is shared with the VPN service.
    data_dir: Path = Path("var/claims")
    # The CA whose facility certificates are accepted. Default: the receiver's own, created on
    # first run; point it at the central service's CA directory to accept the same facilities.
    ca_dir: Path | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535)
    # A month's UKE file of a large hospital runs to tens of megabytes.
    max_file_bytes: int = Field(default=64 * 1024 * 1024, ge=1024, le=1024 * 1024 * 1024)

    @property
    def facility_ca_dir(self) -> Path:
        return self.ca_dir if self.ca_dir is not None else self.data_dir / "ca"

    @property
    def store_dir(self) -> Path:
        return self.data_dir / "received"

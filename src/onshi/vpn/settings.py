"""Typed settings of the medical VPN service, built once at startup (prefix ``ONSHI_VPN_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class VpnSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ONSHI_VPN_", frozen=True)

    database_url: str = "sqlite:///var/vpn/vpn.sqlite3"
    # The service CA, the gateway's certificate, the key that seals EAP secrets at rest.
    data_dir: Path = Path("var/vpn")
    host: str = "127.0.0.1"
    port: int = Field(default=8790, ge=0, le=65535)  # the portal

    @property
    def ca_dir(self) -> Path:
        return self.data_dir / "ca"

"""Typed settings of the portal (prefix ``ONSHI_VPN_PORTAL_``), built once at startup."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class PortalSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ONSHI_VPN_PORTAL_", frozen=True)

    # A session ends after this long without a request, and in any case this long after login.
    idle_timeout_seconds: int = Field(default=30 * 60, ge=1)
    absolute_timeout_seconds: int = Field(default=12 * 60 * 60, ge=1)
    # "auto": the Secure flag is set when the request came over HTTPS (as seen by uvicorn,
    # including X-Forwarded-Proto from a trusted proxy); "always" for a TLS-terminating proxy
    # that does not say so; "never" only for plain-HTTP tests on loopback.
    secure_cookies: Literal["auto", "always", "never"] = "auto"
    # A started-but-undownloaded PKCS#12 is dropped after this long (the key is never stored).
    pending_download_seconds: int = Field(default=15 * 60, ge=1)
    # What client profiles name: the gateway terminals dial, its IKE identity when that is not
    # the host name, and the service subnet(s) routed through the tunnel (comma-separated JSON
    # list in the environment). Defaults are documentation addresses.
    gateway_host: str = "203.0.113.10"
    gateway_id: str = ""
    service_subnets: tuple[str, ...] = ("198.51.100.0/24",)

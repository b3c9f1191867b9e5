"""Typed settings of the terminal side, built when a command starts (prefix ``ONSHI_VPN_CLIENT_``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ClientSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ONSHI_VPN_CLIENT_", frozen=True)

    # The subnet(s) behind the gateway a terminal may reach (the eligibility and claims
    # services); comma-separated in the environment. The profile's remote traffic selectors.
    service_subnets: tuple[str, ...] = ()
    # The gateway's IKE identity when it is not the host name the terminals dial.
    gateway_id: str = ""
    # What the doctor fetches through the tunnel to prove the eligibility service answers.
    health_url: str = ""
    probe_timeout: float = Field(default=3.0, gt=0, le=60)

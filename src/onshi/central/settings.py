"""Typed settings of the central service, built once at startup from options and environment.

Environment variables carry the ``ONSHI_CENTRAL_`` prefix (``ONSHI_CENTRAL_DATABASE_URL``…).
Every command and ``onshi demo`` share the same defaults, relative to the working directory:
the database and data dir under ``var/central``, the API on 127.0.0.1:8443 (where the terminal
agent looks for it by default).
"""

from __future__ import annotations

import secrets
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRETS = {"", "changeme", "change-me", "secret", "password", "test", "xxx"}


class CentralSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ONSHI_CENTRAL_", frozen=True)

    database_url: str = "sqlite:///var/central/central.sqlite3"
    data_dir: Path = Path("var/central")
    host: str = "127.0.0.1"
    port: int = Field(default=8443, ge=0, le=65535)  # 0: pick a free port
    # Keyed digests of personal identifiers in the audit log. Must be secret in production:
    # insurance numbers are few enough to be guessed from a plain hash.
    identifier_key: str = Field(default_factory=lambda: secrets.token_hex(32), repr=False)
    # The audit chain's HMAC key and the checkpoint signing key: files outside the database,
    # made on first use (default: audit.key and audit-checkpoint.key in the data dir).
    audit_key_file: Path | None = None
    audit_signing_key_file: Path | None = None
    max_request_bytes: int = 8 * 1024 * 1024
    max_bulk_records: int = 20_000
    nonce_ttl_seconds: int = 120

    @field_validator("identifier_key")
    @classmethod
    def _refuse_placeholder(cls, value: str) -> str:
        if value.strip().lower() in PLACEHOLDER_SECRETS or len(value) < 32:
            raise ValueError(
                "identifier_key is a placeholder or shorter than 32 characters; "
                "set ONSHI_CENTRAL_IDENTIFIER_KEY to a long random value"
            )
        return value

    @property
    def ca_dir(self) -> Path:
        return self.data_dir / "ca"

    @property
    def jpki_ca_dir(self) -> Path:
        return self.data_dir / "jpki-ca"

    @property
    def audit_key_path(self) -> Path:
        return self.audit_key_file or self.data_dir / "audit.key"

    @property
    def audit_signing_key_path(self) -> Path:
        return self.audit_signing_key_file or self.data_dir / "audit-checkpoint.key"

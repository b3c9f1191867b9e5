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

    # The audit chain's HMAC key and the checkpoint signing key (Ed25519): files outside the
    # database, made on first use, 0600 (default: secrets/audit.key and
    # secrets/audit-checkpoint.key in the data dir). A placeholder key file is refused.
    audit_key_file: Path | None = None
    audit_signing_key_file: Path | None = None

    # -- control plane: passwords (IDs and operators) --------------------------------------
    password_min_length: int = Field(default=10, ge=8, le=64)
    password_max_length: int = Field(default=64, ge=16, le=256)
    # Consecutive failures that lock a login, and for how long (portal and operators alike).
    lockout_threshold: int = Field(default=5, ge=1, le=100)
    lockout_minutes: int = Field(default=15, ge=1, le=24 * 60)
    # argon2id cost: one of OWASP's equivalent minimum configurations (m=12 MiB, t=3, p=1), the
    # cheapest in CPU on the bench (bench/bench_vpn_control.py) — ≥ 50 logins/s on 2 cores.
    argon2_time_cost: int = Field(default=3, ge=1, le=10)
    argon2_memory_kib: int = Field(default=12_288, ge=7_168, le=1_048_576)
    argon2_parallelism: int = Field(default=1, ge=1, le=8)

    # -- control plane: certificates -------------------------------------------------------
    device_certificate_days: int = Field(default=397, ge=1, le=3650)
    gateway_certificate_days: int = Field(default=397, ge=1, le=3650)
    crl_next_update_days: int = Field(default=7, ge=1, le=90)
    # PBKDF2 rounds of the PKCS#12 file: the passphrase is random (≈ 100 bits), so rounds add
    # little; kept moderate so that Windows and Android import quickly.
    pkcs12_kdf_rounds: int = Field(default=2048, ge=1000, le=1_000_000)

    # -- invoices: the issuer shown on every invoice (empty: not a qualified invoice) -------
    invoice_issuer_name: str = ""
    invoice_registration_number: str = ""  # 登録番号, T + 13 digits
    invoice_issuer_address: str = ""
    invoice_issuer_contact: str = ""
    invoice_payment_terms: str = ""

    @property
    def ca_dir(self) -> Path:
        return self.data_dir / "ca"

    @property
    def gateway_dir(self) -> Path:
        """The gateway host's certificate and key (0600), issued by the service CA."""
        return self.data_dir / "gateway"

    @property
    def seal_key_path(self) -> Path:
        """The AES-256-GCM key that seals EAP secrets (NT hashes) at rest; 0600, not in the database."""
        return self.data_dir / "secrets" / "seal.key"

    @property
    def audit_key_path(self) -> Path:
        return self.audit_key_file or self.data_dir / "secrets" / "audit.key"

    @property
    def audit_signing_key_path(self) -> Path:
        return self.audit_signing_key_file or self.data_dir / "secrets" / "audit-checkpoint.key"

    @property
    def crl_pem_path(self) -> Path:
        return self.data_dir / "crl" / "crl.pem"

    @property
    def crl_der_path(self) -> Path:
        return self.data_dir / "crl" / "crl.der"

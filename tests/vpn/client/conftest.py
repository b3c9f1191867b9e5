"""Fixtures of the terminal side: a service CA and a device certificate it issued."""

from __future__ import annotations

from pathlib import Path

import pytest

from onshi.pki import CertificateAuthority, IssuedCertificate


@pytest.fixture(scope="session")
def service_ca(tmp_path_factory: pytest.TempPathFactory) -> CertificateAuthority:
    return CertificateAuthority.create(tmp_path_factory.mktemp("vpn-ca"), "onshi VPN test CA")


@pytest.fixture(scope="session")
def device_cert(service_ca: CertificateAuthority) -> IssuedCertificate:
    return service_ca.issue_device_certificate("acct01-pc1")


@pytest.fixture
def device_files(tmp_path: Path, device_cert: IssuedCertificate) -> tuple[Path, Path]:
    cert, key = tmp_path / "device.cert.pem", tmp_path / "device.key.pem"
    device_cert.write(cert, key)
    return cert, key

"""CAs shared by the PKI tests.

Session-scoped because making a CA costs a key generation and the tests never change one;
under pytest-xdist each worker gets its own copies in its own temporary directory.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from onshi.pki import CertificateAuthority


@pytest.fixture(scope="session")
def facility_ca(tmp_path_factory: pytest.TempPathFactory) -> CertificateAuthority:
    return CertificateAuthority.create(
        tmp_path_factory.mktemp("pki") / "facility-ca", "onshi facility CA"
    )


@pytest.fixture(scope="session")
def other_ca(tmp_path_factory: pytest.TempPathFactory) -> CertificateAuthority:
    return CertificateAuthority.create(
        tmp_path_factory.mktemp("pki") / "other-ca", "someone else's CA"
    )


@pytest.fixture(scope="session")
def jpki_ca(tmp_path_factory: pytest.TempPathFactory) -> CertificateAuthority:
    return CertificateAuthority.create(
        tmp_path_factory.mktemp("pki") / "jpki-ca", "onshi test JPKI CA"
    )


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC)


def mode_of(path: Path) -> int:
    return path.stat().st_mode & 0o777

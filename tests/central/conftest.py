"""Fixtures the central service's tests share."""

from __future__ import annotations

import pytest

from onshi import pki


@pytest.fixture(scope="module")
def jpki(tmp_path_factory: pytest.TempPathFactory) -> pki.CertificateAuthority:
    """A test JPKI CA (the card issuer), one per test module."""
    return pki.CertificateAuthority.create(tmp_path_factory.mktemp("jpki") / "ca", "test JPKI")

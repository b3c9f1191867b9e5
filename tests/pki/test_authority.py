"""CA lifecycle: create, load, refuse to clobber, and keep the key private on disk."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from cryptography import x509

from onshi.pki import CertificateAuthority, PkiError
from onshi.pki.authority import CA_CERT_FILE, CA_KEY_FILE

from .conftest import mode_of


def test_create_then_load_gives_the_same_ca(tmp_path: Path) -> None:
    created = CertificateAuthority.create(tmp_path / "ca", "onshi test CA")
    loaded = CertificateAuthority.load(tmp_path / "ca")
    assert loaded.certificate == created.certificate
    assert loaded.cert_pem == created.cert_pem
    assert loaded.cert_path == tmp_path / "ca" / CA_CERT_FILE
    # The loaded CA can still issue: the key on disk is the one in the certificate.
    issued = loaded.issue_device_certificate("router-01")
    issued.certificate.verify_directly_issued_by(created.certificate)


def test_ca_certificate_is_a_self_signed_ca(facility_ca: CertificateAuthority) -> None:
    cert = facility_ca.certificate
    assert cert.issuer == cert.subject
    cert.verify_directly_issued_by(cert)
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign
    assert cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == (
        "onshi facility CA"
    )


def test_directory_is_0700_and_key_is_0600_even_with_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        CertificateAuthority.create(tmp_path / "nested" / "ca", "onshi test CA")
    finally:
        os.umask(old)
    directory = tmp_path / "nested" / "ca"
    assert mode_of(directory) == 0o700
    assert mode_of(directory / CA_KEY_FILE) == 0o600
    assert mode_of(directory / CA_CERT_FILE) == 0o644
    assert sorted(p.name for p in directory.iterdir()) == [CA_CERT_FILE, CA_KEY_FILE]


def test_create_refuses_to_overwrite_an_existing_ca(tmp_path: Path) -> None:
    first = CertificateAuthority.create(tmp_path, "first")
    key_before = (tmp_path / CA_KEY_FILE).read_bytes()
    with pytest.raises(PkiError, match="refusing to overwrite"):
        CertificateAuthority.create(tmp_path, "second")
    assert (tmp_path / CA_KEY_FILE).read_bytes() == key_before
    assert CertificateAuthority.load(tmp_path).certificate == first.certificate


def test_load_or_create_creates_once_then_loads(tmp_path: Path) -> None:
    first = CertificateAuthority.load_or_create(tmp_path / "ca", "onshi test CA")
    second = CertificateAuthority.load_or_create(tmp_path / "ca", "ignored name")
    assert second.certificate == first.certificate


def test_concurrent_load_or_create_agrees_on_one_ca(tmp_path: Path) -> None:
    results: list[CertificateAuthority] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def worker() -> None:
        start.wait()
        try:
            results.append(CertificateAuthority.load_or_create(tmp_path / "ca", "race"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert errors == []
    assert len(results) == 4
    assert len({ca.certificate for ca in results}) == 1
    assert CertificateAuthority.load(tmp_path / "ca").certificate == results[0].certificate


def test_load_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(PkiError, match="no CA directory"):
        CertificateAuthority.load(tmp_path / "absent")


def test_load_empty_directory_names_the_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PkiError, match="certificate not found"):
        CertificateAuthority.load(tmp_path)


def test_load_without_key(tmp_path: Path) -> None:
    CertificateAuthority.create(tmp_path, "onshi test CA")
    (tmp_path / CA_KEY_FILE).unlink()
    with pytest.raises(PkiError, match="private key not found"):
        CertificateAuthority.load(tmp_path)


@pytest.mark.parametrize("name", [CA_CERT_FILE, CA_KEY_FILE])
@pytest.mark.parametrize("content", [b"", b"garbage", b"-----BEGIN CERTIFICATE-----\nAAAA\n"])
def test_load_corrupt_file(tmp_path: Path, name: str, content: bytes) -> None:
    CertificateAuthority.create(tmp_path, "onshi test CA")
    (tmp_path / name).write_bytes(content)
    with pytest.raises(PkiError, match="is not"):
        CertificateAuthority.load(tmp_path)


def test_load_key_of_another_ca(tmp_path: Path) -> None:
    CertificateAuthority.create(tmp_path / "a", "a")
    CertificateAuthority.create(tmp_path / "b", "b")
    (tmp_path / "a" / CA_KEY_FILE).write_bytes((tmp_path / "b" / CA_KEY_FILE).read_bytes())
    with pytest.raises(PkiError, match="do not belong together"):
        CertificateAuthority.load(tmp_path / "a")


def test_load_refuses_a_leaf_certificate_as_ca(
    tmp_path: Path, other_ca: CertificateAuthority
) -> None:
    leaf = other_ca.issue_device_certificate("not-a-ca")
    leaf.write(tmp_path / CA_CERT_FILE, tmp_path / CA_KEY_FILE)
    with pytest.raises(PkiError, match="not a CA certificate"):
        CertificateAuthority.load(tmp_path)

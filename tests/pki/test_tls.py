"""Real mutual-TLS handshakes on 127.0.0.1 with the contexts the central service uses."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from onshi.pki import (
    CertificateAuthority,
    PkiError,
    client_certificate_from_scope,
    client_ssl_context,
    medical_institution_code_of,
    peer_certificate,
    server_ssl_context,
    uvicorn_ssl_context_factory,
)

TIMEOUT = 5.0


@dataclass
class Files:
    ca: Path
    server_cert: Path
    server_key: Path
    facility_cert: Path
    facility_key: Path
    stranger_cert: Path
    stranger_key: Path


@dataclass
class Outcome:
    """What the one-connection server saw."""

    facility_code: str | None = None
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)


@pytest.fixture(scope="module")
def files(
    tmp_path_factory: pytest.TempPathFactory,
    facility_ca: CertificateAuthority,
    other_ca: CertificateAuthority,
) -> Files:
    d = tmp_path_factory.mktemp("tls")
    f = Files(
        ca=facility_ca.cert_path,
        server_cert=d / "server.crt",
        server_key=d / "server.key",
        facility_cert=d / "facility.crt",
        facility_key=d / "facility.key",
        stranger_cert=d / "stranger.crt",
        stranger_key=d / "stranger.key",
    )
    facility_ca.issue_server_certificate(["localhost"], ["127.0.0.1"]).write(
        f.server_cert, f.server_key
    )
    facility_ca.issue_facility_certificate("1312345678", "オンシ診療所").write(
        f.facility_cert, f.facility_key
    )
    # Same facility code, wrong CA: what an attacker with their own CA would present.
    other_ca.issue_facility_certificate("1312345678", "オンシ診療所").write(
        f.stranger_cert, f.stranger_key
    )
    return f


@pytest.fixture
def server(files: Files) -> Iterator[tuple[int, Outcome]]:
    """A server that accepts one connection, reports the client's facility code, says hello."""
    context = server_ssl_context(files.server_cert, files.server_key, files.ca)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(TIMEOUT)
    outcome = Outcome()

    def serve() -> None:
        try:
            conn, _ = listener.accept()
            conn.settimeout(TIMEOUT)
            with context.wrap_socket(conn, server_side=True) as tls:
                cert = peer_certificate(tls)
                outcome.facility_code = medical_institution_code_of(cert) if cert else None
                tls.sendall(f"hello {outcome.facility_code}".encode())
        except (OSError, ssl.SSLError) as exc:
            outcome.error = exc
        finally:
            outcome.done.set()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], outcome
    finally:
        thread.join(TIMEOUT)
        listener.close()


def talk(port: int, context: ssl.SSLContext) -> bytes:
    with (
        socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        return tls.recv(100)


def test_facility_with_its_certificate_gets_in(files: Files, server: tuple[int, Outcome]) -> None:
    port, outcome = server
    reply = talk(port, client_ssl_context(files.facility_cert, files.facility_key, files.ca))
    assert reply == b"hello 1312345678"
    assert outcome.done.wait(TIMEOUT)
    assert outcome.error is None
    assert outcome.facility_code == "1312345678"


def assert_refused(port: int, outcome: Outcome, context: ssl.SSLContext) -> None:
    # With TLS 1.3 the client finishes its half of the handshake before the server has
    # judged its certificate, so the refusal may surface only on the first read.
    try:
        reply = talk(port, context)
    except OSError:  # ssl.SSLError, ConnectionResetError, BrokenPipeError
        reply = b""
    assert reply == b""
    assert outcome.done.wait(TIMEOUT)
    assert isinstance(outcome.error, ssl.SSLError)
    assert outcome.facility_code is None


def test_client_without_certificate_is_refused(files: Files, server: tuple[int, Outcome]) -> None:
    port, outcome = server
    assert_refused(port, outcome, client_ssl_context(None, None, files.ca))


def test_client_with_certificate_from_another_ca_is_refused(
    files: Files, server: tuple[int, Outcome]
) -> None:
    port, outcome = server
    assert_refused(
        port, outcome, client_ssl_context(files.stranger_cert, files.stranger_key, files.ca)
    )


def test_client_refuses_a_server_it_does_not_trust(
    files: Files, server: tuple[int, Outcome], other_ca: CertificateAuthority
) -> None:
    port, outcome = server
    context = client_ssl_context(files.facility_cert, files.facility_key, other_ca.cert_path)
    with pytest.raises(ssl.SSLCertVerificationError):
        talk(port, context)
    assert outcome.done.wait(TIMEOUT)
    assert outcome.error is not None


def test_contexts_enforce_tls12_and_client_certificates(files: Files) -> None:
    server_ctx = server_ssl_context(files.server_cert, files.server_key, files.ca)
    client_ctx = client_ssl_context(files.facility_cert, files.facility_key, files.ca)
    for context in (server_ctx, client_ctx):
        assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
        assert context.verify_mode == ssl.CERT_REQUIRED
    assert client_ctx.check_hostname
    factory = uvicorn_ssl_context_factory(files.server_cert, files.server_key, files.ca)
    made = factory(object(), lambda: ssl.create_default_context())
    assert made.verify_mode == ssl.CERT_REQUIRED


def test_bad_paths_raise_pki_error(files: Files, tmp_path: Path) -> None:
    with pytest.raises(PkiError):
        server_ssl_context(tmp_path / "missing.crt", files.server_key, files.ca)
    with pytest.raises(PkiError):
        server_ssl_context(files.server_cert, files.facility_key, files.ca)  # key mismatch
    with pytest.raises(PkiError):
        client_ssl_context(files.facility_cert, files.facility_key, tmp_path / "missing-ca.crt")
    with pytest.raises(PkiError, match="both"):
        client_ssl_context(files.facility_cert, None, files.ca)


def test_client_certificate_from_scope(files: Files) -> None:
    pem = files.facility_cert.read_text()
    scope = {"type": "http", "extensions": {"tls": {"client_cert_chain": [pem]}}}
    cert = client_certificate_from_scope(scope)
    assert cert is not None and medical_institution_code_of(cert) == "1312345678"
    der_scope = {"extensions": {"tls": {"client_cert_der": cert.public_bytes(Encoding.DER)}}}
    assert client_certificate_from_scope(der_scope) == cert
    assert client_certificate_from_scope({"type": "http"}) is None
    assert client_certificate_from_scope({"extensions": {"tls": {"client_cert_chain": []}}}) is None
    with pytest.raises(PkiError):
        client_certificate_from_scope({"extensions": {"tls": {"client_cert_chain": ["junk"]}}})
    with pytest.raises(PkiError):
        client_certificate_from_scope({"extensions": {"tls": {"client_cert_der": b"junk"}}})

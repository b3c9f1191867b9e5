"""Client profiles: what each format says, and what they refuse to write."""

from __future__ import annotations

import base64
import json
import uuid

import pytest
from cryptography import x509

from onshi.pki import CertificateAuthority, IssuedCertificate
from onshi.vpn.client.errors import ProfileInvalid
from onshi.vpn.client.profiles import (
    SSWAN_MEDIA_TYPE,
    ClientProfile,
    render,
    render_sswan,
    render_swanctl,
    render_windows,
)


def make(
    ca: CertificateAuthority, cert: IssuedCertificate | None = None, **kw: object
) -> ClientProfile:
    values: dict[str, object] = {
        "account": "acct01",
        "device": "pc1",
        "gateway_host": "203.0.113.10",
        "ca_pem": ca.cert_pem,
        "service_subnets": ("10.99.0.0/24",),
    }
    if cert is not None:
        values["device_cert_pem"] = cert.cert_pem
    values.update(kw)
    return ClientProfile(**values)  # type: ignore[arg-type]


def test_swanctl_has_two_rounds_and_only_the_service_subnets(
    service_ca: CertificateAuthority,
) -> None:
    text = render_swanctl(make(service_ca, service_subnets=("10.99.0.0/24", "10.98.0.5/32")))
    assert "remote_addrs = 203.0.113.10" in text
    assert "encap = yes" in text
    local1 = text.split("local-1 {")[1].split("}")[0]
    assert "auth = pubkey" in local1 and "certs = onshi-device.cert.pem" in local1
    local2 = text.split("local-2 {")[1].split("}")[0]
    # id is required in round 2: with a fixed eap_id the gateway skips EAP-Identity.
    assert "auth = eap" in local2 and "eap_id = acct01" in local2 and "id = acct01" in local2
    remote = text.split("remote {")[1].split("}")[0]
    assert 'id = "203.0.113.10"' in remote and "cacerts = onshi-ca.cert.pem" in remote
    assert "remote_ts = 10.99.0.0/24, 10.98.0.5/32" in text
    assert "esp_proposals = aes256gcm16" in text
    assert "secrets" not in text  # no password in a downloadable profile
    assert text.count("{") == text.count("}")


def test_swanctl_password_is_base64_so_quotes_cannot_break_the_file(
    service_ca: CertificateAuthority,
) -> None:
    password = 'p"a}s\\s\nword'
    text = render_swanctl(make(service_ca), eap_password=password)
    secret = text.split("secret = 0s")[1].split("\n")[0]
    assert base64.b64decode(secret).decode() == password
    assert text.count("{") == text.count("}")


def test_gateway_id_overrides_the_host(service_ca: CertificateAuthority) -> None:
    text = render_swanctl(
        make(service_ca, gateway_host="vpn.example.jp", gateway_id="gw.example.jp")
    )
    assert "remote_addrs = vpn.example.jp" in text and 'id = "gw.example.jp"' in text


def test_sswan_matches_the_android_profile_shape(service_ca: CertificateAuthority) -> None:
    profile = make(service_ca)
    document = json.loads(render_sswan(profile))
    assert document["type"] == "ikev2-cert-eap"
    uuid.UUID(document["uuid"])  # RFC 4122
    assert document["name"]
    assert document["remote"]["addr"] == "203.0.113.10"
    ca = x509.load_der_x509_certificate(base64.b64decode(document["remote"]["cert"]))
    assert ca.subject == service_ca.certificate.subject
    assert document["local"]["eap_id"] == "acct01"
    assert "p12" not in document["local"]  # the user imports the .p12 on its own
    assert document["split-tunneling"]["subnets"] == "10.99.0.0/24"
    assert document["esp-proposal"] == "aes256gcm16"
    # The same device always gets the same UUID: a re-import replaces, not duplicates.
    assert json.loads(render_sswan(profile))["uuid"] == document["uuid"]
    rendered = render(profile, "sswan")
    assert rendered.media_type == SSWAN_MEDIA_TYPE and rendered.filename.endswith(".sswan")


def test_windows_script_imports_certificates_and_places_the_configuration(
    service_ca: CertificateAuthority, device_cert: IssuedCertificate
) -> None:
    script = render_windows(make(service_ca, device_cert))
    assert "\r\n" in script and "\n" not in script.replace("\r\n", "")
    for piece in (
        "Import-PfxCertificate",
        "Cert:\\LocalMachine\\Root",
        "Import-Certificate",
        "conf.d\\onshi.conf",
        "auth = eap",
        "eap_id = acct01",
        f'id = "asn1dn:#{device_cert.certificate.subject.public_bytes().hex()}"',
        "file = onshi-device.p12",
        "-----BEGIN CERTIFICATE-----",
        "cannot do\r\ntwo authentication rounds",
    ):
        assert piece in script, piece
    assert "%P12_PASSWORD%" in script  # replaced on the terminal, never written here
    rendered = render(make(service_ca, device_cert), "windows")
    assert rendered.content.startswith(b"\xef\xbb\xbf") and rendered.filename.endswith(".ps1")


def test_windows_needs_the_device_subject(service_ca: CertificateAuthority) -> None:
    with pytest.raises(ProfileInvalid):
        render_windows(make(service_ca))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("account", "acct 01"),
        ("account", 'a"; Remove-Item'),
        ("account", ""),
        ("device", "pc}1"),
        ("gateway_host", "gw\nhost"),
        ("gateway_host", "-gw"),
        ("service_subnets", ()),
        ("service_subnets", ("10.0.0.0/33",)),
        ("ca_pem", b"not a certificate"),
        ("gateway_id", 'gw"x'),
        ("device_cert_file", "../etc/passwd"),
    ],
)
def test_refuses_what_would_break_a_file(
    service_ca: CertificateAuthority, field: str, value: object
) -> None:
    with pytest.raises(ProfileInvalid) as caught:
        make(service_ca, **{field: value})
    assert caught.value.code == "VPN_CLIENT_PROFILE_INVALID"


def test_unknown_format(service_ca: CertificateAuthority) -> None:
    with pytest.raises(ProfileInvalid):
        render(make(service_ca), "openvpn")


def test_subnets_are_normalised(service_ca: CertificateAuthority) -> None:
    assert make(service_ca, service_subnets=("10.99.0.7/24",)).service_subnets == ("10.99.0.0/24",)

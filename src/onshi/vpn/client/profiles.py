"""Client profiles (接続設定): what a terminal needs to reach the medical VPN gateway.

Pure rendering — no files, no database. :class:`ClientProfile` names the account (the ID, used
for the EAP round), the device (its certificate is the first round), the gateway and the service
subnet(s) the terminal may reach; the renderers turn it into:

* ``swanctl`` — a strongSwan ``swanctl.conf`` fragment for Linux terminals (and for strongSwan's
  Windows service ``charon-svc``, which reads the same file);
* ``sswan`` — the strongSwan Android app's JSON profile, type ``ikev2-cert-eap``;
* ``windows`` — a PowerShell script that installs the certificates and the same swanctl
  configuration for strongSwan on Windows: the built-in Windows IKEv2 client cannot do two
  authentication rounds (certificate, then EAP), so it is not a target.

The terminal's remote traffic selectors are the service subnet(s) only, never the address pool:
widening them breaks userspace ESP on the terminal and would route terminal-to-terminal traffic
into the tunnel. The password is never part of a downloadable profile.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from onshi.vpn.client.errors import ProfileInvalid

__all__ = [
    "ESP_PROPOSAL",
    "FORMATS",
    "IKE_PROPOSAL",
    "SSWAN_MEDIA_TYPE",
    "ClientProfile",
    "RenderedProfile",
    "render",
    "render_sswan",
    "render_swanctl",
    "render_windows",
]

# The gateway's proposals (docs/vpn): AES-GCM-256 for IKE and ESP, PRF SHA-256, ECP-256 with
# curve25519 as the alternative group. The doctor's probe offers the same.
IKE_PROPOSAL = "aes256gcm16-prfsha256-ecp256-x25519"
ESP_PROPOSAL = "aes256gcm16"
SSWAN_MEDIA_TYPE = "application/vnd.strongswan.profile"
FORMATS = ("swanctl", "sswan", "windows")

# Names end up inside swanctl.conf, JSON and PowerShell: keep them to characters that need no
# quoting anywhere (the account is also the EAP identity).
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
_HOST = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")
_FILE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_UUID_NAMESPACE = uuid.UUID(
    "0c6f6e73-6869-4d56-906e-636c69656e74"
)  # fixed: same device → same UUID


def _check(pattern: re.Pattern[str], value: str, what: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ProfileInvalid(f"{what} {value!r} is not allowed here (letters, digits, . _ @ -)")
    return value


@dataclass(frozen=True)
class ClientProfile:
    """Everything a terminal profile says; validated on construction.

    ``device_subject`` is the device certificate's subject as a strongSwan identity
    (``asn1dn:#<hex DER>``); when empty it is read from ``device_cert_pem`` if given (the
    Windows format needs it).
    """

    account: str
    device: str
    gateway_host: str
    ca_pem: bytes
    service_subnets: tuple[str, ...]
    gateway_id: str = ""  # default: the gateway host (the gateway certificate names it)
    device_cert_pem: bytes | None = None
    device_subject: str = ""
    device_cert_file: str = "onshi-device.cert.pem"
    device_key_file: str = "onshi-device.key.pem"
    device_p12_file: str = "onshi-device.p12"
    ca_cert_file: str = "onshi-ca.cert.pem"
    _ca: x509.Certificate = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check(_NAME, self.account, "account")
        _check(_NAME, self.device, "device")
        _check_host(self.gateway_host)
        if self.gateway_id and not re.fullmatch(r"[A-Za-z0-9.:@=, _-]{1,200}", self.gateway_id):
            raise ProfileInvalid(f"gateway id {self.gateway_id!r} is not allowed")
        for name in (
            self.device_cert_file,
            self.device_key_file,
            self.device_p12_file,
            self.ca_cert_file,
        ):
            _check(_FILE, name, "file name")
        if not self.service_subnets:
            raise ProfileInvalid("a profile needs at least one service subnet")
        subnets = tuple(_subnet(s) for s in self.service_subnets)
        object.__setattr__(self, "service_subnets", subnets)
        try:
            ca = x509.load_pem_x509_certificate(self.ca_pem)
        except ValueError as exc:
            raise ProfileInvalid("the CA certificate is not a PEM certificate") from exc
        object.__setattr__(self, "_ca", ca)
        if not self.device_subject and self.device_cert_pem is not None:
            try:
                cert = x509.load_pem_x509_certificate(self.device_cert_pem)
            except ValueError as exc:
                raise ProfileInvalid("the device certificate is not a PEM certificate") from exc
            object.__setattr__(self, "device_subject", strongswan_identity(cert.subject))
        if self.device_subject and not re.fullmatch(r"[^\"\\\n\r]{1,600}", self.device_subject):
            raise ProfileInvalid("the device certificate's subject cannot be written here")

    @property
    def remote_id(self) -> str:
        return self.gateway_id or self.gateway_host

    @property
    def connection_name(self) -> str:
        return "onshi"

    @property
    def ca_der(self) -> bytes:
        return self._ca.public_bytes(serialization.Encoding.DER)

    @property
    def ca_pem_text(self) -> str:
        return self._ca.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _check_host(host: str) -> None:
    try:
        ipaddress.ip_address(host)
        return
    except ValueError:
        pass
    _check(_HOST, host, "gateway host")


def _subnet(value: str) -> str:
    try:
        return str(ipaddress.ip_network(value, strict=False))
    except ValueError as exc:
        raise ProfileInvalid(f"service subnet {value!r} is not an address range") from exc


def strongswan_identity(name: x509.Name) -> str:
    """A DN as a strongSwan identity that matches whatever characters it holds: ``asn1dn:#<hex>``.

    A Japanese organisation name in the subject would otherwise depend on how strongSwan
    parses and compares a UTF-8 DN string; the DER form is exact (the gateway uses it too).
    """
    return "asn1dn:#" + name.public_bytes().hex()


@dataclass(frozen=True)
class RenderedProfile:
    """A rendered profile: a file name to suggest, its media type and its bytes."""

    filename: str
    media_type: str
    content: bytes


# -- swanctl ----------------------------------------------------------------------------------


def render_swanctl(
    profile: ClientProfile,
    *,
    eap_password: str | None = None,
    pkcs12: bool = False,
) -> str:
    """A ``swanctl.conf`` fragment (one connection ``onshi``) for a strongSwan terminal.

    The device certificate, its key and the CA are files beside it in the swanctl tree
    (``x509/``, ``private/``, ``x509ca/``); with ``pkcs12`` the device credentials come from the
    ``.p12`` in ``pkcs12/`` instead (the Windows layout), found by the certificate's subject.
    ``eap_password`` adds a ``secrets`` section (for scripted terminals and tests); without it
    the password goes in a file of its own (see docs/vpn/client.md).
    """
    lines = [
        f"# onshi medical VPN: account {profile.account}, device {profile.device}",
        "# generated by `onshi vpn client profile`; two rounds: device certificate, then EAP",
        "connections {",
        f"  {profile.connection_name} {{",
        "    version = 2",
        f"    remote_addrs = {profile.gateway_host}",
        "    vips = 0.0.0.0",
        "    encap = yes",
        f"    proposals = {IKE_PROPOSAL}",
        "    dpd_delay = 30s",
        "    local-1 {",
        "      auth = pubkey",
    ]
    if pkcs12:
        if not profile.device_subject:
            raise ProfileInvalid("a PKCS#12 profile needs the device certificate's subject")
        lines.append(f'      id = "{profile.device_subject}"')
    else:
        lines.append(f"      certs = {profile.device_cert_file}")
    lines += [
        "    }",
        "    local-2 {",
        "      auth = eap",
        f"      eap_id = {profile.account}",
        f"      id = {profile.account}",
        "    }",
        "    remote {",
        "      auth = pubkey",
        f'      id = "{profile.remote_id}"',
        f"      cacerts = {profile.ca_cert_file}",
        "    }",
        "    children {",
        f"      {profile.connection_name} {{",
        f"        remote_ts = {', '.join(profile.service_subnets)}",
        f"        esp_proposals = {ESP_PROPOSAL}",
        "        dpd_action = restart",
        "      }",
        "    }",
        "  }",
        "}",
    ]
    secrets: list[str] = []
    if eap_password is not None:
        # base64 (0s…) so no quote or backslash in a password can break the file.
        encoded = base64.b64encode(eap_password.encode("utf-8")).decode("ascii")
        secrets += [
            f"  eap-{profile.connection_name} {{",
            f"    id = {profile.account}",
            f"    secret = 0s{encoded}",
            "  }",
        ]
    if pkcs12:
        secrets += [
            "  pkcs12-onshi {",
            f"    file = {profile.device_p12_file}",
            "    secret = %P12_PASSWORD%",
            "  }",
        ]
    if secrets:
        lines += ["secrets {", *secrets, "}"]
    return "\n".join(lines) + "\n"


# -- Android (.sswan) -------------------------------------------------------------------------


def sswan_document(profile: ClientProfile) -> dict[str, object]:
    """The strongSwan Android profile as a dict (keys as the app's profile format defines)."""
    return {
        "uuid": str(uuid.uuid5(_UUID_NAMESPACE, f"{profile.account}/{profile.device}")),
        "name": f"onshi VPN ({profile.account})",
        "type": "ikev2-cert-eap",
        "remote": {
            "addr": profile.gateway_host,
            "id": profile.remote_id,
            "cert": base64.b64encode(profile.ca_der).decode("ascii"),
        },
        "local": {"eap_id": profile.account},
        "ike-proposal": IKE_PROPOSAL,
        "esp-proposal": ESP_PROPOSAL,
        "split-tunneling": {"subnets": " ".join(profile.service_subnets)},
    }


def render_sswan(profile: ClientProfile) -> str:
    """The ``.sswan`` file: UTF-8 JSON; the user imports the device ``.p12`` separately."""
    return json.dumps(sswan_document(profile), ensure_ascii=False, indent=2) + "\n"


# -- Windows ----------------------------------------------------------------------------------

_PS_HEADER = """\
<#
onshi medical VPN: terminal setup for Windows (account {account}, device {device})

WHY NOT THE BUILT-IN CLIENT. The medical VPN authenticates in two rounds: the device
certificate, then the ID and password (EAP). The IKEv2 client built into Windows cannot do
two authentication rounds, so this script sets up strongSwan for Windows (the charon-svc
service and swanctl) instead, with the same configuration Linux terminals use.

BEFORE YOU RUN IT
  1. Install strongSwan for Windows (charon-svc and swanctl.exe) under -StrongSwanDir
     (default C:\\Program Files\\strongSwan), following strongSwan's Windows documentation.
  2. Download your device certificate ({p12}) from the portal, next to this script.
  3. Run PowerShell as Administrator:  .\\onshi-vpn-setup.ps1 -P12Path .\\{p12}

WHAT IT DOES
  * Import-PfxCertificate: the device certificate into Cert:\\LocalMachine\\My (not exportable).
  * Import-Certificate:    the onshi service CA into Cert:\\LocalMachine\\Root.
  * copies {p12} to etc\\swanctl\\pkcs12 and the CA to etc\\swanctl\\x509ca;
  * writes etc\\swanctl\\conf.d\\onshi.conf (the connection; no password in it);
  * Connect: asks for the ID's password, hands it to charon with swanctl --load-creds
    from a file that is deleted at once, and starts the connection.

Only the service subnet(s) {subnets} go through the tunnel.
#>
"""

_PS_BODY = r"""
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)][string]$P12Path,
    [string]$StrongSwanDir = "C:\Program Files\strongSwan",
    [switch]$Connect
)
$ErrorActionPreference = "Stop"

$principal = New-Object Security.Principal.WindowsPrincipal([Security.Principal.WindowsIdentity]::GetCurrent())
if (-not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {
    throw "Run this script as Administrator (端末のセットアップは管理者権限が必要です)."
}
$swanctl = Join-Path $StrongSwanDir "swanctl.exe"
if (-not (Test-Path $swanctl)) { $swanctl = Join-Path $StrongSwanDir "bin\swanctl.exe" }
if (-not (Test-Path $swanctl)) { throw "strongSwan for Windows not found under $StrongSwanDir" }
$confDir = Join-Path $StrongSwanDir "etc\swanctl"
# swanctl reads its tree from SWANCTL_DIR; the main file must include conf.d (ours goes there).
$env:SWANCTL_DIR = $confDir

$p12Password = Read-Host -AsSecureString "Password of $P12Path"
Import-PfxCertificate -FilePath $P12Path -CertStoreLocation Cert:\LocalMachine\My -Password $p12Password | Out-Null

$caPath = Join-Path $env:TEMP "@@CA_FILE@@"
Set-Content -Path $caPath -Value @"
@@CA_PEM@@"@ -Encoding Ascii
Import-Certificate -FilePath $caPath -CertStoreLocation Cert:\LocalMachine\Root | Out-Null

foreach ($sub in "pkcs12", "x509ca", "conf.d") { New-Item -ItemType Directory -Force -Path (Join-Path $confDir $sub) | Out-Null }
$mainConf = Join-Path $confDir "swanctl.conf"
if (-not (Test-Path $mainConf)) { Set-Content -Path $mainConf -Value "include conf.d/*.conf" -Encoding Ascii }
elseif (-not (Select-String -Path $mainConf -Pattern "conf\.d/\*\.conf" -Quiet)) { Add-Content -Path $mainConf -Value "include conf.d/*.conf" }
Copy-Item $P12Path (Join-Path $confDir "pkcs12\@@P12_FILE@@") -Force
Copy-Item $caPath (Join-Path $confDir "x509ca\@@CA_FILE@@") -Force
Remove-Item $caPath

$conf = @'
@@SWANCTL@@'@
$plain = [Runtime.InteropServices.Marshal]::PtrToStringBSTR([Runtime.InteropServices.Marshal]::SecureStringToBSTR($p12Password))
$confPath = Join-Path $confDir "conf.d\onshi.conf"
# charon needs the .p12 password to open the key. swanctl does not base64-decode (0s...)
# container secrets, so it is written quoted, with \ and " escaped; the file is kept to
# Administrators and SYSTEM.
$quoted = '"' + $plain.Replace('\', '\\').Replace('"', '\"') + '"'
Set-Content -Path $confPath -Value $conf.Replace("%P12_PASSWORD%", $quoted) -Encoding Ascii
icacls $confPath /inheritance:r /grant:r "Administrators:F" "SYSTEM:F" | Out-Null
Write-Host "onshi VPN configured: $confPath"

if ($Connect) {
    $secure = Read-Host -AsSecureString "Password of ID @@ACCOUNT@@"
    $password = [Runtime.InteropServices.Marshal]::PtrToStringBSTR([Runtime.InteropServices.Marshal]::SecureStringToBSTR($secure))
    $b64 = [Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes($password))
    $secretPath = Join-Path $confDir "conf.d\onshi-secret.conf"
    try {
        Set-Content -Path $secretPath -Value "secrets {`n  eap-onshi {`n    id = @@ACCOUNT@@`n    secret = 0s$b64`n  }`n}" -Encoding Ascii
        & $swanctl --load-all
    } finally {
        Remove-Item $secretPath -ErrorAction SilentlyContinue
    }
    & $swanctl --initiate --child onshi
}
"""


def render_windows(profile: ClientProfile) -> str:
    """A PowerShell script (README in its header) setting up strongSwan for Windows."""
    swanctl = render_swanctl(profile, pkcs12=True)
    header = _PS_HEADER.format(
        account=profile.account,
        device=profile.device,
        p12=profile.device_p12_file,
        subnets=", ".join(profile.service_subnets),
    )
    body = (
        _PS_BODY.replace("@@CA_FILE@@", profile.ca_cert_file)
        .replace("@@P12_FILE@@", profile.device_p12_file)
        .replace("@@ACCOUNT@@", profile.account)
        .replace("@@CA_PEM@@", profile.ca_pem_text)
        .replace("@@SWANCTL@@", swanctl)
    )
    # CRLF line ends: Notepad and PowerShell ISE on older Windows expect them.
    return (header + body).replace("\r\n", "\n").replace("\n", "\r\n")


# -- one entry point ----------------------------------------------------------------------------


def render(profile: ClientProfile, fmt: str) -> RenderedProfile:
    """Render ``profile`` in ``fmt`` (one of :data:`FORMATS`) as a downloadable file."""
    stem = f"onshi-{profile.account}-{profile.device}"
    if fmt == "swanctl":
        return RenderedProfile(
            f"{stem}.conf", "text/plain; charset=utf-8", render_swanctl(profile).encode()
        )
    if fmt == "sswan":
        return RenderedProfile(f"{stem}.sswan", SSWAN_MEDIA_TYPE, render_sswan(profile).encode())
    if fmt == "windows":
        # UTF-8 with BOM: Windows PowerShell 5.1 then reads the Japanese message correctly.
        return RenderedProfile(
            f"{stem}.ps1",
            "text/plain; charset=utf-8",
            b"\xef\xbb\xbf" + render_windows(profile).encode("utf-8"),
        )
    raise ProfileInvalid(f"unknown profile format {fmt!r}; choose one of {', '.join(FORMATS)}")


def profile_for(
    *,
    account: str,
    device: str,
    gateway_host: str,
    ca_pem: bytes,
    service_subnets: Sequence[str],
    gateway_id: str = "",
    device_cert_pem: bytes | None = None,
) -> ClientProfile:
    """Keyword-only constructor for callers (portal, command) that hold plain values."""
    return ClientProfile(
        account=account,
        device=device,
        gateway_host=gateway_host,
        ca_pem=ca_pem,
        service_subnets=tuple(service_subnets),
        gateway_id=gateway_id,
        device_cert_pem=device_cert_pem,
    )

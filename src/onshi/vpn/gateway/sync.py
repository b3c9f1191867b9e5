"""Keep charon's connections and secrets equal to the control plane's desired state (over VICI).

One connection per device, ``dev-<account>-<device>`` (the round-1 certificate is not visible in
``list_sas``, so the connection's name is what tells which device a session is):

- round 1: the device certificate (public key) from the service CA, the subject as identity;
- round 2: EAP-MSCHAPv2 with ``eap_id`` = the account, so certificate and password must belong to
  the same ID (ID・パスワード認証);
- the account's secret is its NT hash (VICI ``load_shared`` type ``NTLM``), never the password.

Only what changed is sent: each connection and secret is remembered by a digest of what was
loaded. Removed devices are unloaded and their live sessions terminated (``unload_conn`` alone
leaves them up); so are sessions of a device one of whose certificates the new CRL revokes.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from vici.exception import CommandException

from .charon import VICI_ERRORS
from .directory import DesiredState, Device
from .errors import ViciFailed

logger = logging.getLogger(__name__)

CONNECTION_PREFIX = "dev-"
POOL_NAME = "onshi-pool"
CHILD_NAME = "svc"
AUTHORITY_NAME = "onshi-ca"
ESP_PROPOSALS = ["aes256gcm16", "aes128gcm16"]
# What the gateway accepts; the terminal's order decides (prefer_configured_proposals = no).
IKE_PROPOSALS = [
    "aes256gcm16-aes128gcm16-prfsha384-prfsha256-curve25519-ecp256-ecp384",
    "aes256-aes128-sha384-sha256-curve25519-ecp256-ecp384-modp3072",
]


@dataclass(frozen=True)
class GatewayShape:
    """What every device connection shares: the gateway's address, pool, subnets, timeouts."""

    listen: str
    pool: str
    local_ts: tuple[str, ...]
    idle_timeout: int = 24 * 3600
    encap: bool = True
    # The gateway's IKE identity: what terminals have as remote id (their profile's gateway
    # id, by default the host they dial). The gateway certificate must name it (SAN); None:
    # the certificate's subject.
    identity: str | None = None

    def __post_init__(self) -> None:
        ipaddress.ip_address(self.listen)
        ipaddress.ip_network(self.pool, strict=False)
        for ts in self.local_ts:
            ipaddress.ip_network(ts, strict=False)


def connection_name(account: str, device: str) -> str:
    return f"{CONNECTION_PREFIX}{account}-{device}"


def identity_of(subject: x509.Name) -> str:
    """The subject as a strongSwan identity, DER in hex: no quoting of ``,`` or ``=`` to get wrong."""
    return "asn1dn:#" + subject.public_bytes().hex()


def gateway_identity(state: DesiredState, shape: GatewayShape | None = None) -> str:
    if shape is not None and shape.identity:
        return shape.identity
    return identity_of(x509.load_pem_x509_certificate(state.gateway_cert_pem).subject)


def render_connection(
    device: Device, state: DesiredState, shape: GatewayShape, gateway_id: str | None = None
) -> dict[str, Any]:
    """The VICI ``load_conn`` body of one device's connection (without its name).

    The gateway certificate and the CA are loaded once (``load_cert``) and named here by
    identity, not repeated in each of thousands of connections: charon would parse both
    certificates again for every one of them.
    """
    return {
        "version": "2",
        "local_addrs": [shape.listen],
        "pools": [POOL_NAME],
        "encap": "yes" if shape.encap else "no",
        # The session limit per account is the control plane's (2 + x), not charon's.
        "unique": "never",
        "proposals": IKE_PROPOSALS,
        "local": {"auth": "pubkey", "id": gateway_id or gateway_identity(state, shape)},
        "remote-1": {
            "auth": "pubkey",
            "id": identity_of(device.subject),
            # The service CA is the only trust anchor loaded (an authority): a chain to
            # any other issuer finds no anchor and is refused.
        },
        "remote-2": {"auth": "eap-mschapv2", "eap_id": device.account},
        "children": {
            CHILD_NAME: {
                "local_ts": list(shape.local_ts),
                "esp_proposals": ESP_PROPOSALS,
                "inactivity": str(shape.idle_timeout),
                "mode": "tunnel",
            }
        },
    }


def _digest(*parts: object) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(repr(part).encode())
    return h.hexdigest()


@dataclass
class SyncReport:
    loaded: list[str] = field(default_factory=list)
    unloaded: list[str] = field(default_factory=list)
    secrets_loaded: int = 0
    secrets_unloaded: int = 0
    crl_loaded: bool = False
    refused: list[str] = field(default_factory=list)  # entries charon would not take
    terminated: list[tuple[str, str, str]] = field(default_factory=list)  # (conn, ike-id, why)

    @property
    def changed(self) -> bool:
        return bool(
            self.loaded
            or self.unloaded
            or self.secrets_loaded
            or self.secrets_unloaded
            or self.crl_loaded
            or self.refused
            or self.terminated
        )


def revoked_serials(crl_pem: bytes | None) -> frozenset[int]:
    if not crl_pem:
        return frozenset()
    crl = x509.load_pem_x509_crl(crl_pem)
    return frozenset(r.serial_number for r in crl)


class Synchronizer:
    """Diffs the desired state against what this charon holds, and applies the difference.

    ``session`` is a ``vici.Session`` used by this object only (VICI sessions are not
    thread-safe, and a command sent while a streamed reply is being read desynchronises it).
    """

    def __init__(self, session: Any, shape: GatewayShape) -> None:
        self.session = session
        self.shape = shape
        self._conns: dict[str, str] = {}
        self._secrets: dict[str, str] = {}
        self._crl: str | None = None
        self._key: str | None = None
        self._pool: str | None = None
        self._revoked: frozenset[int] | None = None
        # Every serial seen for a connection: a renewal drops the old serial from the desired
        # state, and the CRL that revokes it must still find the device.
        self._serials: dict[str, set[int]] = {}
        self.devices: dict[str, Device] = {}
        self._refused: dict[str, str] = {}  # connection or account → digest charon refused
        self._attached = False

    # -- the one public step ---------------------------------------------------------

    def sync(self, state: DesiredState) -> SyncReport:
        report = SyncReport()
        if not self._attached:
            self._attach()
        self._sync_key(state)
        self._sync_pool()
        self._sync_crl(state, report)
        self._sync_secrets(state.nt_hashes, report)
        removed = self._sync_connections(state, report)
        for name, device in self.devices.items():
            self._serials.setdefault(name, set()).update(device.certificate_serials)
        cut: dict[str, str] = {}
        revoked = revoked_serials(state.crl_pem)
        if self._revoked is not None:
            newly = revoked - self._revoked
            for name, serials in self._serials.items():
                if newly & serials:
                    cut[name] = "revoked"
        self._revoked = revoked
        for name in removed:
            cut.setdefault(name, "removed")
            self._serials.pop(name, None)
        if cut:
            report.terminated = self.terminate_connections(cut)
        if report.changed:
            logger.info(
                "sync: %d connections loaded, %d unloaded, %d secrets loaded, %d unloaded, "
                "CRL %s, %d sessions terminated",
                len(report.loaded),
                len(report.unloaded),
                report.secrets_loaded,
                report.secrets_unloaded,
                "loaded" if report.crl_loaded else "unchanged",
                len(report.terminated),
            )
        return report

    # -- parts -------------------------------------------------------------------------

    def _attach(self) -> None:
        """Learn what an already running charon holds, so stale entries get removed."""
        for name in self._call("get_conns").get("conns", []):
            name = _text(name)
            if name.startswith(CONNECTION_PREFIX):
                self._conns[name] = "unknown"
        for key in self._call("get_shared").get("keys", []):
            self._secrets[_text(key)] = "unknown"
        self._attached = True

    def _sync_key(self, state: DesiredState) -> None:
        """The gateway's key and certificate and the service CA (anchor), when they change."""
        digest = _digest(state.gateway_key_pem, state.gateway_cert_pem, state.ca_pem)
        if digest != self._key:
            self._call("load_key", {"type": "any", "data": state.gateway_key_pem})
            self._call(
                "load_cert", {"type": "x509", "flag": "none", "data": state.gateway_cert_pem}
            )
            # An authority, not a bare CA certificate: a later CA replaces it under its name.
            self._call("load_authority", {AUTHORITY_NAME: {"cacert": state.ca_pem}})
            self._key = digest

    def _sync_pool(self) -> None:
        digest = _digest(self.shape.pool)
        if digest != self._pool:
            self._call("load_pool", {POOL_NAME: {"addrs": self.shape.pool}})
            self._pool = digest

    def _sync_crl(self, state: DesiredState, report: SyncReport) -> None:
        if state.crl_pem is None:
            return
        digest = _digest(state.crl_pem)
        if digest != self._crl:
            self._call("load_cert", {"type": "x509crl", "flag": "none", "data": state.crl_pem})
            # charon's certificate cache keeps the CRL it last used and prefers it while that
            # one is still valid: flush it, or a revocation waits for the old CRL to expire.
            self._call("flush_certs", {"type": "x509crl"})
            self._crl = digest
            report.crl_loaded = True

    def _sync_secrets(self, nt_hashes: Mapping[str, bytes], report: SyncReport) -> None:
        for account, nt_hash in nt_hashes.items():
            if len(nt_hash) != 16:
                logger.warning("sync: an NT hash is not 16 bytes; that account stays out")
                continue
            digest = _digest(nt_hash)
            if self._secrets.get(account) != digest and self._refused.get(account) != digest:
                secret = {"type": "NTLM", "id": account, "data": nt_hash, "owners": [account]}
                if self._try("load_shared", secret, account, digest, report):
                    self._secrets[account] = digest
                    report.secrets_loaded += 1
        for account in [a for a in self._secrets if a not in nt_hashes]:
            self._unload("unload_shared", {"id": account})
            del self._secrets[account]
            report.secrets_unloaded += 1

    def _sync_connections(self, state: DesiredState, report: SyncReport) -> list[str]:
        wanted: dict[str, Device] = {}
        for device in state.devices:
            wanted[connection_name(device.account, device.name)] = device
        gateway_id = gateway_identity(state, self.shape)
        common = _digest(gateway_id, self.shape)
        for name, device in wanted.items():
            digest = _digest(common, device.account, device.subject.public_bytes())
            if self._conns.get(name) != digest and self._refused.get(name) != digest:
                body = render_connection(device, state, self.shape, gateway_id)
                if self._try("load_conn", {name: body}, name, digest, report):
                    self._conns[name] = digest
                    report.loaded.append(name)
        removed = [name for name in self._conns if name not in wanted]
        for name in removed:
            self._unload("unload_conn", {"name": name})
            del self._conns[name]
            report.unloaded.append(name)
        previous = self.devices
        self.devices = wanted
        # Keep the identity of removed devices until their sessions' events are out.
        for name in removed:
            if name in previous:
                self.devices.setdefault(name, previous[name])
        return removed

    def _try(self, command: str, message: Any, name: str, digest: str, report: SyncReport) -> bool:
        """One load that charon may refuse on its own: the others still go in.

        A refused entry is not retried until its data changes (charon would refuse it again);
        a broken socket still raises.
        """
        try:
            getattr(self.session, command)(message)
        except CommandException as exc:
            self._refused[name] = digest
            report.refused.append(name)
            logger.warning("sync: charon refused %s for %s: %s", command, name, exc)
            return False
        except VICI_ERRORS as exc:
            raise ViciFailed(f"VICI {command} failed: {exc}") from exc
        self._refused.pop(name, None)
        return True

    def _unload(self, command: str, message: Any) -> None:
        """Unload; charon not knowing the entry (restarted meanwhile) is the wanted outcome."""
        try:
            getattr(self.session, command)(message)
        except CommandException as exc:
            logger.info("sync: %s: %s (already gone)", command, exc)
        except VICI_ERRORS as exc:
            raise ViciFailed(f"VICI {command} failed: {exc}") from exc

    def terminate_connections(self, why: Mapping[str, str]) -> list[tuple[str, str, str]]:
        """Terminate every IKE_SA of the named connections; collect first, then terminate.

        Half-open SAs (a login still in EAP) go too, but only established ones are reported.
        """
        targets = [(c, ike_id, sa) for c, ike_id, sa in self.list_ike_sas() if c in why]
        for _, ike_id, _ in targets:
            self.terminate_ike(ike_id)
        return [
            (c, ike_id, why[c])
            for c, ike_id, sa in targets
            if sa.get("state") in (b"ESTABLISHED", "ESTABLISHED")
        ]

    def list_ike_sas(self, *, noblock: bool = False) -> list[tuple[str, str, dict[str, Any]]]:
        """(connection, ike-id, SA) of every IKE_SA, collected before anything else is sent.

        ``noblock`` skips SAs busy in an exchange instead of waiting for each (listing locks
        every SA, which slows a burst of logins); the periodic sweep uses it and sees a skipped
        SA at its next pass, terminations for revocation do not.
        """
        result: list[tuple[str, str, dict[str, Any]]] = []
        try:
            for entry in self.session.list_sas({"noblock": "yes"} if noblock else None):
                for conn, sa in entry.items():
                    result.append((_text(conn), _text(sa.get("uniqueid", b"")), sa))
        except VICI_ERRORS as exc:
            raise ViciFailed(f"list_sas failed: {exc}") from exc
        return result

    def terminate_ike(self, ike_id: str) -> None:
        """Send a DELETE and destroy the IKE_SA without waiting for the peer's answer."""
        try:
            for _ in self.session.terminate({"ike-id": ike_id, "force": "yes", "timeout": "-1"}):
                pass
        except VICI_ERRORS as exc:  # a session that went away meanwhile is not an error
            logger.info("terminate ike-id %s: %s", ike_id, exc)

    def _call(self, command: str, message: Any = None) -> Any:
        method = getattr(self.session, command)
        try:
            return method(message) if message is not None else method()
        except VICI_ERRORS as exc:
            raise ViciFailed(f"VICI {command} failed: {exc}") from exc


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def names(devices: Iterable[Device]) -> list[str]:
    return [connection_name(d.account, d.name) for d in devices]

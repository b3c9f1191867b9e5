"""Just enough IKEv2 (RFC 7296) to ask a gateway "are you there?": an IKE_SA_INIT and its answer.

The doctor sends the first message an IKEv2 initiator sends — header, SA with one proposal
(AES-GCM-16-256, PRF-HMAC-SHA256, ECP-256 or Curve25519), KE, Nonce and the two NAT detection
notifies — and reads what comes back. Any well-formed IKE_SA_INIT response proves the path:
an SA + KE (the gateway would go on), or a notify such as INVALID_KE_PAYLOAD, NO_PROPOSAL_CHOSEN
or COOKIE. The NAT detection hashes in the response tell whether an address was translated on
the way. The probe never authenticates and never completes an IKE_SA.

Hand-written on purpose: the packet-crafting library that does this (scapy) is GPL, and no
Apache-compatible Python library builds a bare IKE_SA_INIT; the format is small and fixed.
Parsing is bounded and raises :class:`ProbeInvalid` for anything that is not a sane IKEv2
message — answers come from the network and are untrusted.
"""

from __future__ import annotations

import enum
import hashlib
import ipaddress
import secrets
import struct
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric import ec, x25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from onshi.vpn.client.errors import ProbeInvalid

__all__ = [
    "IKE_PORT",
    "NAT_T_PORT",
    "NON_ESP_MARKER",
    "IkeMessage",
    "IkeSaInitRequest",
    "Notify",
    "ProbeAnswer",
    "ProbeOutcome",
    "interpret",
    "nat_detection_hash",
    "parse_message",
]

IKE_PORT = 500
NAT_T_PORT = 4500
# RFC 3948: on port 4500 IKE messages start with four zero bytes, ESP packets with their SPI.
NON_ESP_MARKER = b"\x00\x00\x00\x00"

HEADER = struct.Struct("!8s8sBBBBII")  # SPIi SPIr next version exchange flags message-id length
GENERIC = struct.Struct("!BBH")  # next payload, critical/reserved, payload length
IKE_VERSION = 0x20
IKE_SA_INIT = 34
FLAG_INITIATOR = 0x08
FLAG_RESPONSE = 0x20
MAX_MESSAGE = 65_535
MAX_PAYLOADS = 64

PAYLOAD_NONE = 0
PAYLOAD_SA = 33
PAYLOAD_KE = 34
PAYLOAD_NONCE = 40
PAYLOAD_NOTIFY = 41

ENCR = 1
PRF = 2
DH = 4
ENCR_AES_GCM_16 = 20
PRF_HMAC_SHA2_256 = 5
KEY_LENGTH_ATTRIBUTE = 0x800E  # TV format, attribute type 14
GROUP_ECP_256 = 19
GROUP_CURVE25519 = 31
SUPPORTED_GROUPS = (GROUP_ECP_256, GROUP_CURVE25519)


class NotifyType(enum.IntEnum):
    """The notify messages the probe understands (RFC 7296 §3.10.1, RFC 4306)."""

    UNSUPPORTED_CRITICAL_PAYLOAD = 1
    INVALID_SYNTAX = 7
    NO_PROPOSAL_CHOSEN = 14
    INVALID_KE_PAYLOAD = 17
    NAT_DETECTION_SOURCE_IP = 16388
    NAT_DETECTION_DESTINATION_IP = 16389
    COOKIE = 16390


def nat_detection_hash(spi_i: bytes, spi_r: bytes, address: str, port: int) -> bytes:
    """SHA-1(SPIi | SPIr | IP | port) — RFC 7296 §2.23 mandates SHA-1 here, not for security."""
    packed = ipaddress.ip_address(address).packed
    return hashlib.sha1(spi_i + spi_r + packed + struct.pack("!H", port)).digest()  # noqa: S324


def _payload(next_payload: int, body: bytes) -> bytes:
    return GENERIC.pack(next_payload, 0, GENERIC.size + len(body)) + body


def _transform(last: bool, kind: int, ident: int, attributes: bytes = b"") -> bytes:
    length = 8 + len(attributes)
    return struct.pack("!BBHBBH", 0 if last else 3, 0, length, kind, 0, ident) + attributes


def _proposal(group: int) -> bytes:
    transforms = [
        _transform(False, ENCR, ENCR_AES_GCM_16, struct.pack("!HH", KEY_LENGTH_ATTRIBUTE, 256)),
        _transform(False, PRF, PRF_HMAC_SHA2_256),
        _transform(False, DH, group),
    ]
    other = GROUP_CURVE25519 if group == GROUP_ECP_256 else GROUP_ECP_256
    transforms.append(_transform(True, DH, other))
    body = b"".join(transforms)
    # last proposal (0), proposal #1, protocol IKE (1), no SPI, 4 transforms
    return struct.pack("!BBHBBBB", 0, 0, 8 + len(body), 1, 1, 0, len(transforms)) + body


def _public_value(group: int) -> bytes:
    if group == GROUP_CURVE25519:
        return (
            x25519.X25519PrivateKey.generate()
            .public_key()
            .public_bytes(Encoding.Raw, PublicFormat.Raw)
        )
    point = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    )
    return point[1:]  # RFC 5903: x | y without the 0x04 prefix


@dataclass(frozen=True)
class IkeSaInitRequest:
    """One probe: our SPI, nonce and key share; :meth:`encode` makes the datagram."""

    spi_i: bytes = field(default_factory=lambda: secrets.token_bytes(8))
    nonce: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    group: int = GROUP_CURVE25519
    key_share: bytes = b""

    def __post_init__(self) -> None:
        if len(self.spi_i) != 8 or self.spi_i == bytes(8):
            raise ProbeInvalid("the initiator SPI is 8 bytes and not zero")
        if self.group not in SUPPORTED_GROUPS:
            raise ProbeInvalid(f"unsupported DH group {self.group}")
        if not self.key_share:
            object.__setattr__(self, "key_share", _public_value(self.group))

    def encode(self, local: tuple[str, int], remote: tuple[str, int]) -> bytes:
        """The IKE_SA_INIT request as sent from ``local`` to ``remote`` (address, port)."""
        spi_r = bytes(8)
        source = nat_detection_hash(self.spi_i, spi_r, *local)
        destination = nat_detection_hash(self.spi_i, spi_r, *remote)
        # Each generic payload header names the type of the payload that FOLLOWS it.
        payloads = b"".join(
            [
                _payload(PAYLOAD_KE, _proposal(self.group)),
                _payload(PAYLOAD_NONCE, struct.pack("!HH", self.group, 0) + self.key_share),
                _payload(PAYLOAD_NOTIFY, self.nonce),
                _payload(
                    PAYLOAD_NOTIFY,
                    struct.pack("!BBH", 0, 0, NotifyType.NAT_DETECTION_SOURCE_IP) + source,
                ),
                _payload(
                    PAYLOAD_NONE,
                    struct.pack("!BBH", 0, 0, NotifyType.NAT_DETECTION_DESTINATION_IP)
                    + destination,
                ),
            ]
        )
        length = HEADER.size + len(payloads)
        header = HEADER.pack(
            self.spi_i, spi_r, PAYLOAD_SA, IKE_VERSION, IKE_SA_INIT, FLAG_INITIATOR, 0, length
        )
        return header + payloads


@dataclass(frozen=True)
class Notify:
    kind: int
    data: bytes


@dataclass(frozen=True)
class IkeMessage:
    """A parsed IKEv2 message: header fields and the payloads the probe cares about."""

    spi_i: bytes
    spi_r: bytes
    exchange: int
    flags: int
    message_id: int
    payload_types: tuple[int, ...]
    notifies: tuple[Notify, ...]
    ke_group: int | None

    @property
    def is_response(self) -> bool:
        return bool(self.flags & FLAG_RESPONSE)

    def notify(self, kind: int) -> Notify | None:
        return next((n for n in self.notifies if n.kind == kind), None)


def parse_message(data: bytes) -> IkeMessage:
    """Parse an IKEv2 message; :class:`ProbeInvalid` for anything malformed (never another error)."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ProbeInvalid("an IKE message is bytes")
    data = bytes(data)
    if len(data) < HEADER.size:
        raise ProbeInvalid(f"{len(data)} bytes: shorter than an IKE header")
    if len(data) > MAX_MESSAGE:
        raise ProbeInvalid("longer than any IKE message")
    spi_i, spi_r, next_payload, version, exchange, flags, message_id, length = HEADER.unpack_from(
        data
    )
    if version >> 4 != 2:
        raise ProbeInvalid(f"not IKEv2 (version byte 0x{version:02x})")
    if length != len(data):
        raise ProbeInvalid(f"the header says {length} bytes, the datagram has {len(data)}")
    offset = HEADER.size
    types: list[int] = []
    notifies: list[Notify] = []
    ke_group: int | None = None
    while next_payload != PAYLOAD_NONE:
        if len(types) >= MAX_PAYLOADS:
            raise ProbeInvalid("too many payloads")
        if offset + GENERIC.size > len(data):
            raise ProbeInvalid("a payload header runs past the end")
        following, _critical, size = GENERIC.unpack_from(data, offset)
        if size < GENERIC.size or offset + size > len(data):
            raise ProbeInvalid(f"payload {next_payload} has an impossible length {size}")
        body = data[offset + GENERIC.size : offset + size]
        types.append(next_payload)
        if next_payload == PAYLOAD_NOTIFY:
            notifies.append(_parse_notify(body))
        elif next_payload == PAYLOAD_KE:
            if len(body) < 4:
                raise ProbeInvalid("a KE payload without its group")
            ke_group = struct.unpack_from("!H", body)[0]
        offset += size
        next_payload = following
    if offset != len(data):
        raise ProbeInvalid("bytes after the last payload")
    return IkeMessage(
        spi_i, spi_r, exchange, flags, message_id, tuple(types), tuple(notifies), ke_group
    )


def _parse_notify(body: bytes) -> Notify:
    if len(body) < 4:
        raise ProbeInvalid("a notify payload shorter than its fixed part")
    _protocol, spi_size, kind = struct.unpack_from("!BBH", body)
    if 4 + spi_size > len(body):
        raise ProbeInvalid("a notify SPI runs past the payload")
    return Notify(kind, body[4 + spi_size :])


class ProbeOutcome(enum.Enum):
    """What a gateway's answer to the probe means."""

    ACCEPTED = "accepted"  # SA + KE: it would continue
    INVALID_KE = "invalid_ke"  # wants another DH group: reachable
    NO_PROPOSAL = "no_proposal"  # our algorithms refused: reachable, profile mismatch
    COOKIE = "cookie"  # under load, asks for a cookie: reachable
    OTHER = "other"  # some other IKE answer: reachable


@dataclass(frozen=True)
class ProbeAnswer:
    """The meaning of a response: outcome, and NAT on our side / the gateway's (None: unknown)."""

    outcome: ProbeOutcome
    nat_local: bool | None
    nat_remote: bool | None
    group_wanted: int | None = None


def interpret(
    request: IkeSaInitRequest,
    message: IkeMessage,
    local: tuple[str, int],
    remote: tuple[str, int],
) -> ProbeAnswer:
    """Read a parsed response to ``request``; :class:`ProbeInvalid` if it answers something else."""
    if message.spi_i != request.spi_i:
        raise ProbeInvalid("an answer to another initiator SPI")
    if message.exchange != IKE_SA_INIT or not message.is_response or message.message_id != 0:
        raise ProbeInvalid("not an IKE_SA_INIT response")
    nat_local = nat_remote = None
    source = message.notify(NotifyType.NAT_DETECTION_SOURCE_IP)
    destination = message.notify(NotifyType.NAT_DETECTION_DESTINATION_IP)
    if destination is not None:
        # The gateway hashed the address and port it saw us send from.
        nat_local = destination.data != nat_detection_hash(message.spi_i, message.spi_r, *local)
    if source is not None:
        nat_remote = source.data != nat_detection_hash(message.spi_i, message.spi_r, *remote)
    if message.notify(NotifyType.INVALID_KE_PAYLOAD) is not None:
        wanted = message.notify(NotifyType.INVALID_KE_PAYLOAD)
        group = (
            struct.unpack("!H", wanted.data[:2])[0] if wanted and len(wanted.data) >= 2 else None
        )
        return ProbeAnswer(ProbeOutcome.INVALID_KE, nat_local, nat_remote, group)
    if message.notify(NotifyType.NO_PROPOSAL_CHOSEN) is not None:
        return ProbeAnswer(ProbeOutcome.NO_PROPOSAL, nat_local, nat_remote)
    if message.notify(NotifyType.COOKIE) is not None:
        return ProbeAnswer(ProbeOutcome.COOKIE, nat_local, nat_remote)
    if PAYLOAD_SA in message.payload_types and message.ke_group is not None:
        return ProbeAnswer(ProbeOutcome.ACCEPTED, nat_local, nat_remote)
    return ProbeAnswer(ProbeOutcome.OTHER, nat_local, nat_remote)

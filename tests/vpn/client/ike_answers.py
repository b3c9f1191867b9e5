"""IKE_SA_INIT answers as a gateway builds them, for tests of the probe and the doctor."""

from __future__ import annotations

import struct

from onshi.vpn.client.ike import (
    FLAG_RESPONSE,
    IKE_SA_INIT,
    PAYLOAD_NOTIFY,
    IkeSaInitRequest,
    NotifyType,
    nat_detection_hash,
)


def response(
    request: IkeSaInitRequest,
    payloads: list[tuple[int, bytes]],
    *,
    spi_r: bytes = b"R" * 8,
    flags: int = FLAG_RESPONSE,
) -> bytes:
    """A response as a gateway would build it: payload chain, header with SPIr."""
    body = b""
    for index, (_kind, data) in enumerate(payloads):
        following = payloads[index + 1][0] if index + 1 < len(payloads) else 0
        body += struct.pack("!BBH", following, 0, 4 + len(data)) + data
    first = payloads[0][0] if payloads else 0
    header = struct.pack(
        "!8s8sBBBBII", request.spi_i, spi_r, first, 0x20, IKE_SA_INIT, flags, 0, 28 + len(body)
    )
    return header + body


def notify(kind: int, data: bytes = b"") -> tuple[int, bytes]:
    return PAYLOAD_NOTIFY, struct.pack("!BBH", 0, 0, kind) + data


def nat_notifies(
    request: IkeSaInitRequest, local: tuple[str, int], remote: tuple[str, int]
) -> list[tuple[int, bytes]]:
    spi_r = b"R" * 8
    return [
        notify(
            NotifyType.NAT_DETECTION_SOURCE_IP, nat_detection_hash(request.spi_i, spi_r, *remote)
        ),
        notify(
            NotifyType.NAT_DETECTION_DESTINATION_IP,
            nat_detection_hash(request.spi_i, spi_r, *local),
        ),
    ]

"""The IKE_SA_INIT probe packet: built by hand, parsed back, hostile answers never crash."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from onshi.vpn.client.errors import ProbeInvalid
from onshi.vpn.client.ike import (
    GROUP_CURVE25519,
    GROUP_ECP_256,
    IKE_SA_INIT,
    PAYLOAD_KE,
    PAYLOAD_NONCE,
    PAYLOAD_NOTIFY,
    PAYLOAD_SA,
    IkeSaInitRequest,
    NotifyType,
    ProbeOutcome,
    interpret,
    nat_detection_hash,
    parse_message,
)
from onshi.vpn.client.probe import probe
from tests.vpn.client.ike_answers import nat_notifies, notify, response

LOCAL = ("198.51.100.7", 40000)
REMOTE = ("203.0.113.1", 500)


@pytest.mark.parametrize("group", [GROUP_CURVE25519, GROUP_ECP_256])
def test_request_parses_back_with_every_payload(group: int) -> None:
    request = IkeSaInitRequest(group=group)
    message = parse_message(request.encode(LOCAL, REMOTE))
    assert message.spi_i == request.spi_i and message.spi_r == bytes(8)
    assert message.exchange == IKE_SA_INIT and not message.is_response
    assert message.payload_types == (
        PAYLOAD_SA,
        PAYLOAD_KE,
        PAYLOAD_NONCE,
        PAYLOAD_NOTIFY,
        PAYLOAD_NOTIFY,
    )
    assert message.ke_group == group
    assert len(request.key_share) == (32 if group == GROUP_CURVE25519 else 64)
    source = message.notify(NotifyType.NAT_DETECTION_SOURCE_IP)
    destination = message.notify(NotifyType.NAT_DETECTION_DESTINATION_IP)
    assert source is not None and source.data == nat_detection_hash(request.spi_i, bytes(8), *LOCAL)
    assert destination is not None and destination.data == nat_detection_hash(
        request.spi_i, bytes(8), *REMOTE
    )


def test_sa_payload_offers_aes_gcm_256_sha256_and_both_groups() -> None:
    data = IkeSaInitRequest().encode(LOCAL, REMOTE)
    sa_length = struct.unpack_from("!H", data, 28 + 2)[0]
    proposal = data[28 + 4 : 28 + sa_length]
    assert proposal[5] == 1 and proposal[7] == 4  # protocol IKE, four transforms
    transforms, offset = [], 8
    while offset < len(proposal):
        _more, _r, length, kind, _r2, ident = struct.unpack_from("!BBHBBH", proposal, offset)
        transforms.append((kind, ident, proposal[offset + 8 : offset + length]))
        offset += length
    assert transforms[0] == (1, 20, struct.pack("!HH", 0x800E, 256))  # ENCR_AES_GCM_16, 256 bits
    assert transforms[1][:2] == (2, 5)  # PRF_HMAC_SHA2_256
    assert {t[1] for t in transforms[2:]} == {19, 31} and all(t[0] == 4 for t in transforms[2:])


def test_accepting_answer_without_nat() -> None:
    request = IkeSaInitRequest()
    data = response(
        request,
        [
            (PAYLOAD_SA, b"\x00" * 8),
            (PAYLOAD_KE, struct.pack("!HH", 31, 0) + b"k" * 32),
            (PAYLOAD_NONCE, b"n" * 32),
            *nat_notifies(request, LOCAL, REMOTE),
        ],
    )
    answer = interpret(request, parse_message(data), LOCAL, REMOTE)
    assert answer.outcome is ProbeOutcome.ACCEPTED
    assert answer.nat_local is False and answer.nat_remote is False


def test_translated_source_is_nat_on_our_side() -> None:
    request = IkeSaInitRequest()
    seen_from = ("192.0.2.200", 61000)  # what the gateway saw: a NAT router's public address
    data = response(
        request,
        [
            (PAYLOAD_SA, b""),
            (PAYLOAD_KE, struct.pack("!HH", 31, 0)),
            *nat_notifies(request, seen_from, REMOTE),
        ],
    )
    answer = interpret(request, parse_message(data), LOCAL, REMOTE)
    assert answer.nat_local is True and answer.nat_remote is False


@pytest.mark.parametrize(
    ("kind", "data", "outcome"),
    [
        (NotifyType.INVALID_KE_PAYLOAD, struct.pack("!H", 21), ProbeOutcome.INVALID_KE),
        (NotifyType.NO_PROPOSAL_CHOSEN, b"", ProbeOutcome.NO_PROPOSAL),
        (NotifyType.COOKIE, b"c" * 16, ProbeOutcome.COOKIE),
        (NotifyType.INVALID_SYNTAX, b"", ProbeOutcome.OTHER),
    ],
)
def test_error_notifies_still_prove_the_path(kind: int, data: bytes, outcome: ProbeOutcome) -> None:
    request = IkeSaInitRequest()
    answer = interpret(
        request, parse_message(response(request, [notify(kind, data)])), LOCAL, REMOTE
    )
    assert answer.outcome is outcome
    if outcome is ProbeOutcome.INVALID_KE:
        assert answer.group_wanted == 21


def test_answers_to_someone_else_are_refused() -> None:
    request, other = IkeSaInitRequest(), IkeSaInitRequest()
    with pytest.raises(ProbeInvalid):
        interpret(request, parse_message(response(other, [notify(14)])), LOCAL, REMOTE)
    with pytest.raises(ProbeInvalid):  # a request, not a response
        interpret(
            request, parse_message(response(request, [notify(14)], flags=0x08)), LOCAL, REMOTE
        )


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00" * 27,
        b"\x00" * 28,  # version 0
        IkeSaInitRequest().encode(LOCAL, REMOTE)[:-1],  # truncated
        IkeSaInitRequest().encode(LOCAL, REMOTE) + b"x",  # trailing garbage
        struct.pack("!8s8sBBBBII", b"a" * 8, b"b" * 8, 41, 0x20, 34, 0x20, 0, 32)
        + b"\x00\x00\x00\x02",  # payload length < 4
        struct.pack("!8s8sBBBBII", b"a" * 8, b"b" * 8, 41, 0x20, 34, 0x20, 0, 32)
        + b"\x00\x00\xff\xff",  # runs past the end
        struct.pack("!8s8sBBBBII", b"a" * 8, b"b" * 8, 41, 0x20, 34, 0x20, 0, 34)
        + b"\x00\x00\x00\x06\x00\xff",  # notify SPI too long
        struct.pack("!8s8sBBBBII", b"a" * 8, b"b" * 8, 34, 0x20, 34, 0x20, 0, 33)
        + b"\x00\x00\x00\x05\x00",  # KE without group
    ],
)
def test_hostile_answers_raise_probe_invalid(data: bytes) -> None:
    with pytest.raises(ProbeInvalid):
        parse_message(data)


def test_payload_loop_is_bounded() -> None:
    payload = struct.pack("!BBH", 41, 0, 8) + b"\x00\x00\x40\x04"
    data = (
        struct.pack("!8s8sBBBBII", b"a" * 8, b"b" * 8, 41, 0x20, 34, 0x20, 0, 28 + 8 * 100)
        + payload * 100
    )
    with pytest.raises(ProbeInvalid, match="too many"):
        parse_message(data)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_never_crash(data: bytes) -> None:
    with contextlib.suppress(ProbeInvalid):
        parse_message(data)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=400), st.binary(min_size=1, max_size=8))
def test_mutated_requests_never_crash(position: int, junk: bytes) -> None:
    request = IkeSaInitRequest()
    data = bytearray(request.encode(LOCAL, REMOTE))
    position %= len(data)
    data[position : position + len(junk)] = junk
    with contextlib.suppress(ProbeInvalid):
        interpret(request, parse_message(bytes(data)), LOCAL, REMOTE)


def test_nothing_listening_is_refused_at_once() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = probe("127.0.0.1", port, timeout=2.0)
    assert not result.reached and result.failure == "refused" and result.elapsed < 1.0


def test_silence_is_blocked_within_the_timeout() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))  # swallows the probes, never answers
        started = time.monotonic()
        result = probe("127.0.0.1", silent.getsockname()[1], timeout=0.6)
        assert not result.reached and result.failure == "timeout"
        assert 0.55 < time.monotonic() - started < 1.5


def test_garbage_then_answer_on_loopback() -> None:
    """A fake gateway that first sends junk, then a real answer: junk is ignored, not fatal."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
        server.bind(("127.0.0.1", 0))
        port = server.getsockname()[1]

        def answer() -> None:
            data, peer = server.recvfrom(65535)
            message = parse_message(data)
            request = IkeSaInitRequest(spi_i=message.spi_i)
            server.sendto(b"\x00garbage", peer)
            server.sendto(
                response(
                    request,
                    [
                        notify(NotifyType.INVALID_KE_PAYLOAD, struct.pack("!H", 19)),
                        *nat_notifies(request, peer, ("127.0.0.1", port)),
                    ],
                ),
                peer,
            )

        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        result = probe("127.0.0.1", port, timeout=3.0)
        thread.join(5)
    assert result.answer is not None and result.answer.outcome is ProbeOutcome.INVALID_KE
    assert result.answer.nat_local is False and result.ignored == 1

"""``CentralClient``: a facility's HTTPS client of the central eligibility service.

The terminal agent (資格確認端末) talks to the central service through this class. It
presents the facility certificate, trusts only onshi's CA, sends OQS-named JSON and returns
the service's JSON answer as a dict. Every refusal raises :class:`CentralRefused` carrying
the server's stable ``code``; a service that cannot be reached raises
:class:`CentralUnavailable`. ::

    CentralClientError                 (base)
    ├── CentralRefused                 the service answered with {"code", "message"}
    └── CentralUnavailable             CENTRAL_UNAVAILABLE: no TLS connection / no answer / 503

All network I/O goes through one ``httpx`` transport: pass ``transport=httpx.MockTransport(…)``
(or any ``httpx.BaseTransport``) to test without a network.
"""

from __future__ import annotations

import base64
import datetime as dt
import socket
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric import ec

from onshi.pki import (
    client_ssl_context,
    load_certificate,
    medical_institution_code_of,
    sign_challenge,
)
from onshi.pki.presence import challenge as card_presence_challenge

__all__ = ["CentralClient", "CentralClientError", "CentralRefused", "CentralUnavailable"]


class CentralClientError(Exception):
    code: str = "CENTRAL_CLIENT_ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class CentralRefused(CentralClientError):
    """The service answered with an error: ``code`` is its stable code, ``status`` the HTTP one."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class CentralUnavailable(CentralClientError):
    """No answer: connection refused, TLS refused (a bad or missing certificate), timeout, or
    503 (the service's database is failing over): worth asking again later."""

    code = "CENTRAL_UNAVAILABLE"


JsonObject = dict[str, Any]


class CentralClient:
    """One keep-alive HTTPS connection pool to the service, identified by a facility certificate.

    ``cert_path``/``key_path``: the facility's client certificate and key
    (``onshi central facility add`` writes them); ``ca_path``: onshi's CA certificate, the only
    trust anchor. Use it as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        base_url: str,
        cert_path: Path | str | None = None,
        key_path: Path | str | None = None,
        ca_path: Path | str | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
        request_id: str | None = None,
    ) -> None:
        # The facility a card's signature is bound to: the one our certificate names.
        self.facility_code: str | None = None
        if cert_path is not None:
            self.facility_code = medical_institution_code_of(load_certificate(Path(cert_path)))
        if transport is None:
            if ca_path is None:
                raise ValueError("ca_path is required unless a transport is given")
            context = client_ssl_context(cert_path, key_path, ca_path)
            # TCP_NODELAY: httpx writes headers and body separately; with Nagle the body waits
            # for the ACK of the headers, adding a millisecond or more to every POST.
            transport = httpx.HTTPTransport(
                verify=context, socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
            )
        headers = {"x-request-id": request_id} if request_id else None
        self._http = httpx.Client(
            base_url=base_url, transport=transport, timeout=timeout, headers=headers
        )

    def __enter__(self) -> CentralClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- the routes ------------------------------------------------------------------

    def health(self) -> JsonObject:
        return self._call("GET", "/v1/health")

    def confirm_by_card_number(self, request: Mapping[str, Any]) -> JsonObject:
        """OQSsiquc01: ``{"QualificationConfirmationDate", "QualificationConfirmSearchInfo": {…}}``."""
        return self._call("POST", "/v1/eligibility/card-number", request)

    def card_nonce(self) -> JsonObject:
        """``{"nonce": hex, "expires_at": iso8601}``; the card signs ``card_presence_challenge``."""
        return self._call("POST", "/v1/eligibility/card/nonce")

    def confirm_by_card(self, request: Mapping[str, Any]) -> JsonObject:
        """A confirmation by My Number card, with a nonce already signed (see :meth:`confirm_with_card`)."""
        return self._call("POST", "/v1/eligibility/card", request)

    def confirm_with_card(
        self,
        certificate_pem: bytes,
        private_key: ec.EllipticCurvePrivateKey,
        *,
        identity_method: str,
        consents: Iterable[str] = (),
        on: dt.date | None = None,
        arbitrary_file_identifier: str | None = None,
        facility_code: str | None = None,
    ) -> JsonObject:
        """Fetch a nonce, have the card's key sign it, and ask — the reader's whole exchange.

        What the card signs binds the nonce to the facility (``card_presence_challenge``);
        the facility is the client certificate's unless ``facility_code`` is given.
        """
        facility = facility_code or self.facility_code
        if facility is None:
            raise ValueError("facility_code is required when the client has no certificate")
        nonce = str(self.card_nonce()["nonce"])
        signature = sign_challenge(private_key, card_presence_challenge(facility, nonce))
        request: JsonObject = {
            "Certificate": certificate_pem.decode("ascii"),
            "Nonce": nonce,
            "Signature": base64.b64encode(signature).decode("ascii"),
            "IdentityMethod": identity_method,
            "Consents": list(consents),
        }
        if on is not None:
            request["QualificationConfirmationDate"] = on.strftime("%Y%m%d")
        if arbitrary_file_identifier is not None:
            request["ArbitraryFileIdentifier"] = arbitrary_file_identifier
        return self.confirm_by_card(request)

    def submit_bulk(
        self,
        request: Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
    ) -> JsonObject:
        """OQSmuquc01: answered at once with ``MessageBody.ReceptionNumber``.

        With ``idempotency_key``, sending the same upload again (after a crash) returns the same
        reception instead of starting a second one.
        """
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return self._call("POST", "/v1/bulk", request, headers=headers)

    def submit_bulk_period(
        self, request: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> JsonObject:
        """OQSmuonq01/OQSmuhvq01/OQSmutic01: ``{"Flow", "DateFrom", "DateTo"}``; answered at
        once with a ReceptionNumber, fetched like any bulk check."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return self._call("POST", "/v1/bulk/period", request, headers=headers)

    def fetch_bulk(self, reception_number: str) -> JsonObject:
        """OQSmuquc02: ``MessageHeader.SegmentOfResult`` 2 while processing, 1 when answered."""
        return self._call("GET", f"/v1/bulk/{reception_number}")

    def drug_information(self, request: Mapping[str, Any]) -> JsonObject:
        return self._call("POST", "/v1/drug-information", request)

    def checkups(self, request: Mapping[str, Any]) -> JsonObject:
        return self._call("POST", "/v1/checkups", request)

    # -- the one seam ------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> JsonObject:
        try:
            response = self._http.request(method, path, json=body, headers=headers)
        except httpx.TransportError as exc:
            raise CentralUnavailable(
                f"cannot reach the central service at {self._http.base_url}: {exc}"
            ) from exc
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if response.is_success and isinstance(payload, dict):
            return payload
        if response.status_code == 503:
            # Up, but without its database for a moment (a failover): to be asked again later,
            # like a service that cannot be reached, never answered as a refusal.
            code = payload.get("code") if isinstance(payload, dict) else None
            raise CentralUnavailable(
                f"the central service is temporarily unavailable ({code or 'HTTP 503'}); "
                f"retry after {response.headers.get('retry-after', 'a moment')} s"
            )
        if isinstance(payload, dict) and "code" in payload:
            raise CentralRefused(
                response.status_code, str(payload["code"]), str(payload.get("message", ""))
            )
        raise CentralRefused(
            response.status_code,
            "CENTRAL_ERROR",
            f"unexpected answer (HTTP {response.status_code}) from {path}",
        )

"""Submitting a claims file: what a terminal (or the end-to-end test) does, over mutual TLS."""

from __future__ import annotations

from pathlib import Path

import httpx

from onshi.claims import errors
from onshi.claims.errors import ClaimsError, ClaimsSubmitFailed
from onshi.pki import PkiError, client_ssl_context

__all__ = ["submit_claims"]

# The receiver's codes back to the same classes, so a caller sees one tree on both sides.
_BY_CODE: dict[str, type[ClaimsError]] = {
    kind.code: kind
    for kind in vars(errors).values()
    if isinstance(kind, type) and issubclass(kind, ClaimsError)
}


def submit_claims(
    content: bytes,
    url: str,
    *,
    cert: Path,
    key: Path,
    ca: Path,
    timeout: float = 30.0,
) -> dict[str, object]:
    """POST ``content`` to ``<url>/v1/claims``; the receipt as a dict, or a coded error.

    A refusal by the receiver raises a :class:`ClaimsError` carrying the receiver's code
    (e.g. ``CLAIMS_FACILITY_MISMATCH``); no answer at all raises :class:`ClaimsSubmitFailed`.
    """
    try:
        context = client_ssl_context(cert, key, ca)
    except PkiError as exc:
        raise ClaimsSubmitFailed(str(exc)) from exc
    try:
        with httpx.Client(verify=context, timeout=timeout) as client:
            response = client.post(
                url.rstrip("/") + "/v1/claims",
                content=content,
                headers={"Content-Type": "application/octet-stream"},
            )
    except httpx.HTTPError as exc:
        raise ClaimsSubmitFailed(f"no answer from {url}: {type(exc).__name__}: {exc}") from exc
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code in (200, 201) and isinstance(body, dict) and "receipt" in body:
        return body
    if isinstance(body, dict) and isinstance(body.get("code"), str):
        message = str(body.get("message", ""))
        kind = _BY_CODE.get(body["code"])
        if kind is None:
            raise ClaimsSubmitFailed(f"{body['code']}: {message}")
        raise kind(message)
    raise ClaimsSubmitFailed(f"unexpected answer HTTP {response.status_code} from {url}")

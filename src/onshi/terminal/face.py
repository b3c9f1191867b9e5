"""The terminal's side of a card confirmation at the face-authentication reader.

The reader asks for a nonce (:func:`card_nonce`), has the card sign it, and posts the result
(:func:`confirm_card`) — the protocol of :mod:`onshi.pki.presence`; the terminal relays it. The terminal forwards it to the central service, writes the answer as
``OQS/face/OQSsiquc01res_face_<id>_<yyyyMMddHHmmss>.xml`` (the time last: clients find face
files by that pattern) — the file billing software picks up without having asked — and tells
the reception screen. Nothing personal is logged: the screen gets the
summary through the in-memory event bus only.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Iterable
from typing import Any

from onshi.central.client import CentralRefused, CentralUnavailable
from onshi.oqs import messages as m
from onshi.pki import presence
from onshi.terminal.reception.messages_ja import message_for

log = logging.getLogger(__name__)

FACE_FILE_FAILED = "FACE_FILE_FAILED"
JST = dt.timezone(dt.timedelta(hours=9), "JST")  # face file names carry the JST wall clock


class FaceFileFailed(Exception):
    """The answer came but could not be written to OQS/face (disk full, share gone…)."""

    code = FACE_FILE_FAILED


SUMMARY_FIELDS = ("Name", "NameKana", "InsurerName", "InsuredPartialContributionRatio")
CONSENT_FLAGS = {
    "drug": "PharmacistsInfoConsFlg",
    "checkup": "SpecificHealthCheckupsInfoConsFlg",
    "limit": "LimitApplicationCertificateRelatedConsFlg",
    "diagnosis": "DiagnosisInfoConsFlg",
    "operation": "OperationInfoConsFlg",
}


def facility_of(agent: Any) -> str:
    """The facility the card's signature binds to: the one the client certificate names."""
    return str(getattr(agent.client, "facility_code", None) or agent.settings.facility_code)


def _central_down(agent: Any, exc: CentralUnavailable) -> None:
    if agent.central.set(False, exc.message):
        agent.events.publish("central", **agent.central.as_dict())
    agent.events.publish("error", source="card", code=exc.code, message=message_for(exc.code))


def _central_up(agent: Any) -> None:
    if agent.central.set(True):
        agent.events.publish("central", **agent.central.as_dict())


def card_nonce(agent: Any) -> dict[str, Any]:
    """A fresh nonce from the central service, with the facility the card must sign for."""
    try:
        issued = agent.client.card_nonce()
    except CentralUnavailable as exc:
        _central_down(agent, exc)
        raise
    _central_up(agent)
    nonce = str(issued.get("nonce", ""))
    if not presence.is_nonce(nonce):  # the reader would sign bytes of no protocol we know
        raise CentralRefused(502, "NONCE_INVALID", "the central service sent a malformed nonce")
    return {
        "nonce": nonce,
        "expires_at": issued.get("expires_at"),
        "facility": facility_of(agent),
    }


def summarise(answer: dict[str, Any], consents: Iterable[str]) -> dict[str, Any]:
    """What the screen shows of an answer: validity, name, insurer, ratio, consents given."""
    body = answer.get("MessageBody", {})
    summary: dict[str, Any] = {"QualificationValidity": body.get("QualificationValidity")}
    results = body.get("ResultList", {}).get("ResultOfQualificationConfirmation", [])
    first = results[0] if results else {}
    summary.update({k: first[k] for k in SUMMARY_FIELDS if k in first})
    given = set(consents)
    summary["consents"] = [
        c for c in CONSENT_FLAGS if c in given or first.get(CONSENT_FLAGS[c]) == "1"
    ]
    return summary


def confirm_card(
    agent: Any,
    *,
    certificate_pem: str,
    nonce: str,
    signature: str,
    method: str,
    consents: Iterable[str],
) -> dict[str, Any]:
    """Ask the central service, write the face file, tell the screen; the summary.

    A refusal (CentralRefused: CARD_NOT_LINKED, NONCE_INVALID…) is announced on the screen in
    plain words and re-raised, so the local API can answer the reader 4xx {"code", "message"}.
    """
    consents = list(consents)
    request = {
        "Certificate": certificate_pem,
        "Nonce": nonce,
        "Signature": signature,
        "IdentityMethod": method,
        "Consents": consents,
    }
    try:
        answer = agent.client.confirm_by_card(request)
    except CentralUnavailable as exc:
        _central_down(agent, exc)
        raise
    except CentralRefused as exc:
        _central_up(agent)
        log.info("card confirmation refused by the central service: %s", exc.code)
        agent.events.publish(
            "error", source="card", method=method, code=exc.code, message=message_for(exc.code)
        )
        raise
    _central_up(agent)
    name = m.face_file_name(dt.datetime.now(JST), uuid.uuid4().hex[:12])
    try:
        agent.folders.write_atomically(
            agent.folders.face / name,
            m.render_face_result(answer, encoding=agent.settings.face_encoding),
        )
    except (OSError, m.OqsMessageError) as exc:
        log.error("cannot write the face file: %s", type(exc).__name__)
        agent.events.publish(
            "error", source="card", code=FACE_FILE_FAILED, message=message_for(FACE_FILE_FAILED)
        )
        raise FaceFileFailed() from exc
    summary = {**summarise(answer, consents), "method": method, "face_file": name}
    agent.events.publish("card", **summary)
    return summary

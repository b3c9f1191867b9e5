"""PDF links on the reception screen for a patient just confirmed by card (薬剤情報・特定健診情報).

After a card confirmation whose consent covers drug or checkup information, the screen shows a
link per kind. The link carries a random token, never the insurance card's numbers (URLs end up
in access logs and browser history); the token maps, in this process's memory only, to the card
key the central answer named. Following the link asks the central service through the agent's
client — the consent is checked there, as for a request file — and returns the PDF.
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from onshi.reports import checkup_report_pdf, drug_report_pdf

ReportKind = Literal["drug", "checkup"]
REPORT_LABELS: dict[ReportKind, str] = {"drug": "薬剤情報（PDF）", "checkup": "特定健診情報（PDF）"}
LINK_LIFETIME = dt.timedelta(minutes=30)  # a reception visit, not a standing link
MAX_PATIENTS = 500


@dataclass(frozen=True)
class ConfirmedPatient:
    """What a report request needs: the card key and which kinds the consent covers."""

    insurer: str
    symbol: str
    number: str
    branch: str | None
    kinds: frozenset[ReportKind]
    until: dt.datetime

    def history_request(self) -> dict[str, str]:
        """The body of the central's /v1/drug-information and /v1/checkups."""
        body = {
            "InsurerNumber": self.insurer,
            "InsuranceCardSymbol": self.symbol,
            "InsuredPersonIdentificationNumber": self.number,
        }
        if self.branch:
            body["BranchNumber"] = self.branch
        return body


def _first_result(answer: Mapping[str, Any]) -> Mapping[str, Any]:
    body = answer.get("MessageBody") or {}
    results = (body.get("ResultList") or {}).get("ResultOfQualificationConfirmation") or []
    if isinstance(results, Mapping):
        results = [results]
    return results[0] if results and isinstance(results[0], Mapping) else {}


class ConfirmedPatients:
    """Tokens → patients confirmed in the last 30 minutes (bounded; memory only)."""

    def __init__(self, clock: Callable[[], dt.datetime] | None = None) -> None:
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._lock = threading.Lock()
        self._patients: OrderedDict[str, ConfirmedPatient] = OrderedDict()

    def remember(self, answer: Mapping[str, Any], consents: Iterable[str]) -> list[dict[str, str]]:
        """Links for the kinds the consent covers (none: an empty list, nothing kept)."""
        body = answer.get("MessageBody") or {}
        first = _first_result(answer)
        kinds = frozenset(k for k in consents if k in REPORT_LABELS)
        if body.get("QualificationValidity") != "1" or not kinds or not first.get("InsurerNumber"):
            return []
        patient = ConfirmedPatient(
            insurer=str(first["InsurerNumber"]),
            symbol=str(first.get("InsuredCardSymbol") or ""),
            number=str(first.get("InsuredIdentificationNumber") or ""),
            branch=str(first["InsuredBranchNumber"]) if first.get("InsuredBranchNumber") else None,
            kinds=kinds,
            until=self._clock() + LINK_LIFETIME,
        )
        token = secrets.token_urlsafe(18)
        with self._lock:
            self._expire()
            self._patients[token] = patient
            while len(self._patients) > MAX_PATIENTS:
                self._patients.popitem(last=False)
        return [
            {"kind": kind, "label": label, "url": f"/reports/{token}/{kind}.pdf"}
            for kind, label in REPORT_LABELS.items()
            if kind in kinds
        ]

    def get(self, token: str, kind: str) -> ConfirmedPatient | None:
        with self._lock:
            self._expire()
            patient = self._patients.get(token)
        if patient is None or kind not in patient.kinds:
            return None
        return patient

    def _expire(self) -> None:
        now = self._clock()
        for token in [t for t, p in self._patients.items() if p.until <= now]:
            del self._patients[token]


def report_pdf(client: Any, patient: ConfirmedPatient, kind: ReportKind) -> bytes:
    """Ask the central service for ``kind`` and lay it out (raises CentralClientError)."""
    if kind == "drug":
        return drug_report_pdf(client.drug_information(patient.history_request()))
    return checkup_report_pdf(client.checkups(patient.history_request()))


class RecordingClient:
    """The agent's central client, keeping the card confirmation's answer for the links."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.answer: dict[str, Any] | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def confirm_by_card(self, request: Mapping[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = self._client.confirm_by_card(request)
        self.answer = answer
        return answer


class RecordingAgent:
    """The agent as ``onshi.terminal.face`` sees it, with a :class:`RecordingClient`.

    One per confirmation, so concurrent confirmations never see each other's answers.
    """

    def __init__(self, agent: Any) -> None:
        self._agent = agent
        self.client = RecordingClient(agent.client)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._agent, name)

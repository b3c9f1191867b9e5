"""VPN sessions as the gateway reports them, and operators' requests to cut one.

The control plane never talks to strongSwan: the gateway reports ``up``/``down`` events (and
byte counters) here, and polls :meth:`Sessions.pending_terminations` for the sessions an
operator asked to cut, reporting back with :meth:`Sessions.complete_termination`.
"""

from __future__ import annotations

import datetime as dt
import enum
import ipaddress

from sqlalchemy import select
from sqlalchemy.orm import Session

from onshi.vpn.errors import InvalidInput, UnknownSession
from onshi.vpn.services import audit
from onshi.vpn.services.context import Context, acting_operator
from onshi.vpn.services.views import SessionView, TerminationRequestView
from onshi.vpn.storage import repository as repo
from onshi.vpn.storage import tables as t

GATEWAY = "gateway"


class SessionEventKind(enum.StrEnum):
    UP = "up"
    UPDATE = "update"  # byte counters of a session still up
    DOWN = "down"


def _view(row: t.VpnSession, pending: bool = False) -> SessionView:
    return SessionView(
        id=row.id,
        gateway_session_id=row.gateway_session_id,
        account=row.account,
        device=row.device,
        virtual_address=row.virtual_address,
        started_at=row.started_at,
        ended_at=row.ended_at,
        end_reason=row.end_reason,
        bytes_in=row.bytes_in,
        bytes_out=row.bytes_out,
        termination_requested=pending,
    )


def _naive(at: dt.datetime | None, default: dt.datetime) -> dt.datetime:
    if at is None:
        return default
    if at.tzinfo is not None:
        at = at.astimezone(dt.UTC).replace(tzinfo=None)
    return at.replace(microsecond=0)


class Sessions:
    def __init__(self, context: Context) -> None:
        self._c = context

    def record_event(
        self,
        kind: SessionEventKind,
        gateway_session_id: str,
        *,
        account: str,
        device: str | None = None,
        virtual_address: str | None = None,
        bytes_in: int = 0,
        bytes_out: int = 0,
        at: dt.datetime | None = None,
        reason: str | None = None,
    ) -> SessionView:
        """Record what the gateway saw. Idempotent per ``gateway_session_id``: a repeated ``up``
        updates the same row, a ``down`` for an unknown session creates it already ended."""
        if not gateway_session_id or len(gateway_session_id) > 64:
            raise InvalidInput("a gateway session id is 1–64 characters")
        if virtual_address is not None:
            try:
                virtual_address = str(ipaddress.ip_address(virtual_address))
            except ValueError:
                raise InvalidInput(f"{virtual_address!r} is not an IP address") from None
        if bytes_in < 0 or bytes_out < 0:
            raise InvalidInput("byte counters are not negative")
        now = self._c.now_naive()
        when = _naive(at, now)
        with self._c.db.transaction() as session:
            row = repo.session_by_gateway_id(session, gateway_session_id)
            if row is None:
                row = t.VpnSession(
                    gateway_session_id=gateway_session_id,
                    account=account[:16],
                    device=device,
                    virtual_address=virtual_address,
                    started_at=when,
                    bytes_in=0,
                    bytes_out=0,
                )
                session.add(row)
            row.device = device or row.device
            row.virtual_address = virtual_address or row.virtual_address
            row.bytes_in, row.bytes_out = max(row.bytes_in, bytes_in), max(row.bytes_out, bytes_out)
            if kind is SessionEventKind.DOWN and row.ended_at is None:
                row.ended_at, row.end_reason = when, (reason or "down")[:40]
            session.flush()
            if kind is not SessionEventKind.UPDATE:
                audit.append(
                    session,
                    now=now,
                    actor=GATEWAY,
                    action=f"session.{kind.value}",
                    subject=row.account,
                    detail=f"device={row.device} address={row.virtual_address} "
                    f"in={row.bytes_in} out={row.bytes_out}"
                    + (f" reason={reason}" if reason else ""),
                )
            return _view(row)

    def active(self, account: str | None = None) -> list[SessionView]:
        """Sessions up now (all, or one ID's), oldest first."""
        with self._c.db.sessions() as session:
            query = select(t.VpnSession).where(t.VpnSession.ended_at.is_(None))
            if account is not None:
                query = query.where(t.VpnSession.account == account)
            rows = session.scalars(query.order_by(t.VpnSession.started_at)).all()
            pending = self._pending_ids(session)
            return [_view(r, r.id in pending) for r in rows]

    def recent(self, account: str, limit: int = 20) -> list[SessionView]:
        """An ID's latest connections (up or ended), newest first."""
        with self._c.db.sessions() as session:
            rows = session.scalars(
                select(t.VpnSession)
                .where(t.VpnSession.account == account)
                .order_by(t.VpnSession.started_at.desc(), t.VpnSession.id.desc())
                .limit(max(1, min(limit, 500)))
            ).all()
            pending = self._pending_ids(session)
            return [_view(r, r.id in pending) for r in rows]

    def request_termination(self, session_id: int, *, by: str | None = None) -> int:
        """An operator asks to cut a session; returns the request's id for the gateway."""
        now = self._c.now_naive()
        with self._c.db.transaction() as session:
            actor = acting_operator(session, by)
            row = session.get(t.VpnSession, session_id)
            if row is None or row.ended_at is not None:
                raise UnknownSession(f"there is no active session {session_id}")
            request = t.TerminationRequest(session_id=row.id, requested_by=actor, requested_at=now)
            session.add(request)
            session.flush()
            audit.append(
                session,
                now=now,
                actor=actor,
                action="session.terminate_request",
                subject=row.account,
                detail=f"session={row.id}",
            )
            return request.id

    def pending_terminations(self) -> list[TerminationRequestView]:
        """What the gateway still has to cut."""
        with self._c.db.sessions() as session:
            rows = session.execute(
                select(t.TerminationRequest, t.VpnSession)
                .join(t.VpnSession, t.VpnSession.id == t.TerminationRequest.session_id)
                .where(t.TerminationRequest.completed_at.is_(None))
                .order_by(t.TerminationRequest.id)
            ).all()
            return [
                TerminationRequestView(
                    id=r[0].id,
                    session_id=r[1].id,
                    gateway_session_id=r[1].gateway_session_id,
                    account=r[1].account,
                    device=r[1].device,
                    requested_by=r[0].requested_by,
                    requested_at=r[0].requested_at,
                )
                for r in rows
            ]

    def complete_termination(self, request_id: int, outcome: str = "terminated") -> None:
        """The gateway reports a request done (``terminated``, ``already_gone``, ``failed``…)."""
        now = self._c.now_naive()
        with self._c.db.transaction() as session:
            request = session.get(t.TerminationRequest, request_id)
            if request is None:
                raise UnknownSession(f"there is no termination request {request_id}")
            if request.completed_at is None:
                request.completed_at, request.outcome = now, outcome[:40]
                row = session.get(t.VpnSession, request.session_id)
                audit.append(
                    session,
                    now=now,
                    actor=GATEWAY,
                    action="session.terminate",
                    subject=row.account if row else None,
                    outcome=outcome[:40],
                    detail=f"request={request.id}",
                )

    @staticmethod
    def _pending_ids(session: Session) -> set[int]:
        return set(
            session.scalars(
                select(t.TerminationRequest.session_id).where(
                    t.TerminationRequest.completed_at.is_(None)
                )
            )
        )

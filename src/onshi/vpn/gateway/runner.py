"""The gateway loop: keep charon in sync, enforce limits and timeouts, report session events.

Every tick (≤ 1 s, sooner when charon reports a new session): read the desired state and sync
it (so a change reaches charon well within 5 s), then look at the live sessions once and cut
what the rules in :mod:`onshi.vpn.gateway.sweeper` say.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .charon import Charon, close_vici, open_vici
from .config import CharonConfig, EspEngine, detect_esp_engine
from .directory import Directory, SessionEvent
from .events import EventListener, RawEvent
from .policy import AccessPolicy, Target, apply_ruleset, remove_ruleset, render_ruleset
from .sweeper import Cut, LiveSession, matches, parse_sa, plan_cuts
from .sync import GatewayShape, Synchronizer

logger = logging.getLogger(__name__)

BURST_WAIT = 0.25  # seconds between a session coming up and its limit check


@dataclass(frozen=True)
class GatewayOptions:
    """The gateway's settings (the ``onshi vpn gateway run`` options)."""

    listen: str
    pool: str
    targets: tuple[Target, ...]
    # The IKE identity terminals expect (their profile's gateway id); default: ``listen``.
    gateway_id: str | None = None
    service_nets: tuple[str, ...] = ()
    idle_timeout: int = 24 * 3600
    max_connect: int | None = 24 * 3600
    tick: float = 1.0
    # How often the byte counters of sessions still up are reported (an ``update`` event).
    update_interval: float = 60.0
    state_dir: Path = Path("var/vpn/gateway")
    # Attach to a charon already running (its VICI socket) instead of starting one.
    vici_socket: Path | None = None
    # Prefix for external commands (tests: ``ip netns exec NS``); empty in production.
    wrap: tuple[str, ...] = field(default=())
    debug: bool = False

    @property
    def local_ts(self) -> tuple[str, ...]:
        """The subnets announced to terminals: given, or the /24 of each target.

        kernel-libipsec needs an address of the gateway inside its local traffic selector,
        so a subnet (not a host) is announced; per-host access is nftables' job.
        """
        if self.service_nets:
            return self.service_nets
        nets = {".".join(t.address.split(".")[:3]) + ".0/24" for t in self.targets}
        return tuple(sorted(nets))


class Gateway:
    """One gateway: its charon, its sync, its event listener, its loop."""

    def __init__(self, options: GatewayOptions, directory: Directory) -> None:
        self.options = options
        self.directory = directory
        self.engine: EspEngine | None = None
        self.charon: Charon | None = None
        self.listener: EventListener | None = None
        self.sync: Synchronizer | None = None
        self._session: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.ticks = 0
        self.instance = ""
        self._last_update = time.monotonic()
        # Sessions gone, waiting for their CHILD_SAs' byte counts: ike-id → (event, tick).
        self._pending_down: dict[str, tuple[SessionEvent, int]] = {}

    # -- lifecycle ------------------------------------------------------------------

    def start(self) -> None:
        o = self.options
        self.engine = detect_esp_engine(o.wrap)
        apply_ruleset(
            render_ruleset(AccessPolicy(o.pool, o.targets, self.engine.tunnel_match())), o.wrap
        )
        if o.vici_socket is None:
            self.charon = Charon(CharonConfig(o.state_dir, self.engine, debug=o.debug), wrap=o.wrap)
            self.charon.start()
            vici_path = self.charon.vici_path
        else:
            vici_path = o.vici_socket
        self._session = open_vici(vici_path)
        # Session ids stay unique across charon restarts and the same across ours.
        since = self._session.stats().get("uptime", {}).get("since", b"")
        since = since.decode() if isinstance(since, bytes) else str(since)
        self.instance = "".join(ch for ch in since if ch.isdigit())[:14] or str(int(time.time()))
        shape = GatewayShape(
            o.listen,
            o.pool,
            o.local_ts,
            o.idle_timeout,
            self.engine.encap,
            identity=o.gateway_id or o.listen,
        )
        self.sync = Synchronizer(self._session, shape)
        self._vici_path = vici_path
        self.listener = EventListener(vici_path)
        self.listener.start()
        self.step()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        if self.listener is not None:
            self.listener.stop()
            while self.sync is not None and not self.listener.queue.empty():
                self._report(self.listener.queue.get_nowait())
        self._flush_downs(everything=True)
        if self._session is not None:
            close_vici(self._session)
            self._session = None
        if self.charon is not None:
            self.charon.stop()
            # Only with our charon gone: without the table, forwarding would be unfiltered.
            remove_ruleset(self.options.wrap)

    def alive(self) -> bool:
        """False once a charon this gateway started has exited on its own."""
        return self.charon is None or self.charon.running()

    def run_forever(self) -> None:
        while not self._stop.is_set():
            self._wait_and_step()

    def run_in_thread(self) -> None:
        self._thread = threading.Thread(target=self.run_forever, name="gateway", daemon=True)
        self._thread.start()

    def __enter__(self) -> Gateway:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the loop ---------------------------------------------------------------------

    def _wait_and_step(self) -> None:
        assert self.listener is not None
        deadline = time.monotonic() + self.options.tick
        events: list[RawEvent] = []
        while not self._stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                events.append(self.listener.queue.get(timeout=remaining))
            except queue.Empty:
                break
            # A new session: check the account's limit soon, not at the next tick — but let a
            # burst of logins gather first: every pass lists all SAs, which charon must lock.
            if events[-1].up and events[-1].kind == "ike-updown":
                deadline = min(deadline, time.monotonic() + BURST_WAIT)
        if not self._stop.is_set():
            try:
                self.step(events)
            except Exception as exc:  # noqa: BLE001 - the gateway keeps serving; next tick retries
                logger.error("gateway step failed: %s: %s", type(exc).__name__, exc)

    def step(self, events: Sequence[RawEvent] = ()) -> None:
        """One pass: report events, sync, cut sessions."""
        assert self.sync is not None
        self._flush_downs()
        self.ticks += 1
        for event in events:
            self._report(event)
        state = self.directory.desired_state()
        report = self.sync.sync(state)
        for conn, ike_id, why in report.terminated:
            device = self.sync.devices.get(conn)
            self._record(
                SessionEvent(
                    "terminated",
                    device.account if device else "",
                    device.name if device else conn,
                    session_id=f"{self.instance}-{ike_id}",
                    ike_id=ike_id,
                    reason=why,
                )
            )
        sessions = [
            parse_sa(conn, sa, self.sync.devices, self.instance)
            for conn, _, sa in self.sync.list_ike_sas(noblock=True)
        ]
        terminations = self.directory.take_terminations()
        cuts = plan_cuts(
            sessions,
            limit_of=state.session_limit,
            max_connect=self.options.max_connect,
            terminations=terminations,
        )
        for cut in cuts:
            self._cut(cut)
        if time.monotonic() - self._last_update >= self.options.update_interval:
            self._last_update = time.monotonic()
            cut_ids = {c.session.ike_id for c in cuts}
            for s in sessions:
                if s.is_established and s.account and s.ike_id not in cut_ids:
                    self._record(
                        SessionEvent(
                            "update",
                            s.account,
                            s.device,
                            session_id=s.session_id,
                            ike_id=s.ike_id,
                            virtual_ip=s.virtual_ip,
                            remote_addr=s.remote_addr,
                            bytes_in=s.bytes_in,
                            bytes_out=s.bytes_out,
                        )
                    )
        for t in terminations:
            hit = any(c.kind == "terminated" and matches(t, c.session) for c in cuts)
            try:
                self.directory.done(t, "terminated" if hit else "already_gone")
            except Exception as exc:  # noqa: BLE001 - reported again by the control plane
                logger.error("completing a termination failed: %s", type(exc).__name__)

    def live_sessions(self) -> list[LiveSession]:
        """The established sessions, asked on a VICI session of their own: callers run beside
        the gateway's thread, and one VICI session used by two threads desynchronises (a reply
        read by the wrong thread leaves the other waiting forever)."""
        assert self.sync is not None
        session = open_vici(self._vici_path)
        try:
            listed = Synchronizer(session, self.sync.shape).list_ike_sas()
        finally:
            close_vici(session)
        return [
            s
            for s in (parse_sa(c, sa, self.sync.devices, self.instance) for c, _, sa in listed)
            if s.is_established
        ]

    def _cut(self, cut: Cut) -> None:
        assert self.sync is not None
        s = cut.session
        self.sync.terminate_ike(s.ike_id)
        logger.info("session ike-id %s %s (%s)", s.ike_id, cut.kind, cut.reason)
        self._record(
            SessionEvent(
                cut.kind,
                s.account,
                s.device,
                session_id=s.session_id,
                ike_id=s.ike_id,
                virtual_ip=s.virtual_ip,
                remote_addr=s.remote_addr,
                bytes_in=s.bytes_in,
                bytes_out=s.bytes_out,
                reason=cut.reason,
            )
        )

    def _report(self, event: RawEvent) -> None:
        """Turn charon's events into session events.

        charon reports an IKE_SA's end before its CHILD_SAs' (which carry the byte counts),
        so a ``down`` waits one tick for them.
        """
        assert self.sync is not None
        for conn, sa in event.sas.items():
            s = parse_sa(conn, sa, self.sync.devices, self.instance)
            if event.kind == "child-updown":
                pending = self._pending_down.get(s.ike_id)
                if not event.up and pending is not None:
                    e, tick = pending
                    e = replace(
                        e, bytes_in=e.bytes_in + s.bytes_in, bytes_out=e.bytes_out + s.bytes_out
                    )
                    self._pending_down[s.ike_id] = (e, tick)
                continue
            if not s.account:
                continue
            e = SessionEvent(
                "up" if event.up else "down",
                s.account,
                s.device,
                session_id=s.session_id,
                ike_id=s.ike_id,
                virtual_ip=s.virtual_ip,
                remote_addr=s.remote_addr,
                bytes_in=s.bytes_in,
                bytes_out=s.bytes_out,
            )
            if event.up:
                self._record(e)
            else:
                self._pending_down[s.ike_id] = (e, self.ticks)

    def _flush_downs(self, everything: bool = False) -> None:
        for ike_id, (e, tick) in list(self._pending_down.items()):
            if everything or tick < self.ticks:
                del self._pending_down[ike_id]
                self._record(e)

    def _record(self, event: SessionEvent) -> None:
        try:
            self.directory.record(event)
        except Exception as exc:  # noqa: BLE001 - an event lost must not stop the gateway
            logger.error("recording a session event failed: %s", type(exc).__name__)

"""The VPN control plane's two costly operations, measured in one run.

1. Device certificates: 1,000 issued (ECDSA P-256 key, certificate from the service CA,
   PKCS#12 under a one-time passphrase), once through the CA alone and once through the
   service (``VpnControlPlane.issue_device``: the limit check, the row, the audit entry, one
   transaction each). Target ≤ 10 s.
2. Passwords: argon2id verification with the configured cost (``VpnSettings``) and a few
   alternatives, on 2 threads (argon2-cffi releases the GIL), against a plain SHA-256 call in
   the same run; then full portal logins (``authenticate``: argon2id + lockout bookkeeping +
   audit entry). Target ≥ 50 logins/s on 2 cores.

Prints the figures and the ratio to each target (≥ 1.00 passes). Both wall-clock and CPU time
are shown: on a machine shared with other jobs (see the load average printed first) wall time
overstates the cost, and CPU time per operation gives the capacity of 2 idle cores. Local files
only.

    .venv/bin/python bench/bench_vpn_control.py [--certificates 1000] [--logins 200] [--db URL]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import secrets
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from argon2 import PasswordHasher, Type

from onshi.pki import CertificateAuthority
from onshi.vpn.domain.lifecycle import ApplicationState
from onshi.vpn.services import VpnControlPlane
from onshi.vpn.settings import VpnSettings

CERT_TARGET_SECONDS = 10.0
LOGIN_TARGET_PER_SECOND = 50.0
THREADS = 2
PASSWORD = "Bench-pass-2026"


def _rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


class Timer:
    """Wall-clock and process CPU seconds of a block."""

    def __enter__(self) -> Timer:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *_: object) -> None:
        self.wall = time.perf_counter() - self._wall
        self.cpu = time.process_time() - self._cpu


def bench_ca_only(control: VpnControlPlane, count: int, directory: Path) -> Timer:
    """The CA and PKCS#12 work alone (no database)."""

    devices = control._devices  # the service's own PKCS#12 settings (reaching inside on purpose)
    ca = CertificateAuthority.load_or_create(directory, "bench CA")
    with Timer() as timer:
        for i in range(count):
            issued = ca.issue_device_certificate(f"A000001-001.pc{i}", organisation="bench")
            devices._pkcs12(issued, "abcd-efgh-jkmn-pqrs-tuvw", f"pc{i}")
    return timer


def bench_service_issue(control: VpnControlPlane, count: int) -> Timer:
    """Through the service: 5 devices on each of count/5 IDs (x = 3)."""
    ids = -(-count // 5)
    view = control.submit_application(organisation="bench", ids=ids, extra_certificates=3)
    for state in ("reviewed", "network_configured", "opened"):
        control.advance_application(view.code, ApplicationState(state))
    issued = 0
    with Timer() as timer:
        for account in view.accounts:
            for n in range(5):
                if issued == count:
                    break
                control.issue_device(account, f"pc{n}")
                issued += 1
    return timer


def verification_cost(hasher: PasswordHasher, n: int) -> tuple[float, float]:
    """(CPU seconds per verification, measured sequentially; verifications/s on 2 threads)."""
    stored = hasher.hash(PASSWORD)
    sequential = max(5, n // 4)
    with Timer() as one:
        for _ in range(sequential):
            hasher.verify(stored, PASSWORD)
    with Timer() as threaded, ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(lambda _: hasher.verify(stored, PASSWORD), range(n)))
    return one.cpu / sequential, _rate(n, threaded.wall)


def sha256_per_second(n: int = 200_000) -> float:
    data = PASSWORD.encode() + secrets.token_bytes(16)
    start = time.perf_counter()
    for _ in range(n):
        hashlib.sha256(data).digest()
    return _rate(n, time.perf_counter() - start)


def bench_logins(control: VpnControlPlane, n: int) -> tuple[float, float]:
    """(logins/s on 2 threads, CPU seconds per login)."""
    view = control.submit_application(organisation="logins", ids=THREADS, extra_certificates=0)
    for state in ("reviewed", "network_configured", "opened"):
        control.advance_application(view.code, ApplicationState(state))
    for account in view.accounts:
        control.set_password(account, PASSWORD)
    accounts = list(view.accounts)
    with Timer() as timer, ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(lambda i: control.authenticate(accounts[i % THREADS], PASSWORD), range(n)))
    return _rate(n, timer.wall), timer.cpu / n


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--certificates", type=int, default=1000)
    parser.add_argument("--logins", type=int, default=200)
    parser.add_argument("--db", help="database URL (default: a new SQLite file)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="onshi-vpn-bench-") as tmp:
        root = Path(tmp)
        settings = VpnSettings(
            database_url=args.db or f"sqlite:///{root / 'vpn.sqlite3'}", data_dir=root / "data"
        )
        control = VpnControlPlane.open(settings)
        try:
            load = os.getloadavg()[0]
            print(
                f"database: {control.db.dialect}; load average {load:.1f} on {os.cpu_count()} CPUs"
            )
            n = args.certificates
            ca = bench_ca_only(control, n, root / "bench-ca")
            service = bench_service_issue(control, n)
            print(f"device certificates: {n} issued with key + PKCS#12")
            target = CERT_TARGET_SECONDS * n / 1000  # 10 s for 1,000
            for label, timer in (("CA + PKCS#12 only", ca), ("through the service", service)):
                print(
                    f"  {label:20} wall {timer.wall:6.2f} s, CPU {timer.cpu:6.2f} s "
                    f"({1000 * timer.cpu / n:.1f} ms each); ratio to the "
                    f"{target:.1f} s target: wall {target / timer.wall:.2f}, "
                    f"CPU {target / timer.cpu:.2f}"
                )

            sha = sha256_per_second()
            print(f"passwords ({THREADS} threads); plain SHA-256: {sha:,.0f} calls/s")
            candidates = [
                (
                    "configured",
                    settings.argon2_time_cost,
                    settings.argon2_memory_kib,
                    settings.argon2_parallelism,
                ),
                ("argon2-cffi default, RFC 9106 low-memory", 3, 65_536, 4),
                ("OWASP", 1, 47_104, 1),
                ("OWASP", 2, 19_456, 1),
                ("OWASP", 3, 12_288, 1),
                ("OWASP", 4, 9_216, 1),
                ("OWASP", 5, 7_168, 1),
            ]
            seen: set[tuple[int, int, int]] = set()
            for label, t_cost, m_cost, p in candidates:
                if (t_cost, m_cost, p) in seen:
                    continue
                seen.add((t_cost, m_cost, p))
                hasher = PasswordHasher(
                    time_cost=t_cost, memory_cost=m_cost, parallelism=p, type=Type.ID
                )
                cpu, per_second = verification_cost(hasher, max(20, args.logins // 2))
                capacity = THREADS / cpu
                print(
                    f"  argon2id t={t_cost} m={m_cost} KiB p={p} ({label}): "
                    f"CPU {cpu * 1000:5.1f} ms each → {capacity:6.1f}/s on {THREADS} cores; "
                    f"measured {per_second:6.1f}/s; SHA-256 is {sha / capacity:,.0f}× cheaper"
                )
            logins, login_cpu = bench_logins(control, args.logins)
            capacity = THREADS / login_cpu
            print(
                f"  portal logins (authenticate at the configured cost, lockout + audit): "
                f"CPU {login_cpu * 1000:.1f} ms each → {capacity:.1f}/s on {THREADS} cores, "
                f"measured {logins:.1f}/s; ratio to the {LOGIN_TARGET_PER_SECOND:.0f}/s target: "
                f"capacity {capacity / LOGIN_TARGET_PER_SECOND:.2f}, "
                f"measured {logins / LOGIN_TARGET_PER_SECOND:.2f}"
            )
        finally:
            control.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

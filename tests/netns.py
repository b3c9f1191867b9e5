"""Network namespaces for tests: a lab that builds hosts and links and always tears them down.

Every name starts with ``onshi-t-<pid>-`` so a lab never touches namespaces it did not make;
at start, leftovers of a crashed earlier run (same prefix family, dead pid) are removed. Processes
started in a namespace (charon, echo servers) are stopped by PID. Veth ends are created directly
inside their namespaces, so nothing ever appears in the host's own network.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from onshi.vpn.gateway.charon import Charon
from onshi.vpn.gateway.config import CHARON_BINARY, CharonConfig, EspEngine

PREFIX = "onshi-t-"


def skip_reason() -> str | None:
    """Why netns tests cannot run here, or None."""
    if os.geteuid() != 0:
        return "network namespace tests need root"
    for tool in ("ip", "nft", "unshare"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    if not CHARON_BINARY.exists():
        return f"strongSwan's charon is not installed ({CHARON_BINARY})"
    return None


def _run(command: Sequence[str], *, check: bool = True, timeout: float = 30) -> str:
    result = subprocess.run(list(command), capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {result.stderr.strip()}")
    return result.stdout


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _kill_namespace(name: str) -> None:
    pids = _run(["ip", "netns", "pids", name], check=False).split()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)
    _run(["ip", "netns", "delete", name], check=False)


def clean_leftovers() -> list[str]:
    """Remove namespaces of earlier test runs whose process is gone."""
    removed = []
    for line in _run(["ip", "netns", "list"], check=False).splitlines():
        name = line.split()[0] if line.split() else ""
        if not name.startswith(PREFIX):
            continue
        owner = name[len(PREFIX) :].split("-", 1)[0]
        if owner.isdigit() and not _pid_alive(int(owner)):
            _kill_namespace(name)
            removed.append(name)
    return removed


class Host:
    """One namespace."""

    def __init__(self, lab: Lab, short: str) -> None:
        self.lab = lab
        self.short = short
        self.name = f"{lab.prefix}{short}"

    @property
    def wrap(self) -> list[str]:
        return ["ip", "netns", "exec", self.name]

    def run(self, *command: str, check: bool = True, timeout: float = 30) -> str:
        return _run([*self.wrap, *command], check=check, timeout=timeout)

    def popen(self, *command: str, **kwargs: object) -> subprocess.Popen[bytes]:
        process = subprocess.Popen([*self.wrap, *command], start_new_session=True, **kwargs)  # type: ignore[call-overload]
        self.lab.processes.append(process)
        return process

    def python(
        self, code: str, *args: str, timeout: float = 30
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.wrap, sys.executable, "-c", code, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def charon(self, directory: Path, engine: EspEngine, *, debug: bool = False) -> Charon:
        instance = Charon(CharonConfig(directory, engine, debug=debug), wrap=self.wrap)
        self.lab.charons.append(instance)
        instance.start()
        return instance


class Lab:
    """Namespaces, links and processes of one test module; :meth:`close` removes all of it."""

    _count = 0

    def __init__(self) -> None:
        Lab._count += 1
        clean_leftovers()
        self.prefix = f"{PREFIX}{os.getpid()}-{Lab._count}-"
        self.hosts: list[Host] = []
        self.charons: list[Charon] = []
        self.processes: list[subprocess.Popen[bytes]] = []
        self._links = 0

    def host(self, short: str, *, forwarding: bool = False) -> Host:
        host = Host(self, short)
        _run(["ip", "netns", "add", host.name])
        self.hosts.append(host)
        host.run("ip", "link", "set", "lo", "up")
        if forwarding:
            host.run("sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
        return host

    def link(self, a: Host, a_addr: str, b: Host, b_addr: str) -> tuple[str, str]:
        """A veth pair between two hosts, each end given an address (CIDR) and brought up."""
        self._links += 1
        a_dev, b_dev = f"v{self._links}{b.short}"[:15], f"v{self._links}{a.short}"[:15]
        _run(
            [
                *("ip", "link", "add", a_dev, "netns", a.name, "type", "veth"),
                *("peer", "name", b_dev, "netns", b.name),
            ]
        )
        for host, dev, addr in ((a, a_dev, a_addr), (b, b_dev, b_addr)):
            if addr:
                host.run("ip", "addr", "add", addr, "dev", dev)
            host.run("ip", "link", "set", dev, "up")
        return a_dev, b_dev

    def bridge(self, host: Host, name: str = "br0", addr: str = "") -> str:
        host.run("ip", "link", "add", name, "type", "bridge")
        if addr:
            host.run("ip", "addr", "add", addr, "dev", name)
        host.run("ip", "link", "set", name, "up")
        return name

    def attach(self, bridge_host: Host, bridge: str, other: Host, addr: str) -> str:
        """A veth from ``other`` (with ``addr``) into ``bridge_host``'s bridge."""
        _, near = self.link(other, addr, bridge_host, "")
        bridge_host.run("ip", "link", "set", near, "master", bridge)
        return near

    def close(self) -> None:
        for charon in reversed(self.charons):
            with contextlib.suppress(Exception):
                charon.stop()
        for process in self.processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(5)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGKILL)
                    process.wait(5)
        for host in reversed(self.hosts):
            _kill_namespace(host.name)
        self.hosts.clear()

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


ECHO_SERVER = r"""
import socket, sys, threading
def serve(addr, port, tag):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port)); s.listen(64)
    while True:
        c, _ = s.accept()
        def handle(c=c):
            with c:
                data = c.recv(4096)
                c.sendall(tag.encode() + b":" + data)
        threading.Thread(target=handle, daemon=True).start()
threads = []
for spec in sys.argv[1:]:
    addr, port, tag = spec.split(",")
    t = threading.Thread(target=serve, args=(addr, int(port), tag), daemon=True); t.start()
print("ready", flush=True)
threading.Event().wait()
"""

CONNECT = r"""
import socket, sys
addr, port, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
try:
    s = socket.create_connection((addr, port), timeout=timeout)
    s.sendall(b"ping"); s.settimeout(timeout)
    print(s.recv(4096).decode())
except OSError as e:
    print("FAILED", type(e).__name__)
"""


def start_echo(host: Host, *listeners: tuple[str, int, str]) -> subprocess.Popen[bytes]:
    """A TCP echo server in ``host``: each listener answers ``<tag>:<what it got>``."""
    specs = [f"{a},{p},{t}" for a, p, t in listeners]
    process = host.popen(sys.executable, "-c", ECHO_SERVER, *specs, stdout=subprocess.PIPE)
    assert process.stdout is not None
    line = process.stdout.readline()
    if b"ready" not in line:
        raise RuntimeError("echo server did not start")
    return process


def tcp_exchange(host: Host, addr: str, port: int, timeout: float = 2.0) -> str:
    """Connect from ``host``, send ``ping``; the answer, or ``FAILED <error>``."""
    result = host.python(CONNECT, addr, str(port), str(timeout), timeout=timeout * 3 + 10)
    return result.stdout.strip()


def wait_for(predicate: object, timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(interval)
    return bool(predicate())  # type: ignore[operator]

"""A replicated PostgreSQL for failover tests: one etcd and two PostgreSQL nodes under Patroni.

Everything listens on 127.0.0.1 (free ports) and lives in one temporary folder. PostgreSQL
refuses to run as root, so Patroni (and the PostgreSQL it starts) and etcd run as the
``postgres`` user when the suite runs as root. Patroni runs on the system ``python3`` of the
Debian package (``/usr/bin/patroni``), never the project's venv.

Timings are tuned for a fast failover on loopback (``ttl`` 10 s, ``loop_wait`` 1 s,
``primary_start_timeout`` 0: a crashed primary is replaced by the synchronous standby at once
rather than restarted in place). ``synchronous_mode`` makes every commit wait for the standby,
so a commit the primary reported is on the node that takes over.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.postgres import PostgresUnavailable, _bindir, _free_port

SCOPE = "onshi-test"
PATRONI = "/usr/bin/patroni"
DATABASE = "onshi"


def missing_tools() -> str | None:
    """Why this harness cannot run here, or None."""
    for tool, package in ((PATRONI, "patroni"), ("etcd", "etcd-server")):
        if shutil.which(tool) is None:
            return f"{tool} not found: install the Debian package {package} (./dev test does)"
    try:
        _bindir()
    except PostgresUnavailable as exc:
        return str(exc)
    return None


@dataclass
class Node:
    name: str
    pg_port: int
    api_port: int
    data_dir: Path
    config: Path
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def postmaster_pid(self) -> int:
        return _postmaster_pid(self.data_dir)


def _postmaster_pid(data_dir: Path) -> int:
    """The PID of the postmaster running on ``data_dir`` (first line of ``postmaster.pid``)."""
    return int((data_dir / "postmaster.pid").read_text().split()[0])


class PatroniCluster:
    """Start with :meth:`start`, always :meth:`stop` (it kills by PID and removes the folder)."""

    def __init__(self, nodes: int = 2) -> None:
        self.bindir = _bindir()
        self.root = Path(tempfile.mkdtemp(prefix="onshi-patroni-"))
        self.root.chmod(0o755)
        self.etcd_client_port = _free_port()
        self.etcd_peer_port = _free_port()
        self.etcd: subprocess.Popen[bytes] | None = None
        self.wal_archive = self.root / "wal-archive"
        self.restored: list[Path] = []  # data dirs of servers restored from a backup
        self.nodes = [
            Node(
                name=f"pg{i}",
                pg_port=_free_port(),
                api_port=_free_port(),
                data_dir=self.root / f"pg{i}" / "data",
                config=self.root / f"pg{i}.yml",
                log=self.root / f"pg{i}.log",
            )
            for i in range(1, nodes + 1)
        ]
        self._user: dict[str, Any] = {}
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            self._user = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
            self._home = pw.pw_dir
        else:
            self._home = str(Path.home())

    # -- lifecycle ------------------------------------------------------------------------

    def start(self, timeout: float = 120) -> PatroniCluster:
        self._start_etcd()
        for node in self.nodes:
            self._write_config(node)
        # The first node bootstraps (initdb); the others then clone it with pg_basebackup.
        self._start_node(self.nodes[0])
        self.wait_for(lambda: self.leader() is not None, timeout, "no leader elected")
        for node in self.nodes[1:]:
            self._start_node(node)
        self.wait_for(self._sync_standby_streaming, timeout, "no synchronous standby")
        return self

    def stop(self) -> None:
        """Kill every process this cluster started (by PID, with its process group)."""
        processes = [n.process for n in self.nodes if n.process] + [self.etcd]
        for process in processes:
            if process is not None and process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            if process is None:
                continue
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
        # PostgreSQL may outlive a killed Patroni (it runs in Patroni's process group, but a
        # postmaster started before a crash keeps its own PID file): end any that remain.
        for data_dir in [n.data_dir for n in self.nodes] + self.restored:
            with contextlib.suppress(FileNotFoundError, ValueError, ProcessLookupError):
                os.kill(_postmaster_pid(data_dir), signal.SIGKILL)
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PatroniCluster:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # -- what tests use -------------------------------------------------------------------

    def url(self, database: str = DATABASE, *, user: str = "postgres") -> str:
        """A libpq multi-host URL naming every node: the session lands on the primary."""
        hosts = ",".join(f"127.0.0.1:{n.pg_port}" for n in self.nodes)
        return f"postgresql://{user}@{hosts}/{database}?target_session_attrs=read-write"

    def members(self) -> list[dict[str, Any]]:
        """Patroni's view of the cluster (``GET /cluster`` of any node that answers)."""
        for node in self.nodes:
            try:
                with urllib.request.urlopen(f"{node.api}/cluster", timeout=2) as response:
                    return list(json.load(response).get("members", []))
            except OSError:
                continue
        return []

    def leader(self) -> Node | None:
        for member in self.members():
            if member.get("role") == "leader" and member.get("state") == "running":
                return self.node(member["name"])
        return None

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    def kill_primary(self, *, whole_node: bool = False) -> Node:
        """SIGKILL the leader's postmaster; return that node.

        Its Patroni keeps running and hands over at once, unless ``whole_node``: then Patroni
        is killed first (a server that lost power), and the standby waits for the leader key
        to expire (``ttl``) before it takes over.
        """
        leader = self.leader()
        assert leader is not None, "no leader to kill"
        if whole_node:
            assert leader.process is not None
            os.killpg(leader.process.pid, signal.SIGKILL)
            leader.process.wait(10)
        os.kill(leader.postmaster_pid(), signal.SIGKILL)
        return leader

    def wait_for(self, condition: Any, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} within {timeout:.0f} s; logs:\n{self.logs()}")
            for process in [n.process for n in self.nodes] + [self.etcd]:
                if process is not None and process.poll() is not None:
                    raise RuntimeError(f"a cluster process exited; logs:\n{self.logs()}")
            time.sleep(0.3)

    def logs(self, tail: int = 40) -> str:
        parts = []
        for path in sorted(self.root.glob("*.log")):
            lines = path.read_text(errors="replace").splitlines()[-tail:]
            parts.append(f"== {path.name}\n" + "\n".join(lines))
        return "\n".join(parts)

    # -- internals ------------------------------------------------------------------------

    def _popen(self, args: list[str], log: Path) -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            return subprocess.Popen(
                args,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.root,
                # Its own process group, so stop() ends it and the PostgreSQL it started.
                start_new_session=True,
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": self._home},
                **self._user,
            )

    # -- backups --------------------------------------------------------------------------

    def base_backup(self, name: str) -> Path:
        """``pg_basebackup`` of the primary (plain format, WAL streamed along) into the folder."""
        leader = self.leader()
        assert leader is not None, "no primary to back up"
        target = self.root / "backups" / name
        self._as_postgres(
            str(self.bindir / "pg_basebackup"),
            f"--dbname=host=127.0.0.1 port={leader.pg_port} user=replicator",
            f"--pgdata={target}",
            "--wal-method=stream",
            "--checkpoint=fast",
        )
        return target

    def archive_current_wal(self) -> None:
        """Close the primary's current WAL segment and wait until the archive holds it."""
        import sqlalchemy

        from onshi.db import make_engine

        engine = make_engine(self.url("postgres"))
        try:
            with engine.connect() as connection:
                segment = connection.execute(
                    sqlalchemy.text("SELECT pg_walfile_name(pg_switch_wal())")
                ).scalar_one()
        finally:
            engine.dispose()
        self.wait_for(lambda: (self.wal_archive / segment).exists(), 30, f"{segment} not archived")

    def restore(self, backup: Path) -> str:
        """Start a lone server on ``backup``, replaying the WAL archive to its end, then promoted
        (the restore drill of docs/central/operations.md); return its URL once it accepts writes.
        """
        port = _free_port()
        with (backup / "postgresql.auto.conf").open("a") as conf:
            conf.write(
                f"restore_command = 'cp {self.wal_archive}/%f %p'\n"
                "recovery_target_action = 'promote'\n"
            )
        (backup / "recovery.signal").touch()
        if self._user:
            for path in (backup / "postgresql.auto.conf", backup / "recovery.signal"):
                os.chown(path, self._user["user"], self._user["group"])
        self.restored.append(backup)
        # Patroni's postgresql.conf came along: point it at this copy, alone, on loopback.
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={port} "
            f"-c unix_socket_directories={self.root / 'sock'} "
            f"-c hba_file={backup / 'pg_hba.conf'} -c ident_file={backup / 'pg_ident.conf'} "
            "-c synchronous_standby_names= -c archive_mode=off -c cluster_name=restored"
        )
        self._as_postgres(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(backup),
            "-o",
            options,
            "-l",
            str(self.root / f"restored-{backup.name}.log"),
            "-w",
            "-t",
            "120",
            "start",
        )
        url = f"postgresql://postgres@127.0.0.1:{port}/{DATABASE}"
        self.wait_for(lambda: _accepts_writes(url), 60, "the restored server was not promoted")
        return url

    def _as_postgres(self, *args: str) -> None:
        subprocess.run(
            list(args),
            check=True,
            capture_output=True,
            cwd=self.root,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": self._home},
            timeout=180,
            **self._user,
        )

    def _start_etcd(self) -> None:
        client = f"http://127.0.0.1:{self.etcd_client_port}"
        peer = f"http://127.0.0.1:{self.etcd_peer_port}"
        data = self.root / "etcd"
        self.etcd = self._popen(
            [
                "etcd",
                "--name=etcd1",
                f"--data-dir={data}",
                f"--listen-client-urls={client}",
                f"--advertise-client-urls={client}",
                f"--listen-peer-urls={peer}",
                f"--initial-advertise-peer-urls={peer}",
                f"--initial-cluster=etcd1={peer}",
                "--initial-cluster-state=new",
                "--log-level=warn",
            ],
            self.root / "etcd.log",
        )
        self.wait_for(self._etcd_healthy, 30, "etcd not healthy")

    def _etcd_healthy(self) -> bool:
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.etcd_client_port}/health", timeout=1
            ) as response:
                return bool(json.load(response).get("health") == "true")
        except (OSError, ValueError):
            return False

    def _start_node(self, node: Node) -> None:
        node.data_dir.parent.mkdir(parents=True, exist_ok=True)
        node.data_dir.parent.chmod(0o700)
        if self._user:
            os.chown(node.data_dir.parent, self._user["user"], self._user["group"])
        node.process = self._popen([PATRONI, str(node.config)], node.log)

    def _write_config(self, node: Node) -> None:
        socket_dir = self.root / "sock"
        for folder in (socket_dir, self.wal_archive, self.root / "backups"):
            folder.mkdir(exist_ok=True)
            if self._user:
                os.chown(folder, self._user["user"], self._user["group"])
        config = {
            "scope": SCOPE,
            "name": node.name,
            "log": {"level": "INFO"},
            "restapi": {
                "listen": f"127.0.0.1:{node.api_port}",
                "connect_address": f"127.0.0.1:{node.api_port}",
            },
            "etcd3": {"hosts": f"127.0.0.1:{self.etcd_client_port}"},
            "bootstrap": {
                "dcs": {
                    "ttl": 10,
                    "loop_wait": 1,
                    "retry_timeout": 3,
                    "maximum_lag_on_failover": 1048576,
                    # A crashed primary is replaced at once, not restarted in place.
                    "primary_start_timeout": 0,
                    "synchronous_mode": True,
                    # Two nodes: with strict mode the survivor would refuse writes until the
                    # old primary rejoins. Production runs three nodes and may turn it on.
                    "synchronous_mode_strict": False,
                    "postgresql": {
                        "use_pg_rewind": True,
                        "use_slots": True,
                        "parameters": {
                            "wal_level": "replica",
                            "hot_standby": "on",
                            "wal_log_hints": "on",
                            "max_wal_senders": 10,
                            "max_replication_slots": 10,
                            "max_connections": 100,
                            # Whichever node is primary archives its WAL (docs: backups).
                            "archive_mode": "on",
                            "archive_command": (
                                f"test ! -f {self.wal_archive}/%f && cp %p {self.wal_archive}/%f"
                            ),
                        },
                    },
                },
                "initdb": [{"encoding": "UTF8"}, {"locale": "C.UTF-8"}, "data-checksums"],
                "pg_hba": [
                    "local all all trust",
                    "host replication replicator 127.0.0.1/32 trust",
                    "host all all 127.0.0.1/32 trust",
                ],
            },
            "postgresql": {
                "listen": f"127.0.0.1:{node.pg_port}",
                "connect_address": f"127.0.0.1:{node.pg_port}",
                "data_dir": str(node.data_dir),
                "bin_dir": str(self.bindir),
                "pgpass": str(self.root / f"{node.name}.pgpass"),
                "authentication": {
                    "superuser": {"username": "postgres", "password": "postgres"},
                    "replication": {"username": "replicator", "password": "replicator"},
                    "rewind": {"username": "rewinder", "password": "rewinder"},
                },
                "parameters": {"unix_socket_directories": str(socket_dir)},
            },
            "tags": {"nofailover": False, "noloadbalance": False, "clonefrom": False},
        }
        # JSON is YAML: no YAML writer needed.
        node.config.write_text(json.dumps(config, indent=2))
        if self._user:
            os.chown(node.config, self._user["user"], self._user["group"])

    def _sync_standby_streaming(self) -> bool:
        members = self.members()
        return any(
            m.get("role") == "leader" and m.get("state") == "running" for m in members
        ) and any(
            m.get("role") == "sync_standby" and m.get("state") in ("running", "streaming")
            for m in members
        )


def create_database(cluster: PatroniCluster, name: str = DATABASE) -> None:
    """Create the application database on the primary, through the multi-host URL."""
    import sqlalchemy

    from onshi.db import make_engine

    engine = make_engine(cluster.url("postgres"), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()


def _accepts_writes(url: str) -> bool:
    import sqlalchemy

    from onshi.db import normalise_url

    engine = sqlalchemy.create_engine(normalise_url(url), poolclass=sqlalchemy.pool.NullPool)
    try:
        with engine.connect() as connection:
            return not connection.execute(sqlalchemy.text("SELECT pg_is_in_recovery()")).scalar()
    except sqlalchemy.exc.OperationalError:
        return False
    finally:
        engine.dispose()

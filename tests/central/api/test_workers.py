"""``onshi central serve --workers 2`` on PostgreSQL: the guarantees hold across processes.

The real command runs as a subprocess; the test finds its two worker processes in /proc and,
for every client connection, which worker accepted it (the connection's port on the worker's
side), so "issued by one worker, replayed on the other" is what actually happens.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy
from sqlalchemy import func, select

from onshi import pki
from onshi.central.domain.qualification import CardKey
from onshi.central.services.central import Central
from onshi.central.services.questions import BulkQuestion, BulkRecordQuestion
from onshi.central.settings import CentralSettings
from onshi.central.storage import tables as t
from onshi.oqs.identifiers import MedicalInstitutionCode
from onshi.pki import presence
from tests.central import factories

pytestmark = pytest.mark.postgres

CLINIC = "1311111111"
KEY = CardKey("06139999", "12-34", "4260", "00")
SEARCH = factories.SEARCH
CONNECTIONS = 12


# -- which process holds a connection -----------------------------------------------------------


def child_pids(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
            found.append(int(entry.name))
    return sorted(found)


def socket_inodes(pid: int) -> set[int]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def worker_of_client_port(workers: list[int], server_port: int) -> dict[int, int]:
    """Client-side port of each established connection to ``server_port`` → the worker's pid."""
    peer_of_inode: dict[int, int] = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, state, inode = fields[1], fields[2], fields[3], int(fields[9])
        if state == "01" and int(local.split(":")[1], 16) == server_port:
            peer_of_inode[inode] = int(remote.split(":")[1], 16)
    owner = {}
    for pid in workers:
        for inode in socket_inodes(pid) & set(peer_of_inode):
            owner[peer_of_inode[inode]] = pid
    return owner


# -- the running service ----------------------------------------------------------------------


@dataclass
class Service:
    process: subprocess.Popen[str]
    url: str
    port: int
    workers: list[int]
    ca_path: Path
    cert_path: Path
    key_path: Path
    jpki: pki.CertificateAuthority

    def client(self) -> httpx.Client:
        context = pki.client_ssl_context(self.cert_path, self.key_path, self.ca_path)
        return httpx.Client(base_url=self.url, verify=context, timeout=60)

    def clients_on_each_worker(self) -> dict[int, list[httpx.Client]]:
        """Open keep-alive connections until both workers hold some; clients by worker pid."""
        by_worker: dict[int, list[httpx.Client]] = {pid: [] for pid in self.workers}
        deadline = time.monotonic() + 60
        while not all(by_worker.values()):
            assert time.monotonic() < deadline, "a worker never accepted a connection"
            made = [self.client() for _ in range(CONNECTIONS)]
            ports = []
            for client in made:
                response = client.get("/v1/health")
                assert response.status_code == 200, response.text
                ports.append(response.extensions["network_stream"].get_extra_info("client_addr")[1])
            owner = worker_of_client_port(self.workers, self.port)
            for client, port in zip(made, ports, strict=True):
                if port in owner:  # else the server side is gone already: not usable here
                    by_worker[owner[port]].append(client)
        return by_worker


def env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("ONSHI_")}


@pytest.fixture
def service(postgres_url: str, tmp_path: Path) -> Iterator[Service]:
    settings = CentralSettings(database_url=postgres_url, data_dir=tmp_path / "central")
    central = Central.from_settings(settings)  # CAs, identifier key, migrations: as an operator
    central.register_facility(MedicalInstitutionCode(CLINIC), "オンシ診療所")
    with central.db.transaction() as session:
        factories.qualification(session)
    central.db.dispose()
    ca = pki.CertificateAuthority.load(settings.ca_dir)
    cert_path, key_path = tmp_path / "clinic.cert.pem", tmp_path / "clinic.key.pem"
    ca.issue_facility_certificate(CLINIC, "オンシ診療所").write(cert_path, key_path)
    errors = (tmp_path / "serve.stderr").open("w")  # read it when a test here fails
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "onshi", "central", "serve", "--db", postgres_url),
            *("--data-dir", str(settings.data_dir), "--port", "0", "--workers", "2"),
        ],
        env=env(),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=errors,
        text=True,
        start_new_session=True,  # its own process group: the test can press "Ctrl-C" on it
    )
    try:
        assert process.stdout is not None
        lines: list[str] = []
        while not any("worker processes" in line for line in lines):
            line = process.stdout.readline()
            assert line, f"serve exited: {lines}"
            lines.append(line)
        url = next(w for line in lines for w in line.split() if w.startswith("https://"))
        port = int(url.rsplit(":", 1)[1])
        deadline = time.monotonic() + 30
        while len(child_pids(process.pid)) < 2:
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.05)
        yield Service(
            process,
            url,
            port,
            child_pids(process.pid),
            ca.cert_path,
            cert_path,
            key_path,
            pki.CertificateAuthority.load(settings.jpki_ca_dir),
        )
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
        errors.close()


def link_card(service: Service, postgres_url: str) -> pki.IssuedCertificate:
    settings = CentralSettings(database_url=postgres_url, data_dir=service.ca_path.parent.parent)
    central = Central.from_settings(settings)
    card = service.jpki.issue_card_certificate()
    central.link_card(KEY, card.certificate)
    central.db.dispose()
    return card


def card_body(card: pki.IssuedCertificate, nonce: str) -> dict[str, Any]:
    signature = pki.sign_challenge(card.signing_key, presence.challenge(CLINIC, nonce))
    return {
        "Certificate": card.cert_pem.decode(),
        "Nonce": nonce,
        "Signature": base64.b64encode(signature).decode(),
        "IdentityMethod": "face",
        "Consents": [],
    }


def bulk_body(count: int, tag: str) -> dict[str, Any]:
    return {
        "QualificationConfirmationDate": "20261123",
        "ArbitraryFileIdentifier": tag,
        "QualificationConfirmSearchInfo": [
            {**SEARCH, "ArbitraryIdentifier": f"{tag}-{i}"} for i in range(count)
        ],
    }


def at_once(calls: list[Any]) -> list[httpx.Response]:
    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(lambda call: call(), calls))


# -- the guarantees -----------------------------------------------------------------------------


def test_a_nonce_is_used_once_across_workers(service: Service, postgres_url: str) -> None:
    card = link_card(service, postgres_url)
    (a, *others_a), (b, *others_b) = service.clients_on_each_worker().values()
    nonce = a.post("/v1/eligibility/card/nonce").json()["nonce"]
    body = card_body(card, nonce)
    first = b.post("/v1/eligibility/card", json=body)  # issued by one worker, used on the other
    assert first.status_code == 200, first.text
    replay = a.post("/v1/eligibility/card", json=body)
    assert replay.json()["code"] == "NONCE_INVALID", replay.text
    # Many connections on both workers race with one fresh nonce: exactly one wins.
    racers = [a, b, *others_a, *others_b]
    body = card_body(card, b.post("/v1/eligibility/card/nonce").json()["nonce"])
    answers = at_once([lambda c=c: c.post("/v1/eligibility/card", json=body) for c in racers])
    codes = sorted(r.json().get("code", "OK") if r.status_code != 200 else "OK" for r in answers)
    assert codes == ["NONCE_INVALID"] * (len(racers) - 1) + ["OK"]


def test_the_same_idempotency_key_from_clients_at_once_is_one_reception(
    service: Service, postgres_url: str
) -> None:
    by_worker = service.clients_on_each_worker()
    racers = [c for clients in by_worker.values() for c in clients]
    headers = {"Idempotency-Key": "k" * 64}
    body = bulk_body(50, "retry")
    answers = at_once([lambda c=c: c.post("/v1/bulk", json=body, headers=headers) for c in racers])
    assert all(r.status_code == 202 for r in answers), [r.text for r in answers]
    assert len({r.json()["MessageBody"]["ReceptionNumber"] for r in answers}) == 1
    engine = sqlalchemy.create_engine(postgres_url)
    with engine.connect() as c:
        assert c.scalar(select(func.count()).select_from(t.BulkReception)) == 1
    engine.dispose()


def test_every_bulk_record_is_answered_exactly_once(service: Service, postgres_url: str) -> None:
    """Both workers run a bulk worker; a trigger counts every write of an answer."""
    engine = sqlalchemy.create_engine(postgres_url)
    with engine.begin() as c:
        c.exec_driver_sql("CREATE TABLE answer_write (reception text, seq int)")
        c.exec_driver_sql(
            "CREATE FUNCTION count_answer_write() RETURNS trigger LANGUAGE plpgsql AS $$ "
            'BEGIN INSERT INTO answer_write VALUES (NEW."ReceptionNumber", NEW.seq); '
            "RETURN NEW; END $$"
        )
        c.exec_driver_sql(
            "CREATE TRIGGER answer_write AFTER UPDATE OF result ON bulk_record "
            "FOR EACH ROW EXECUTE FUNCTION count_answer_write()"
        )
    by_worker = service.clients_on_each_worker()
    submitters = [clients[0] for clients in by_worker.values()] * 2
    sizes = [400, 700, 300, 600]
    receipts = at_once(
        [
            lambda c=c, n=n, i=i: c.post("/v1/bulk", json=bulk_body(n, f"batch{i}"))
            for i, (c, n) in enumerate(zip(submitters, sizes, strict=True))
        ]
    )
    numbers = [r.json()["MessageBody"]["ReceptionNumber"] for r in receipts]
    fetcher = submitters[0]
    deadline = time.monotonic() + 120
    for i, (number, size) in enumerate(zip(numbers, sizes, strict=True)):
        while True:
            answer = fetcher.get(f"/v1/bulk/{number}").json()
            if answer["MessageHeader"]["SegmentOfResult"] == "1":
                break
            assert time.monotonic() < deadline, "bulk receptions not answered in time"
            time.sleep(0.2)
        units = answer["MessageBody"]["BulkConfirmUnit"]
        assert answer["MessageHeader"]["NumberOfProcessingResult"] == str(size)
        assert [u["QualificationConfirmSearchInfo"]["ArbitraryIdentifier"] for u in units] == [
            f"batch{i}-{k}" for k in range(size)
        ]
        assert {u["QualificationValidity"] for u in units} == {"1"}
    with engine.connect() as c:
        writes = c.exec_driver_sql(
            "SELECT reception, seq, count(*) FROM answer_write GROUP BY reception, seq"
        ).all()
    engine.dispose()
    assert len(writes) == sum(sizes)
    assert {count for _, _, count in writes} == {1}


def test_ctrl_c_stops_every_worker(service: Service) -> None:
    service.clients_on_each_worker()
    os.killpg(service.process.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    assert service.process.wait(30) == 0
    for pid in service.workers:
        assert not Path(f"/proc/{pid}").exists()  # stopped and reaped


def test_a_worker_that_dies_stops_the_service(service: Service) -> None:
    """Exit 1 and no worker left behind: the operator's supervisor restarts the whole."""
    os.kill(service.workers[0], signal.SIGKILL)
    assert service.process.wait(30) == 1
    assert not Path(f"/proc/{service.workers[1]}").exists()


@pytest.mark.parametrize(
    ("workers", "db", "message"),
    [("0", "sqlite:///x.sqlite3", "at least 1"), ("2", "sqlite:///x.sqlite3", "PostgreSQL")],
)
def test_workers_option_refusals(tmp_path: Path, workers: str, db: str, message: str) -> None:
    result = subprocess.run(
        [
            *(sys.executable, "-m", "onshi", "central", "serve", "--workers", workers),
            *("--db", db, "--data-dir", str(tmp_path), "--port", "0"),
        ],
        env=env(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert message in result.stderr


def test_a_reception_another_worker_holds_is_skipped_not_answered_twice(
    postgres_url: str, tmp_path: Path
) -> None:
    """The claim itself: while one worker holds a reception's row lock, another moves on."""
    settings = CentralSettings(database_url=postgres_url, data_dir=tmp_path / "central")
    central = Central.from_settings(settings)
    facility = MedicalInstitutionCode(CLINIC)
    central.register_facility(facility, "オンシ診療所")
    with central.db.transaction() as session:
        factories.qualification(session)
    records = tuple(BulkRecordQuestion(KEY, dt.date(1980, 4, 1), f"r{i}") for i in range(3))
    number = central.submit_bulk(facility, BulkQuestion(dt.date(2026, 11, 23), records))[
        "MessageBody"
    ]["ReceptionNumber"]
    other_worker = sqlalchemy.create_engine(postgres_url)
    try:
        with other_worker.begin() as c:
            c.execute(
                select(t.BulkReception.ReceptionNumber)
                .where(t.BulkReception.ReceptionNumber == number)
                .with_for_update()
            )
            with ThreadPoolExecutor(1) as pool:  # a lock wait would fail here, not hang the suite
                assert pool.submit(central.process_pending_bulk).result(timeout=30) == 0
        assert central.process_pending_bulk() == 3
        with other_worker.connect() as c:
            answered = c.scalar(
                select(func.count())
                .select_from(t.BulkRecord)
                .where(t.BulkRecord.ReceptionNumber == number, t.BulkRecord.result.is_not(None))
            )
        assert answered == 3
    finally:
        other_worker.dispose()
        central.db.dispose()

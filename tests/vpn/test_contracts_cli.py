"""``onshi vpn`` storing commands, run in-process: JSON keys, files, error codes, exit statuses."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12
from typer.testing import CliRunner

from onshi.vpn.cli import app

PASSWORD = "Clinic-pass-2026"


@pytest.fixture
def run(vpn_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ONSHI_VPN_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("ONSHI_VPN_ARGON2_MEMORY_KIB", "8192")
    data_dir = tmp_path / "data"
    runner = CliRunner()

    def invoke(*args: str, stdin: str | None = None, storing: bool = True):  # type: ignore[no-untyped-def]
        options = ["--db", vpn_db_url, "--data-dir", str(data_dir)] if storing else []
        return runner.invoke(app, [*args, *options], input=stdin)

    return invoke


def _opened(run) -> list[str]:  # type: ignore[no-untyped-def]
    result = run(
        "application",
        "submit",
        "--organisation",
        "さくら薬局",
        "--ids",
        "2",
        "--extra-certificates",
        "0",
        "--submitted",
        "2026-04-01",
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert set(body) == {"application", "accounts"}
    assert body == {"application": "A000001", "accounts": ["A000001-001", "A000001-002"]}
    for state in ("reviewed", "network_configured", "opened"):
        step = run(
            "application",
            "advance",
            "A000001",
            "--to",
            state,
            "--on",
            "2026-04-15",
            "--format",
            "json",
        )
        assert step.exit_code == 0, step.output
        assert json.loads(step.stdout)["state"] == state
    return list(body["accounts"])


def test_application_lifecycle(run) -> None:  # type: ignore[no-untyped-def]
    _opened(run)
    listed = run("application", "list", "--format", "json")
    (only,) = json.loads(listed.stdout)
    assert only["state"] == "opened" and only["standard_opening_date"] == "2026-04-15"
    assert [e["to"] for e in only["events"]] == []  # the list leaves the history out
    shown = json.loads(run("application", "show", "A000001", "--format", "json").stdout)
    assert [e["to"] for e in shown["events"]] == [
        "submitted",
        "reviewed",
        "network_configured",
        "opened",
    ]


@pytest.mark.parametrize(
    ("args", "code", "status"),
    [
        (("--ids", "2", "--extra-certificates", "4"), "VPN_EXTRA_CERTIFICATES", 2),
        (("--ids", "0"), "VPN_ID_COUNT_OUT_OF_RANGE", 2),
        (("--ids", "1", "--submitted", "2026-02-30"), "VPN_INVALID_INPUT", 2),
        (("--ids", "1", "--submitted", "yesterday"), "VPN_INVALID_INPUT", 2),
        (("--ids", "1", "--migration-go-live", "2026-13"), "VPN_INVALID_INPUT", 2),
    ],
)
def test_bad_submissions(run, args: tuple[str, ...], code: str, status: int) -> None:  # type: ignore[no-untyped-def]
    result = run("application", "submit", "--organisation", "a", *args, "--format", "json")
    assert result.exit_code == status
    assert result.stderr.startswith(f"error: {code}: ")
    assert result.stdout == ""
    assert json.loads(run("application", "list", "--format", "json").stdout) == []


def test_illegal_transition_is_a_refusal(run) -> None:  # type: ignore[no-untyped-def]
    run("application", "submit", "--organisation", "a", "--ids", "1")
    result = run("application", "advance", "A000001", "--to", "opened")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: VPN_ILLEGAL_TRANSITION: ")
    bad = run("application", "advance", "A000001", "--to", "live")
    assert bad.exit_code == 2 and "VPN_INVALID_INPUT" in bad.stderr


def test_password_from_standard_input(run) -> None:  # type: ignore[no-untyped-def]
    accounts = _opened(run)
    weak = run("account", "password", accounts[0], stdin="short\n")
    assert weak.exit_code == 2 and weak.stderr.startswith("error: VPN_WEAK_PASSWORD: ")
    assert "short" not in weak.stderr
    ok = run("account", "password", accounts[0], stdin=PASSWORD + "\n")
    assert ok.exit_code == 0, ok.output
    unknown = run("account", "password", "A000009-001", stdin=PASSWORD + "\n")
    assert unknown.exit_code == 1 and "VPN_UNKNOWN_ACCOUNT" in unknown.stderr


def test_device_issue_writes_the_files(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    accounts = _opened(run)
    out = tmp_path / "out"
    result = run(
        "device", "issue", accounts[0], "--name", "pc1", "--out", str(out), "--format", "json"
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert set(body) == {"serial", "subject", "p12", "passphrase", "cert_pem", "key_pem"}
    assert body["subject"] == "CN=A000001-001.pc1,O=さくら薬局"
    for key, mode in (("p12", 0o600), ("key_pem", 0o600), ("cert_pem", 0o644)):
        assert stat.S_IMODE(Path(body[key]).stat().st_mode) == mode
    cert = x509.load_pem_x509_certificate(Path(body["cert_pem"]).read_bytes())
    assert f"{cert.serial_number:X}" == body["serial"]
    _, p12_cert, _ = pkcs12.load_key_and_certificates(
        Path(body["p12"]).read_bytes(), body["passphrase"].encode()
    )
    assert p12_cert == cert
    assert (out / "ca.cert.pem").exists()
    run("device", "issue", accounts[0], "--name", "pc2", "--out", str(out))
    third = run(
        "device", "issue", accounts[0], "--name", "pc3", "--out", str(out), "--format", "json"
    )
    assert third.exit_code == 1
    assert third.stderr.startswith("error: VPN_DEVICE_LIMIT: ")
    assert not list(out.glob("*pc3*"))
    listed = json.loads(run("device", "list", accounts[0], "--format", "json").stdout)
    assert [d["device"] for d in listed] == ["pc1", "pc2"]

    revoked = run("device", "revoke", body["serial"], "--format", "json")
    assert revoked.exit_code == 0 and json.loads(revoked.stdout)["status"] == "revoked"
    again = run("device", "revoke", body["serial"])
    assert again.exit_code == 1 and "VPN_CERTIFICATE_REVOKED" in again.stderr
    crl_path = tmp_path / "crl.pem"
    assert run("crl", "--out", str(crl_path)).exit_code == 0
    crl = x509.load_pem_x509_crl(crl_path.read_bytes())
    assert crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None
    assert run("device", "issue", accounts[0], "--name", "pc3", "--out", str(out)).exit_code == 0


def test_unwritable_output_refuses_before_issuing(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    accounts = _opened(run)
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = run("device", "issue", accounts[0], "--name", "pc1", "--out", str(blocker / "x"))
    assert result.exit_code == 2 and "VPN_INVALID_INPUT" in result.stderr
    assert json.loads(run("device", "list", accounts[0], "--format", "json").stdout) == []


def test_operator_add_and_acting(run) -> None:  # type: ignore[no-untyped-def]
    added = run("operator", "add", "sato", "--role", "operator", stdin="Operator-pass-1\n")
    assert added.exit_code == 0, added.output
    auditor = run("operator", "add", "kato", "--role", "auditor", stdin="Auditor-pass-1\n")
    assert auditor.exit_code == 0
    bad_role = run("operator", "add", "ito", "--role", "root", stdin="Operator-pass-1\n")
    assert bad_role.exit_code == 2
    run("application", "submit", "--organisation", "a", "--ids", "1", "--by", "sato")
    refused = run("application", "advance", "A000001", "--to", "reviewed", "--by", "kato")
    assert refused.exit_code == 1 and "VPN_NOT_PERMITTED" in refused.stderr
    audit = json.loads(run("audit", "--viewer", "kato", "--format", "json").stdout)
    assert audit[0]["action"] == "application.submit" and audit[0]["actor"] == "sato"
    verified = run("audit", "--verify", "--format", "json")
    assert json.loads(verified.stdout)["entries"] == 3


def test_invoice(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _opened(run)
    result = run(
        "invoice", "--month", "2026-05", "--format", "json", "--out", str(tmp_path / "pdf")
    )
    assert result.exit_code == 0, result.output
    (invoice,) = json.loads(result.stdout)
    assert invoice["application"] == "A000001"
    assert invoice["subtotal_yen"] == 2 * 5000 + 2 * 2500
    assert Path(invoice["pdf"]).read_bytes().startswith(b"%PDF")
    april = run("invoice", "--month", "2026-04", "--format", "json")
    assert json.loads(april.stdout) == []
    bad = run("invoice", "--month", "2026-4x")
    assert bad.exit_code == 2 and "VPN_INVALID_INPUT" in bad.stderr


def test_unusable_database(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = CliRunner().invoke(
        app,
        [
            "application",
            "list",
            "--db",
            f"sqlite:///{blocker}/x/db.sqlite3",
            "--data-dir",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 1
    assert result.stderr.startswith("error: VPN_DATABASE: ")


def test_sessions_listed_and_cut(run, vpn_db_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from onshi.vpn.services import SessionEventKind, VpnControlPlane
    from onshi.vpn.settings import VpnSettings

    accounts = _opened(run)
    control = VpnControlPlane.open(VpnSettings(database_url=vpn_db_url, data_dir=tmp_path / "data"))
    try:
        control.record_session_event(
            SessionEventKind.UP,
            "5@1",
            account=accounts[0],
            device="pc1",
            virtual_address="10.99.0.2",
        )
    finally:
        control.close()
    (listed,) = json.loads(run("session", "list", "--format", "json").stdout)
    assert (listed["account"], listed["virtual_address"]) == (accounts[0], "10.99.0.2")
    cut = run("session", "cut", str(listed["id"]))
    assert cut.exit_code == 0, cut.output
    (again,) = json.loads(run("session", "list", "--format", "json").stdout)
    assert again["termination_requested"] is True
    gone = run("session", "cut", "999")
    assert gone.exit_code == 1 and gone.stderr.startswith("error: VPN_UNKNOWN_SESSION: ")
    bad = run("session", "list", "--recent")
    assert bad.exit_code == 2


def test_unlock_and_operator_password(run) -> None:  # type: ignore[no-untyped-def]
    accounts = _opened(run)
    assert run("account", "unlock", accounts[0]).exit_code == 0
    assert run("account", "unlock", "A000009-001").exit_code == 1
    run("operator", "add", "sato", stdin="Operator-pass-1\n")
    reset = run("operator", "password", "sato", stdin="Operator-pass-2\n")
    assert reset.exit_code == 0, reset.output
    weak = run("operator", "password", "sato", stdin="weak\n")
    assert weak.exit_code == 2 and "VPN_WEAK_PASSWORD" in weak.stderr

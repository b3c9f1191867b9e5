"""Operators' and auditors' pages over HTTP on the real services (SQLite and PostgreSQL)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from onshi.vpn.services import SessionEventKind
from tests.vpn.portal.helpers import csrf_of, issue, login, operator_login, post_form
from tests.vpn.portal.world import AUDITOR_PASSWORD, CLINIC_PASSWORD, OPERATOR_PASSWORD, World

FORBIDDEN = "閲覧専用の権限（監査者）では、この操作はできません。"


def _state(world: World, code: str) -> str:
    return {a.id: a.state for a in world.backend.applications()}[code]


def test_operator_advances_an_application(client: TestClient, world: World) -> None:
    assert operator_login(client, "ops1", OPERATOR_PASSWORD).status_code == 303
    page = client.get("/operator/")
    assert world.pending_application in page.text and "申請受付" in page.text
    answer = post_form(
        client,
        "/operator/",
        f"/operator/applications/{world.pending_application}/advance",
        to="reviewed",
    )
    assert answer.status_code == 303
    assert _state(world, world.pending_application) == "reviewed"
    assert "内容確認済み" in client.get("/operator/").text
    entries = world.backend.audit_log(20)
    assert any(
        e.actor == "ops1"
        and e.action == "application.advance"
        and "submitted->reviewed" in e.target
        for e in entries
    )


def test_an_illegal_transition_is_refused_and_nothing_changes(
    client: TestClient, world: World
) -> None:
    operator_login(client, "ops1", OPERATOR_PASSWORD)
    answer = post_form(
        client,
        "/operator/",
        f"/operator/applications/{world.pending_application}/advance",
        to="opened",
    )
    assert answer.status_code == 409
    assert "現在の状態からは、その状態に進めることはできません" in answer.text
    assert _state(world, world.pending_application) == "submitted"


def test_revoked_device_shows_revoked_to_the_clinic(client: TestClient, world: World) -> None:
    login(client, world.account, CLINIC_PASSWORD)
    serial, _ = issue(client, "reception-pc")
    ops = TestClient(client.app, follow_redirects=False)
    operator_login(ops, "ops1", OPERATOR_PASSWORD)
    assert serial in ops.get("/operator/devices").text
    unconfirmed = post_form(ops, "/operator/devices", f"/operator/devices/{serial}/revoke")
    assert unconfirmed.status_code == 422 and "チェックを入れて" in unconfirmed.text
    assert world.backend.devices(world.account)[0].status == "valid"
    answer = post_form(
        ops, "/operator/devices", f"/operator/devices/{serial}/revoke", confirm="yes"
    )
    assert answer.status_code == 303
    row = client.get("/").text.split(f'data-serial="{serial}"')[1].split("</tr>")[0]
    assert "失効" in row
    assert world.backend.devices(world.account)[0].status == "revoked"
    again = post_form(ops, "/operator/", f"/operator/devices/{serial}/revoke", confirm="yes")
    assert again.status_code == 409 and "すでに失効しています" in again.text


def test_cancelling_needs_its_confirmation(client: TestClient, world: World) -> None:
    operator_login(client, "ops1", OPERATOR_PASSWORD)
    action = f"/operator/applications/{world.pending_application}/advance"
    refused = post_form(client, "/operator/", action, to="cancelled")
    assert refused.status_code == 422
    assert _state(world, world.pending_application) == "submitted"
    done = post_form(client, "/operator/", action, to="cancelled", confirm="yes")
    assert done.status_code == 303
    assert _state(world, world.pending_application) == "cancelled"


def test_operator_cuts_a_session(client: TestClient, world: World) -> None:
    view = world.control.record_session_event(
        SessionEventKind.UP, "ike-7", account=world.account, device="reception-pc"
    )
    operator_login(client, "ops1", OPERATOR_PASSWORD)
    assert "reception-pc" in client.get("/operator/sessions").text
    answer = post_form(client, "/operator/sessions", f"/operator/sessions/{view.id}/cut")
    assert answer.status_code == 303
    pending = world.control.pending_terminations()
    assert [p.session_id for p in pending] == [view.id]
    assert "切断要求済み" in client.get("/operator/sessions").text
    missing = post_form(client, "/operator/sessions", "/operator/sessions/99999/cut")
    assert missing.status_code == 404


def test_auditor_reads_but_cannot_act(client: TestClient, world: World) -> None:
    login(client, world.account, CLINIC_PASSWORD)
    serial, _ = issue(client, "reception-pc")
    auditor = TestClient(client.app, follow_redirects=False)
    assert operator_login(auditor, "audit1", AUDITOR_PASSWORD).status_code == 303
    for path in ("/operator/", "/operator/devices", "/operator/sessions", "/operator/audit"):
        page = auditor.get(path)
        assert page.status_code == 200, path
        assert "data-action" not in page.text and "data-to=" not in page.text  # no buttons
    token = csrf_of(auditor.get("/operator/").text)
    for action, fields in (
        (f"/operator/applications/{world.pending_application}/advance", {"to": "reviewed"}),
        (f"/operator/devices/{serial}/revoke", {"confirm": "yes"}),
        ("/operator/sessions/1/cut", {}),
    ):
        answer = auditor.post(action, data={"csrf": token, **fields})
        assert answer.status_code == 403 and FORBIDDEN in answer.text, action
    assert _state(world, world.pending_application) == "submitted"
    assert world.backend.devices(world.account)[0].status == "valid"
    assert any(
        e.actor == "audit1" and e.action == "portal.forbidden" for e in world.backend.audit_log(50)
    )


def test_audit_log_page_lists_the_newest_first(client: TestClient, world: World) -> None:
    operator_login(client, "audit1", AUDITOR_PASSWORD)
    page = client.get("/operator/audit").text
    rows = page.split('id="audit"')[1]
    assert rows.index("operator.login") < rows.index("application.submit")


def test_invoices_month_view_and_pdf(client: TestClient, world: World) -> None:
    operator_login(client, "audit1", AUDITOR_PASSWORD)  # reading invoices is not acting
    before = client.get("/operator/invoices?month=2026-04").text
    assert 'id="no-invoices"' in before  # opened on 4/15: billing starts on 5/1
    page = client.get("/operator/invoices?month=2026-05").text
    row = page.split('id="invoices"')[1]
    assert world.application in row and "さくら内科クリニック" in row
    # First month: initial fee 2 × 5,000, ID fee 2 × 2,500, extra certificates 2 × 350, 10% tax.
    assert "17,270" in row
    pdf = client.get(f"/operator/invoices/2026-05/{world.application}.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-type"] == "application/pdf"
    assert client.get(f"/operator/invoices/2026-04/{world.application}.pdf").status_code == 404
    bad = client.get("/operator/invoices?month=June")
    assert bad.status_code == 422 and "YYYY-MM" in bad.text


def test_operator_wrong_password(client: TestClient, world: World) -> None:
    answer = operator_login(client, "ops1", "Not-the-password-9")
    assert answer.status_code == 401 and "IDまたはパスワードが正しくありません" in answer.text
    assert client.get("/operator/").status_code == 303

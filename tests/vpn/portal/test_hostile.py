"""Hostile and malformed input: a stable answer, a Japanese sentence, nothing stored."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient

from tests.vpn.portal.helpers import csrf_of, login, operator_login, post_form
from tests.vpn.portal.world import CLINIC_PASSWORD, OPERATOR_PASSWORD, World


def test_an_oversized_form_is_refused_before_it_is_read(client: TestClient, world: World) -> None:
    login(client, world.account, CLINIC_PASSWORD)
    token = csrf_of(client.get("/").text)
    answer = client.post("/devices", data={"csrf": token, "name": "x" * 200_000})
    assert answer.status_code == 413 and "大きすぎます" in answer.text
    assert world.backend.devices(world.account) == []


def test_malformed_paths_are_not_found(client: TestClient, world: World) -> None:
    login(client, world.account, CLINIC_PASSWORD)
    for path in (
        "/devices/not-hex!/issued",
        "/devices/ZZ/setup",
        "/devices/ABCDEF/setup",
        "/devices/ABCDEF/profile/swanctl",
        "/nothing-here",
    ):
        answer = client.get(path)
        assert answer.status_code == 404, path
        assert "見つかりません" in answer.text, path


def test_bad_operator_input_changes_nothing(client: TestClient, world: World) -> None:
    operator_login(client, "ops1", OPERATOR_PASSWORD)
    bogus_state = post_form(
        client,
        "/operator/",
        f"/operator/applications/{world.pending_application}/advance",
        to="approved",
    )
    assert bogus_state.status_code == 422 and "入力内容に誤りがあります" in bogus_state.text
    unknown = post_form(
        client, "/operator/", "/operator/applications/A999999/advance", to="reviewed"
    )
    assert unknown.status_code == 404 and "指定された申請が見つかりません" in unknown.text
    bad_serial = post_form(
        client, "/operator/devices", "/operator/devices/XYZ/revoke", confirm="yes"
    )
    assert bad_serial.status_code in (404, 422)
    states = {a.id: a.state for a in world.backend.applications()}
    assert states[world.pending_application] == "submitted"


def test_names_from_outside_are_escaped(client: TestClient, world: World) -> None:
    world.control.submit_application(
        organisation="<script>alert(1)</script>薬局",
        ids=1,
        extra_certificates=0,
        submitted=dt.date(2026, 11, 2),
    )
    operator_login(client, "ops1", OPERATOR_PASSWORD)
    page = client.get("/operator/").text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;薬局" in page

"""Driving the portal over HTTP as a browser would: forms, hidden CSRF fields, cookies."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from httpx import Response

_CSRF = re.compile(r'name="csrf" value="([^"]*)"')


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "the page has no CSRF field"
    return match.group(1)


def login(client: TestClient, account: str, password: str) -> Response:
    page = client.get("/login")
    return client.post(
        "/login", data={"csrf": csrf_of(page.text), "account": account, "password": password}
    )


def operator_login(client: TestClient, name: str, password: str) -> Response:
    page = client.get("/operator/login")
    return client.post(
        "/operator/login", data={"csrf": csrf_of(page.text), "name": name, "password": password}
    )


def post_form(client: TestClient, page_path: str, action: str, **fields: str) -> Response:
    """GET ``page_path`` for this session's CSRF token, then POST ``fields`` to ``action``."""
    page = client.get(page_path)
    assert page.status_code == 200, page.text
    return client.post(action, data={"csrf": csrf_of(page.text), **fields})


def issue(client: TestClient, name: str) -> tuple[str, str]:
    """Issue a device from the home page; (serial, passphrase)."""
    answer = post_form(client, "/", "/devices", name=name)
    assert answer.status_code == 303, answer.text
    serial = answer.headers["location"].split("/")[2]
    page = client.get(answer.headers["location"])
    match = re.search(r'id="passphrase">([^<]+)<', page.text)
    assert match, page.text
    return serial, match.group(1)

"""The medical VPN service's web portal (ユーザーポータル), in Japanese, server-rendered.

app.py          the app factory and shared machinery: sessions, CSRF, headers, logging, errors
clinic.py       clinic staff: login, devices and certificates, profiles, sessions, password, support
operator.py     operators and auditors: applications, certificates, sessions, invoices, audit log
backend.py      the one interface the routes use; services_backend.py implements it on the services
sessions.py     server-side sessions and CSRF tokens;  throttle.py  failed logins per submitted ID
profiles.py     client profile downloads (rendered by onshi.vpn.client.profiles)
content.py      facts from the service description (supported OS, support hours, ports)
messages_ja.py  every code as a Japanese sentence;  settings.py  PortalSettings (ONSHI_VPN_PORTAL_)
server.py       uvicorn in the foreground or a thread
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI


def create_portal_app(backend: Any, settings: Any = None, **kwargs: Any) -> FastAPI:
    """The portal's app on ``backend`` (imported lazily: FastAPI is heavy for other commands)."""
    from onshi.vpn.portal.app import create_portal_app as create

    return create(backend, settings, **kwargs)


__all__ = ["create_portal_app"]

"""The portal's own refusals, in the service's exception tree (:class:`onshi.vpn.errors.VpnError`).

::

    VpnError
    ├── CsrfRejected          VPN_PORTAL_CSRF          403  a POST without this session's token
    ├── ActionForbidden       VPN_PORTAL_FORBIDDEN     403  an auditor (read only) tried to act
    ├── DownloadGone          VPN_PORTAL_DOWNLOAD_GONE 410  the PKCS#12 was downloaded or expired
    ├── NotFound              VPN_PORTAL_NOT_FOUND     404  no such device/application/invoice
    ├── ConfirmationMissing   VPN_PORTAL_NOT_CONFIRMED 422  an irreversible action without its tick
    ├── LoginFailed           VPN_LOGIN_FAILED         401  wrong ID or password (never which)
    └── LoginLocked           VPN_ACCOUNT_LOCKED       429  too many failures, locked for a while

The backend adapter translates the service's own login refusals to the last two.
"""

from __future__ import annotations

from onshi.vpn.errors import VpnError


class CsrfRejected(VpnError):
    code = "VPN_PORTAL_CSRF"
    http_status = 403


class ActionForbidden(VpnError):
    code = "VPN_PORTAL_FORBIDDEN"
    http_status = 403


class DownloadGone(VpnError):
    code = "VPN_PORTAL_DOWNLOAD_GONE"
    http_status = 410


class NotFound(VpnError):
    code = "VPN_PORTAL_NOT_FOUND"
    http_status = 404


class LoginFailed(VpnError):
    """Wrong ID or password (which of the two is never said)."""

    code = "VPN_LOGIN_FAILED"
    http_status = 401


class LoginLocked(VpnError):
    """Too many failures: the service (or the portal's own count) refuses for a while."""

    code = "VPN_ACCOUNT_LOCKED"
    http_status = 429


class ConfirmationMissing(VpnError):
    """Cancelling a contract or revoking a certificate needs its confirmation box ticked."""

    code = "VPN_PORTAL_NOT_CONFIRMED"
    http_status = 422

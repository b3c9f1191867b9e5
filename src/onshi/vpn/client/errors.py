"""The terminal side's exceptions, below :class:`onshi.vpn.errors.VpnError`; each a stable code::

    VpnError                          VPN_ERROR
    └── ClientError                   VPN_CLIENT_ERROR        (terminal side, catch-all)
         ├── ProfileInvalid           VPN_CLIENT_PROFILE_INVALID  bad account/device/host/subnet/CA
         ├── DeviceUnknown            VPN_CLIENT_DEVICE_UNKNOWN   no such device on this account
         ├── DeviceNotUsable          VPN_CLIENT_DEVICE_NOT_USABLE revoked, expired, cancelled
         └── ProbeInvalid             VPN_CLIENT_PROBE_INVALID    an IKE packet that is not one

The doctor does not raise for what it finds: a failed check is a verdict, not an exception.
"""

from __future__ import annotations

from onshi.vpn.errors import VpnError


class ClientError(VpnError):
    code = "VPN_CLIENT_ERROR"


class ProfileInvalid(ClientError):
    code = "VPN_CLIENT_PROFILE_INVALID"
    http_status = 422
    exit_status = 2


class DeviceUnknown(ClientError):
    code = "VPN_CLIENT_DEVICE_UNKNOWN"
    http_status = 404
    exit_status = 2


class DeviceNotUsable(ClientError):
    code = "VPN_CLIENT_DEVICE_NOT_USABLE"
    http_status = 409
    exit_status = 1


class ProbeInvalid(ClientError):
    code = "VPN_CLIENT_PROBE_INVALID"
    http_status = 422
    exit_status = 1

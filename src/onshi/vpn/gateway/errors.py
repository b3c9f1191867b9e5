"""The gateway's exceptions, below :class:`onshi.vpn.errors.VpnError`::

VpnError
└── GatewayError                  VPN_GATEWAY_ERROR        charon or nftables misbehaved
    ├── CharonStartFailed         VPN_GATEWAY_CHARON_START charon exited or never opened its socket
    ├── ViciFailed                VPN_GATEWAY_VICI         charon refused a VICI command
    └── PolicyApplyFailed         VPN_GATEWAY_POLICY       ``nft -f`` refused the ruleset
"""

from __future__ import annotations

from onshi.vpn.errors import VpnError


class GatewayError(VpnError):
    code = "VPN_GATEWAY_ERROR"


class CharonStartFailed(GatewayError):
    code = "VPN_GATEWAY_CHARON_START"


class ViciFailed(GatewayError):
    code = "VPN_GATEWAY_VICI"


class PolicyApplyFailed(GatewayError):
    code = "VPN_GATEWAY_POLICY"

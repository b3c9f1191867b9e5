"""Facts the portal shows as the service description states them (seed 1-6, 2-1, 2-3).

The support desk's hours and the supported terminals are the domain's
(:mod:`onshi.vpn.domain.support`); the ports a clinic's firewall must pass are listed here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from onshi.vpn.domain.support import SUPPORT_HOURS_JA, SUPPORTED_TERMINALS, is_support_open

SUPPORTED_OS = SUPPORTED_TERMINALS
SUPPORT_HOURS = SUPPORT_HOURS_JA
SUPPORTED_OS_NOTES: tuple[str, ...] = (
    "OSベンダのサポートが終了したバージョンのOSを搭載した端末は、サポートの対象外です。",
    "搭載OSの最新バージョンは、検証が完了した後にサポートを開始します。",
)


@dataclass(frozen=True)
class PortRule:
    protocol: str
    ports: str
    direction: str
    note: str


# 2-3 暗号化通信に必要となるポート番号: firewalls, the ISP's equipment, the broadband router and
# the PC's own firewall must pass these, both ways.
REQUIRED_PORTS: tuple[PortRule, ...] = (
    PortRule("UDP", "500", "端末 → VPNゲートウェイ（戻りの通信を含む）", "ISAKMP（IKE）"),
    PortRule(
        "UDP",
        "4500",
        "端末 → VPNゲートウェイ（戻りの通信を含む）",
        "IPsec over UDP（NAT/PAT 利用時）",
    ),
    PortRule("IP プロトコル番号 50（ESP）", "－", "上り・下り", "ESP（NAT/PAT 未使用時）"),
)


def support_open_now(now: dt.datetime | None = None) -> bool:
    return is_support_open(now or dt.datetime.now(dt.UTC))

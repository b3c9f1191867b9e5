"""What every rule needs: the parsed configuration, the site's area, and the roles of interfaces.

An IX configuration does not say which interface is the WAN or the terminal LAN; the roles are
inferred the way an integrator reads a config: the WAN is where the DHCPv6 client, autoselect or
ND proxy lives; the terminal LAN is what the WAN proxies ND to or delegates a prefix to; the
linkage interface is described as such (``Renkei``) or applies a stateful IPv4 filter outbound.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from onshi.edge.areas import Area, Catalog
from onshi.edge.ixconfig.model import Interface, IxConfig

_WAN_WORDS = re.compile(r"\bwan\b", re.IGNORECASE)
_LINKAGE_WORDS = re.compile(r"renkei|linkage|連携", re.IGNORECASE)


@dataclass(frozen=True)
class LintContext:
    config: IxConfig
    area: Area | None
    catalog: Catalog

    @functools.cached_property
    def wan(self) -> Interface | None:
        interfaces = list(self.config.interfaces.values())
        for iface in interfaces:
            if iface.dhcp_client or iface.autoselect or iface.nd_proxy:
                return iface
        return next((i for i in interfaces if _WAN_WORDS.search(i.description)), None)

    @functools.cached_property
    def terminal_lan(self) -> Interface | None:
        wan = self.wan
        if wan is None:
            return None
        interfaces = self.config.interfaces
        if wan.nd_proxy and wan.nd_proxy[0] in interfaces:
            return interfaces[wan.nd_proxy[0]]
        if wan.dhcp_client and wan.dhcp_client[0] in self.config.client_profiles:
            for child in self.config.client_profiles[wan.dhcp_client[0]].children:
                words = child.words
                if (
                    child.startswith("ia-pd", "subscriber")
                    and words[2:3]
                    and words[2] in interfaces
                ):
                    return interfaces[words[2]]
        return next(
            (
                i
                for i in interfaces.values()
                if i is not wan and (i.ipv6_enabled or i.ra_enable or i.dhcp_server)
            ),
            None,
        )

    @functools.cached_property
    def linkage(self) -> Interface | None:
        interfaces = list(self.config.interfaces.values())
        described = next((i for i in interfaces if _LINKAGE_WORDS.search(i.description)), None)
        if described is not None:
            return described
        dynamic = {name for family, name in self.config.dynamic_lists if family == 4}
        return next(
            (i for i in interfaces if any(u.list_name in dynamic for u in i.chain_uses(4, "out"))),
            None,
        )

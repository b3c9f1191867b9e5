"""The parts of an IX configuration the lint reasons about, pulled out of the command tree.

Everything keeps the line it came from, so that findings can point at it. Commands the model does
not know are left alone; entries it cannot read become :attr:`IxConfig.syntax_problems`.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from onshi.edge.ixconfig.filters import Action, Box, FilterEntry, parse_entry
from onshi.edge.ixconfig.parser import Command, ConfigTree, parse


@dataclass
class AccessListEntry:
    line: int
    action: Action
    box: Box


@dataclass
class AccessList:
    name: str
    family: int
    line: int  # first definition
    entries: list[AccessListEntry] = field(default_factory=list)


@dataclass
class DynamicList:
    name: str
    family: int
    line: int
    access: str | None


@dataclass
class FilterUse:
    list_name: str
    seq: int
    direction: str  # "in" | "out"
    line: int
    family: int


@dataclass
class Interface:
    name: str
    line: int
    description: str = ""
    ipv6_enabled: bool = False
    autoselect: bool = False
    dhcp_client: tuple[str, int] | None = None  # profile, line
    dhcp_server: tuple[str, int] | None = None
    nd_proxy: tuple[str, int] | None = None  # target interface, line
    ra_enable: int | None = None  # line
    ra_other_config: int | None = None
    bridge_group: tuple[str, int] | None = None
    address: tuple[str, int] | None = None
    vrf: tuple[str, int] | None = None
    filters: list[FilterUse] = field(default_factory=list)

    def chain_uses(self, family: int, direction: str) -> list[FilterUse]:
        uses = [f for f in self.filters if f.family == family and f.direction == direction]
        return sorted(uses, key=lambda f: (f.seq, f.line))

    @property
    def last_line(self) -> int:
        lines = [self.line] + [f.line for f in self.filters]
        return max(lines)


@dataclass
class ProxyDnsServer:
    address: str
    url_list: str | None
    priority: int | None
    line: int

    @property
    def ipv6(self) -> ipaddress.IPv6Address | None:
        try:
            return ipaddress.IPv6Address(self.address)
        except ValueError:
            return None


@dataclass
class Profile:
    name: str
    line: int
    children: list[Command]


@dataclass
class IxConfig:
    tree: ConfigTree
    access_lists: dict[tuple[int, str], AccessList] = field(default_factory=dict)
    dynamic_lists: dict[tuple[int, str], DynamicList] = field(default_factory=dict)
    interfaces: dict[str, Interface] = field(default_factory=dict)
    bridges: dict[str, Command] = field(default_factory=dict)
    proxy_dns_enable: int | None = None
    proxy_dns_servers: list[ProxyDnsServer] = field(default_factory=list)
    url_lists: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    client_profiles: dict[str, Profile] = field(default_factory=dict)
    server_profiles: dict[str, Profile] = field(default_factory=dict)
    syntax_problems: list[tuple[int, str]] = field(default_factory=list)

    def chain(self, interface: Interface, family: int, direction: str) -> list[FilterEntry]:
        """The entries an interface applies in one direction, in evaluation order."""
        out: list[FilterEntry] = []
        for use in interface.chain_uses(family, direction):
            key = (family, use.list_name)
            stateful = False
            acl = self.access_lists.get(key)
            if acl is None and key in self.dynamic_lists:
                dynamic = self.dynamic_lists[key]
                acl = self.access_lists.get((family, dynamic.access or ""))
                stateful = True
            if acl is None:
                continue  # undefined: the undefined-reference rule says so
            out += [
                FilterEntry(e.action, e.box, e.line, use.list_name, stateful) for e in acl.entries
            ]
        return out

    def last_line(self) -> int:
        lines = [c.line for _, c in self.tree.walk()]
        return max(lines, default=1)


def _family(words: tuple[str, ...]) -> int:
    return 6 if words[0] == "ipv6" else 4


def _access_list(config: IxConfig, command: Command) -> None:
    words = command.words
    family = _family(words)
    if len(words) < 3:
        config.syntax_problems.append((command.line, "access-list without a name"))
        return
    if words[2] == "dynamic":
        if len(words) < 4:
            config.syntax_problems.append((command.line, "dynamic access-list without a name"))
            return
        access = words[words.index("access") + 1] if "access" in words[4:-1] else None
        config.dynamic_lists.setdefault(
            (family, words[3]), DynamicList(words[3], family, command.line, access)
        )
        return
    name = words[2]
    acl = config.access_lists.setdefault((family, name), AccessList(name, family, command.line))
    try:
        action, box = parse_entry(words[3:], family)
    except (ValueError, IndexError) as exc:
        config.syntax_problems.append((command.line, f"cannot read access-list entry: {exc}"))
        return
    acl.entries.append(AccessListEntry(command.line, action, box))


def _arg(words: tuple[str, ...], index: int) -> str | None:
    return words[index] if len(words) > index else None


def _interface(config: IxConfig, command: Command) -> None:
    iface = config.interfaces.setdefault(
        command.words[1], Interface(command.words[1], command.line)
    )
    for child in command.children:
        w, line = child.words, child.line
        if w[0] == "description":
            iface.description = " ".join(w[1:])
        elif w == ("ipv6", "enable"):
            iface.ipv6_enabled = True
        elif w == ("ipv6", "autoselect", "enable"):
            iface.autoselect = True
        elif child.startswith("ipv6", "dhcp", "client") and len(w) > 3:
            iface.dhcp_client = (w[3], line)
        elif child.startswith("ipv6", "dhcp", "server") and len(w) > 3:
            iface.dhcp_server = (w[3], line)
        elif child.startswith("ipv6", "nd", "proxy") and len(w) > 3:
            iface.nd_proxy = (w[3], line)
        elif w == ("ipv6", "nd", "ra", "enable"):
            iface.ra_enable = line
        elif w == ("ipv6", "nd", "ra", "other-config-flag"):
            iface.ra_other_config = line
        elif w[0] == "bridge-group" and len(w) > 1:
            iface.bridge_group = (w[1], line)
        elif child.startswith("ip", "address") and len(w) > 2:
            iface.address = (w[2], line)
        elif child.startswith("ip", "vrf", "forwarding") and len(w) > 3:
            iface.vrf = (w[3], line)
        elif w[0] in ("ip", "ipv6") and len(w) > 1 and w[1] == "filter":
            _filter_use(config, iface, child)


def _filter_use(config: IxConfig, iface: Interface, child: Command) -> None:
    w = child.words
    if len(w) != 5 or not w[3].isdigit() or w[4] not in ("in", "out"):
        config.syntax_problems.append((child.line, f"cannot read filter command {child.text!r}"))
        return
    iface.filters.append(FilterUse(w[2], int(w[3]), w[4], child.line, _family(w)))


def _proxy_dns(config: IxConfig, command: Command) -> None:
    w = command.words
    if w[1:] == ("ipv6", "enable"):
        config.proxy_dns_enable = command.line
    elif len(w) > 2 and w[1] == "server":
        url_list = w[w.index("url-list") + 1] if "url-list" in w[3:-1] else None
        priority = None
        if "priority" in w[3:-1] and w[w.index("priority") + 1].isdigit():
            priority = int(w[w.index("priority") + 1])
        config.proxy_dns_servers.append(ProxyDnsServer(w[2], url_list, priority, command.line))


def build(tree: ConfigTree) -> IxConfig:
    config = IxConfig(tree)
    for command in tree.commands:
        w = command.words
        if w[0] in ("ip", "ipv6") and len(w) > 1 and w[1] == "access-list":
            _access_list(config, command)
        elif w[0] == "interface" and len(w) > 1:
            _interface(config, command)
        elif w[0] == "bridge" and len(w) > 1 and w[1].isdigit():
            config.bridges[w[1]] = command
        elif w[0] == "proxy-dns" and len(w) > 1:
            _proxy_dns(config, command)
        elif w[0] == "url-list" and len(w) >= 5 and w[2:4] == ("permit", "domain"):
            config.url_lists.setdefault(w[1], []).append((w[4], command.line))
        elif command.startswith("ipv6", "dhcp", "client-profile") and len(w) > 3:
            config.client_profiles[w[3]] = Profile(w[3], command.line, command.children)
        elif command.startswith("ipv6", "dhcp", "server-profile") and len(w) > 3:
            config.server_profiles[w[3]] = Profile(w[3], command.line, command.children)
    return config


def load(text: str) -> IxConfig:
    return build(parse(text))

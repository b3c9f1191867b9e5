"""The gateway's access policy as an nftables ruleset rendered from data (アクセス制御).

From the tunnel, only the targets (address . port, TCP) are reachable; terminal-to-terminal
traffic (折り返し, same site or not) and traffic to the gateway itself are dropped. The whole
table is replaced in one ``nft -f`` transaction, so a change is atomic: no moment with no policy.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from .errors import PolicyApplyFailed

logger = logging.getLogger(__name__)

TABLE = "onshi_vpn"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True, order=True)
class Target:
    """A service terminals may reach through the tunnel (対象サービス): name, address, TCP port."""

    name: str
    address: str
    port: int

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(
                f"a target name is letters, digits, '.', '_' or '-', got {self.name!r}"
            )
        if ipaddress.ip_address(self.address).version != 4:
            raise ValueError(f"targets are IPv4 addresses, got {self.address!r}")
        if not 0 < self.port < 65536:
            raise ValueError(f"a port is 1–65535, got {self.port}")

    @classmethod
    def parse(cls, text: str) -> Target:
        """``NAME=ADDR:PORT``, as given on the command line."""
        name, sep, rest = text.partition("=")
        address, colon, port = rest.rpartition(":")
        if not sep or not colon or not port.isdigit():
            raise ValueError(f"a target is NAME=ADDR:PORT, got {text!r}")
        return cls(name.strip(), address.strip(), int(port))


@dataclass(frozen=True)
class AccessPolicy:
    """The data the ruleset is rendered from."""

    pool: str
    targets: tuple[Target, ...]
    tunnel_match: str  # how a decrypted packet is recognised (see EspEngine.tunnel_match)

    def __post_init__(self) -> None:
        ipaddress.ip_network(self.pool, strict=False)


def render_ruleset(policy: AccessPolicy) -> str:
    """The full ``nft -f`` input: create-if-missing, delete, define again — one transaction."""
    pool = str(ipaddress.ip_network(policy.pool, strict=False))
    tunnel = policy.tunnel_match
    pairs = sorted({(ipaddress.ip_address(t.address), t.port) for t in policy.targets})
    elements = ", ".join(f"{address} . {port}" for address, port in pairs)
    targets_set = "    set targets {\n        type ipv4_addr . inet_service\n"
    if elements:
        targets_set += f"        elements = {{ {elements} }}\n"
    targets_set += "    }\n"
    names = ", ".join(f"{t.name}={t.address}:{t.port}" for t in policy.targets) or "none"
    return f"""table inet {TABLE}
delete table inet {TABLE}
table inet {TABLE} {{
    # targets: {names}
{targets_set}
    chain forward {{
        type filter hook forward priority filter; policy drop;
        ct state established,related accept
        ct state invalid drop
        # no hairpin: a terminal never reaches another terminal, same site or not
        {tunnel} ip daddr {pool} counter drop
        ip saddr {pool} ip daddr {pool} counter drop
        {tunnel} ip saddr {pool} ip daddr . tcp dport @targets counter accept
        {tunnel} counter drop
    }}

    chain input {{
        type filter hook input priority filter; policy accept;
        # terminals do not reach the gateway itself
        {tunnel} counter drop
        ip saddr {pool} counter drop
    }}
}}
"""


def apply_ruleset(ruleset: str, wrap: Sequence[str] = ()) -> None:
    """Load ``ruleset`` with ``nft -f -`` in this network namespace (atomic).

    ``wrap`` prefixes the command (tests run it in the gateway's namespace).
    """
    try:
        result = subprocess.run(
            [*wrap, "nft", "-f", "-"], input=ruleset, capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PolicyApplyFailed(f"cannot run nft: {exc}") from exc
    if result.returncode != 0:
        raise PolicyApplyFailed(f"nft refused the ruleset: {result.stderr.strip()}")
    logger.info("access policy applied (table inet %s)", TABLE)


def remove_ruleset(wrap: Sequence[str] = ()) -> None:
    subprocess.run(
        [*wrap, "nft", "delete", "table", "inet", TABLE],
        capture_output=True,
        timeout=30,
        check=False,
    )

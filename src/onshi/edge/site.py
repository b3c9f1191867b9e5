"""The vendor-neutral site profile: the few facts about a clinic that decide its router configuration.

A profile is immutable and validated when built; :func:`SiteProfile.create` turns loose input
(strings from a command line) into one, or raises :class:`~onshi.edge.errors.ProfileError` with a
stable code naming the impossible combination.
"""

from __future__ import annotations

import enum
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from onshi.edge.areas import Area, load_catalog
from onshi.edge.errors import ProfileError


class Layout(enum.StrEnum):
    """How the routers are arranged (the seed's sample layouts)."""

    A = "a"  # router ① (IPv6, OQS side, PPPoE bridge) + router ② (IPv4 linkage side)
    B = "b"  # router ③: one router, VLAN groups, the linkage side in a VRF


class LineMode(enum.StrEnum):
    """How the NGN line hands out IPv6.

    ``ra64``: a /64 by router advertisement (no ひかり電話) — the router proxies ND to the LAN.
    ``pd56``: a /56 by DHCPv6-PD (with ひかり電話) — the router delegates a /64 to the LAN.
    ``auto``: both prepared, the router picks (IX ``ipv6 autoselect enable``; the seed's choice).
    """

    AUTO = "auto"
    RA64 = "ra64"
    PD56 = "pd56"


_E = TypeVar("_E", bound=enum.StrEnum)

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def normalise_domain(text: str) -> str:
    """A url-list domain: ``example.org``, ``*example.org`` (the seed's form) or ``*.example.org``."""
    domain = text.strip().lower().rstrip(".")
    body = domain.removeprefix("*")
    body = body.removeprefix(".")
    labels = body.split(".")
    if not body or len(domain) > 253 or not all(_LABEL.match(label) for label in labels):
        raise ProfileError(f"not a domain pattern: {text!r}", code="edge.profile.domain")
    return domain


@dataclass(frozen=True)
class SiteProfile:
    """What a network integrator knows about the site.

    The defaults are the seed's sample: DNS proxy on the router, addresses 192.168.0.254/24 for
    the terminal's IPv4 linkage NIC and 192.168.1.254/24 for the in-hospital systems.
    """

    area: Area
    layout: Layout
    dns_proxy: bool = True
    line_mode: LineMode = LineMode.AUTO
    extra_domains: tuple[str, ...] = ()
    linkage: ipaddress.IPv4Interface = field(
        default_factory=lambda: ipaddress.IPv4Interface("192.168.0.254/24")
    )
    in_hospital: ipaddress.IPv4Interface = field(
        default_factory=lambda: ipaddress.IPv4Interface("192.168.1.254/24")
    )

    def __post_init__(self) -> None:
        _validate(self)

    @classmethod
    def create(
        cls,
        *,
        area: str | Area,
        layout: str | Layout,
        dns_proxy: bool = True,
        line_mode: str | LineMode = LineMode.AUTO,
        extra_domains: Iterable[str] = (),
        linkage: str | None = None,
        in_hospital: str | None = None,
    ) -> SiteProfile:
        """Build a profile from loose values; every problem becomes a :class:`ProfileError`."""
        return cls(
            area=_choice(Area, area, "area"),
            layout=_choice(Layout, layout, "layout"),
            dns_proxy=dns_proxy,
            line_mode=_choice(LineMode, line_mode, "line mode"),
            extra_domains=_domains(extra_domains),
            linkage=_interface(linkage or "192.168.0.254/24", "linkage"),
            in_hospital=_interface(in_hospital or "192.168.1.254/24", "in-hospital"),
        )

    @property
    def domains(self) -> tuple[str, ...]:
        """The DNS-proxy url-list: the required OQS domains, then the extra ones."""
        return load_catalog().required_domains + self.extra_domains


def _choice(kind: type[_E], value: str | _E, what: str) -> _E:
    try:
        return kind(str(value).lower())
    except ValueError:
        allowed = ", ".join(m.value for m in kind)
        raise ProfileError(
            f"unknown {what} {value!r} (one of: {allowed})", code="edge.profile.choice"
        ) from None


def _domains(values: Iterable[str]) -> tuple[str, ...]:
    required = set(load_catalog().required_domains)
    seen: list[str] = []
    for value in values:
        domain = normalise_domain(value)
        if domain not in required and domain not in seen:
            seen.append(domain)
    return tuple(seen)


def _interface(text: str, what: str) -> ipaddress.IPv4Interface:
    if "/" not in text:
        raise ProfileError(
            f"{what} address {text!r} needs a prefix length (e.g. 192.168.0.254/24)",
            code="edge.profile.address",
        )
    try:
        return ipaddress.IPv4Interface(text)
    except ValueError as exc:
        raise ProfileError(f"{what} address {text!r}: {exc}", code="edge.profile.address") from exc


def _validate(profile: SiteProfile) -> None:
    if profile.extra_domains and not profile.dns_proxy:
        raise ProfileError(
            "extra domains go into the router's DNS-proxy list, but the DNS proxy is off "
            "(--no-dns-proxy): give the terminal the domains instead, or keep the proxy",
            code="edge.profile.domains-without-proxy",
        )
    for domain in profile.extra_domains:
        if normalise_domain(domain) != domain:
            raise ProfileError(f"domain {domain!r} is not normalised", code="edge.profile.domain")
    for what, iface in (("linkage", profile.linkage), ("in-hospital", profile.in_hospital)):
        net = iface.network
        if net.prefixlen > 30:
            raise ProfileError(
                f"{what} segment {net} is too small for a router and a host",
                code="edge.profile.address",
            )
        if iface.ip in (net.network_address, net.broadcast_address):
            raise ProfileError(
                f"{what} router address {iface.ip} is the network or broadcast address of {net}",
                code="edge.profile.address",
            )
        if not net.is_private:
            raise ProfileError(
                f"{what} segment {net} is not a private range: the linkage side never routes to "
                "the Internet",
                code="edge.profile.address",
            )
    if profile.linkage.network.overlaps(profile.in_hospital.network):
        raise ProfileError(
            f"the linkage segment {profile.linkage.network} overlaps the in-hospital segment "
            f"{profile.in_hospital.network}: the router between them cannot route",
            code="edge.profile.overlap",
        )

"""NTT NGN areas (NTT East / West) and the OQS closed network's names — read from ``data/areas.toml``.

The table is data, versioned with the package; nothing here is decided in code.
"""

from __future__ import annotations

import enum
import functools
import ipaddress
import tomllib
from dataclasses import dataclass
from importlib import resources
from typing import Any

from onshi.edge.errors import DataError


class Area(enum.StrEnum):
    """The NTT NGN area of the line: the OQS DNS servers differ between them."""

    EAST = "east"
    WEST = "west"


@dataclass(frozen=True)
class AreaFacts:
    area: Area
    label: str
    seed_comment: str
    oqs_dns: tuple[ipaddress.IPv6Address, ...]
    ngn_dns: tuple[ipaddress.IPv6Address, ...]
    line_auth_host: str

    @property
    def all_dns(self) -> frozenset[ipaddress.IPv6Address]:
        return frozenset(self.oqs_dns + self.ngn_dns)


@dataclass(frozen=True)
class Catalog:
    """Everything the toolkit knows about the closed network, by area."""

    version: str
    required_domains: tuple[str, ...]
    url_list_name: str
    proxy_priorities: tuple[int, ...]
    connectivity_names: tuple[str, ...]
    areas: dict[Area, AreaFacts]

    def area(self, area: Area) -> AreaFacts:
        return self.areas[area]

    def area_of_dns(self, address: ipaddress.IPv6Address) -> Area | None:
        """The area whose OQS or NGN DNS server this is, or None for any other address."""
        for facts in self.areas.values():
            if address in facts.all_dns:
                return facts.area
        return None

    def connectivity_test(self, area: Area | None) -> tuple[str, ...]:
        """The names the field connectivity test resolves (the area's line-auth host if known)."""
        names = self.connectivity_names
        if area is not None:
            names = (*names[:1], self.areas[area].line_auth_host, *names[1:])
        return names


def _v6(values: Any, where: str) -> tuple[ipaddress.IPv6Address, ...]:
    try:
        return tuple(ipaddress.IPv6Address(v) for v in values)
    except (ValueError, TypeError) as exc:
        raise DataError(f"areas.toml: {where}: {exc}") from exc


def parse_catalog(raw: dict[str, Any]) -> Catalog:
    try:
        oqs = raw["oqs"]
        areas = {
            Area(key): AreaFacts(
                area=Area(key),
                label=str(value["label"]),
                seed_comment=str(value["seed_comment"]),
                oqs_dns=_v6(value["oqs_dns"], f"areas.{key}.oqs_dns"),
                ngn_dns=_v6(value["ngn_dns"], f"areas.{key}.ngn_dns"),
                line_auth_host=str(value["line_auth_host"]),
            )
            for key, value in raw["areas"].items()
        }
        catalog = Catalog(
            version=str(raw["version"]),
            required_domains=tuple(str(d) for d in oqs["required_domains"]),
            url_list_name=str(oqs["url_list_name"]),
            proxy_priorities=tuple(int(p) for p in oqs["proxy_priorities"]),
            connectivity_names=tuple(str(n) for n in oqs["connectivity_names"]),
            areas=areas,
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise DataError(f"areas.toml is malformed: {exc!r}") from exc
    if set(areas) != set(Area):
        raise DataError("areas.toml must describe exactly the areas east and west")
    for facts in areas.values():
        if len(facts.oqs_dns) != len(catalog.proxy_priorities):
            raise DataError("areas.toml: one proxy priority per OQS DNS server is needed")
    return catalog


@functools.cache
def load_catalog() -> Catalog:
    """The packaged catalog (read once, on first use — never at import)."""
    text = resources.files("onshi.edge").joinpath("data/areas.toml").read_text(encoding="utf-8")
    return parse_catalog(tomllib.loads(text))

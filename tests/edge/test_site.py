from __future__ import annotations

import ipaddress

import pytest

from onshi.edge.areas import Area, load_catalog
from onshi.edge.errors import EdgeError, ProfileError
from onshi.edge.site import Layout, LineMode, SiteProfile, normalise_domain


def test_defaults_are_the_seed_sample() -> None:
    profile = SiteProfile.create(area="east", layout="a")
    assert profile.area is Area.EAST and profile.layout is Layout.A
    assert profile.dns_proxy and profile.line_mode is LineMode.AUTO
    assert profile.linkage == ipaddress.IPv4Interface("192.168.0.254/24")
    assert profile.in_hospital == ipaddress.IPv4Interface("192.168.1.254/24")
    assert profile.domains == load_catalog().required_domains


def test_extra_domains_are_normalised_and_deduplicated() -> None:
    profile = SiteProfile.create(
        area="west", layout="b", extra_domains=["Kenporen.COM.", "*onshikaku.org", "kenporen.com"]
    )
    assert profile.extra_domains == ("kenporen.com",)
    assert profile.domains[-1] == "kenporen.com"


@pytest.mark.parametrize(
    "bad", ["", "*", "exa mple.org", "-bad.org", "a..b", "*.", "x" * 64 + ".org"]
)
def test_bad_domains_are_refused(bad: str) -> None:
    with pytest.raises(ProfileError) as info:
        normalise_domain(bad)
    assert info.value.code == "edge.profile.domain"


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"area": "north"}, "edge.profile.choice"),
        ({"layout": "c"}, "edge.profile.choice"),
        ({"line_mode": "pppoe"}, "edge.profile.choice"),
        (
            {"dns_proxy": False, "extra_domains": ["rece.example"]},
            "edge.profile.domains-without-proxy",
        ),
        ({"linkage": "192.168.1.1/24"}, "edge.profile.overlap"),
        ({"linkage": "192.168.0.0/16"}, "edge.profile.address"),  # network address
        ({"linkage": "192.168.0.255/24"}, "edge.profile.address"),  # broadcast address
        ({"linkage": "192.168.0.254"}, "edge.profile.address"),  # no prefix length
        ({"linkage": "192.168.0.300/24"}, "edge.profile.address"),
        ({"in_hospital": "8.8.8.1/24"}, "edge.profile.address"),  # not private
        ({"in_hospital": "10.0.0.1/31"}, "edge.profile.address"),
    ],
)
def test_impossible_profiles_raise_with_a_stable_code(kwargs: dict[str, object], code: str) -> None:
    args: dict[str, object] = {"area": "east", "layout": "a"} | kwargs
    with pytest.raises(ProfileError) as info:
        SiteProfile.create(**args)  # type: ignore[arg-type]
    assert info.value.code == code
    assert isinstance(info.value, EdgeError) and str(info.value)


def test_profile_is_immutable() -> None:
    profile = SiteProfile.create(area="east", layout="a")
    with pytest.raises(AttributeError):
        profile.area = Area.WEST  # type: ignore[misc]


def test_catalog_facts() -> None:
    catalog = load_catalog()
    east = catalog.area(Area.EAST)
    assert [str(a) for a in east.oqs_dns] == ["2404:1a8:f583:d00::53:1", "2404:1a8:f583:d00::53:2"]
    assert catalog.area_of_dns(ipaddress.IPv6Address("2001:a7ff:5f01::a")) is Area.WEST
    assert catalog.area_of_dns(ipaddress.IPv6Address("2001:db8::53")) is None
    names = catalog.connectivity_test(Area.WEST)
    assert names[1] == "assv.asc.flets-west.jp" and len(names) == 6
    assert "assv.asc.flets-east.jp" not in catalog.connectivity_test(None)

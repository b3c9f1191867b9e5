"""Renderers: the edge policy printed as one configuration file per router, for each vendor.

``render(profile, vendor)`` returns ``{"router1.cfg": text, "router2.cfg": text}`` for layout A and
``{"router.cfg": text}`` for layout B. Templates live in ``templates/<vendor>/`` and run in a
sandbox (:mod:`onshi.edge.render.environment`); the context is the policy plus the vendor's port
names — a template can print, not decide.
"""

from __future__ import annotations

from typing import Any

from jinja2 import TemplateError

from onshi.edge.errors import RenderError
from onshi.edge.policy import Direction, EdgePolicy, derive_policy
from onshi.edge.render.environment import environment
from onshi.edge.render.vendors import (
    IX_PORTS,
    IX_VLAN_GROUPS,
    LINUX_PORTS,
    RTX_PORTS,
    Vendor,
    bare_domain,
    effective_line_mode,
    rtx_domain,
    rtx_filters,
)
from onshi.edge.site import Layout, SiteProfile

__all__ = ["Vendor", "render", "render_policy"]


def _templates(vendor: Vendor, layout: Layout) -> dict[str, str]:
    if layout is Layout.A:
        return {
            "router1": f"{vendor.value}/layout_a_router1.cfg.j2",
            "router2": f"{vendor.value}/layout_a_router2.cfg.j2",
        }
    return {"router": f"{vendor.value}/layout_b_router.cfg.j2"}


def _context(policy: EdgePolicy, vendor: Vendor) -> dict[str, Any]:
    layout = policy.profile.layout
    context: dict[str, Any] = {
        "policy": policy,
        "line_mode": effective_line_mode(policy, vendor).value,
    }
    if vendor is Vendor.IX:
        context |= {
            "ports": IX_PORTS[layout],
            "vlan_groups": IX_VLAN_GROUPS,
            "switch_device": "GigaEthernet2",
        }
    elif vendor is Vendor.RTX:
        context |= {
            "ports": RTX_PORTS[layout],
            "wan_in": rtx_filters(policy, "wan", Direction.IN, 101000),
            "wan_out": rtx_filters(policy, "wan", Direction.OUT, 101100),
            "link_in": rtx_filters(policy, "linkage", Direction.IN, 200000),
            "link_out": rtx_filters(policy, "linkage", Direction.OUT, 200100),
            "dns_domains": [rtx_domain(d) for d in policy.dns_proxy.domains]
            if policy.dns_proxy
            else [],
        }
    else:
        context |= {
            "ports": LINUX_PORTS[layout],
            "wan_in": policy.chain("wan", Direction.IN),
            "wan_out": policy.chain("wan", Direction.OUT),
            "link_in": policy.chain("linkage", Direction.IN),
            "link_out": policy.chain("linkage", Direction.OUT),
            "dns_domains": [bare_domain(d) for d in policy.dns_proxy.domains]
            if policy.dns_proxy
            else [],
        }
    return context


def render_policy(policy: EdgePolicy, vendor: Vendor) -> dict[str, str]:
    """One configuration text per router of the policy's layout (router name → text)."""
    context = _context(policy, vendor)
    out: dict[str, str] = {}
    for router, name in _templates(vendor, policy.profile.layout).items():
        try:
            out[router] = environment().get_template(name).render(context, router=router)
        except TemplateError as exc:
            raise RenderError(f"template {name} failed: {exc}") from exc
    return out


def render(profile: SiteProfile, vendor: Vendor | str = Vendor.IX) -> dict[str, str]:
    return render_policy(derive_policy(profile), Vendor(vendor))

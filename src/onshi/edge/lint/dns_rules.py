"""Rules about the DNS proxy: which servers, which domains, and that the proxy is switched on."""

from __future__ import annotations

from collections.abc import Iterator

from onshi.edge.areas import Area
from onshi.edge.lint.context import LintContext
from onshi.edge.lint.findings import Finding, Severity
from onshi.edge.lint.registry import finding, rule


def covers(entry: str, required: str) -> bool:
    """Does url-list entry ``entry`` send every name of ``required`` (``*onshikaku.org``) to OQS?"""
    wanted = required.lstrip("*")
    if not entry.startswith("*"):
        return False  # an exact name covers no wildcard
    suffix = entry[1:]
    return wanted.endswith(suffix) or (suffix.startswith(".") and wanted.endswith(suffix[1:]))


@rule("oqs-domains-complete", Severity.ERROR, "the DNS-proxy url-list names every OQS domain")
def oqs_domains_complete(ctx: LintContext) -> Iterator[Finding]:
    config = ctx.config
    used = {s.url_list for s in config.proxy_dns_servers if s.url_list}
    for name in sorted(used & set(config.url_lists)):
        entries = config.url_lists[name]
        missing = [
            d for d in ctx.catalog.required_domains if not any(covers(e, d) for e, _ in entries)
        ]
        if missing:
            yield finding(
                "oqs-domains-complete",
                entries[-1][1],
                f"url-list {name} lacks {', '.join(missing)}: the terminal cannot resolve those "
                "OQS names (add `url-list " + name + " permit domain " + missing[0] + "`)",
            )


def _areas_of_servers(ctx: LintContext) -> dict[Area, list[int]]:
    found: dict[Area, list[int]] = {}
    for server in ctx.config.proxy_dns_servers:
        address = server.ipv6
        area = ctx.catalog.area_of_dns(address) if address else None
        if area is not None:
            found.setdefault(area, []).append(server.line)
    return found


@rule("dns-area-consistent", Severity.ERROR, "DNS servers belong to the site's NTT area only")
def dns_area_consistent(ctx: LintContext) -> Iterator[Finding]:
    found = _areas_of_servers(ctx)
    rid = "dns-area-consistent"
    if ctx.area is not None:
        for area, lines in found.items():
            if area is not ctx.area:
                for line in lines:
                    yield finding(
                        rid,
                        line,
                        f"DNS server of {ctx.catalog.area(area).label} on a "
                        f"{ctx.catalog.area(ctx.area).label} line: it does not answer from "
                        "this area; delete it",
                    )
    elif len(found) > 1:
        second = max(found, key=lambda a: min(found[a]))
        yield finding(
            rid,
            min(found[second]),
            "DNS servers of both NTT East and NTT West: keep only your area's (the sample "
            "lists both; delete the other area's lines)",
        )


@rule("dns-server-redundant", Severity.WARNING, "both of the area's OQS DNS servers are configured")
def dns_server_redundant(ctx: LintContext) -> Iterator[Finding]:
    found = _areas_of_servers(ctx)
    area = ctx.area if ctx.area is not None else (next(iter(found)) if len(found) == 1 else None)
    if area is None:
        return
    facts = ctx.catalog.area(area)
    present = {s.ipv6: s.line for s in ctx.config.proxy_dns_servers if s.ipv6 in facts.oqs_dns}
    if len(present) == 1:
        missing = [str(a) for a in facts.oqs_dns if a not in present]
        yield finding(
            "dns-server-redundant",
            next(iter(present.values())),
            f"only one OQS DNS server of {facts.label}: add {', '.join(missing)} (priority 190) "
            "so that name resolution survives the loss of one",
        )


@rule(
    "dns-proxy-consistent",
    Severity.ERROR,
    "proxy-dns servers and url-lists go with `proxy-dns ipv6 enable`, and the reverse",
)
def dns_proxy_consistent(ctx: LintContext) -> Iterator[Finding]:
    config = ctx.config
    rid = "dns-proxy-consistent"
    lines = [s.line for s in config.proxy_dns_servers]
    lines += [line for entries in config.url_lists.values() for _, line in entries]
    if config.proxy_dns_enable is None and lines:
        yield finding(
            rid,
            min(lines),
            "proxy-dns servers or url-lists without `proxy-dns ipv6 enable`: the router does not "
            "answer DNS, so they do nothing (enable the proxy, or delete them and give the "
            "terminal its DNS servers)",
        )
    if config.proxy_dns_enable is not None and not config.proxy_dns_servers:
        yield finding(
            rid,
            config.proxy_dns_enable,
            "`proxy-dns ipv6 enable` without any `proxy-dns server`: OQS names go to the line's "
            "ordinary DNS and fail",
        )

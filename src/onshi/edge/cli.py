"""Command-line adapter of the network edge toolkit: ``onshi router …`` and ``onshi subsidy``.

Exit status: 0 fine, 1 the check found errors (lint) or a name failed (check-dns), 2 the input
was unusable (bad option, unreadable file, impossible site profile). Errors print their stable
code (``edge.profile.overlap`` …) on standard error.
"""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from onshi.edge.areas import Area, load_catalog
from onshi.edge.errors import ConfigReadError, EdgeError
from onshi.edge.site import Layout, LineMode

router_app = typer.Typer(
    help="Router configurations for the IP-VPN connection method: render, lint, check DNS.",
    no_args_is_help=True,
)


class OutputFormat(enum.StrEnum):
    TEXT = "text"
    JSON = "json"


class VendorChoice(enum.StrEnum):
    IX = "ix"
    RTX = "rtx"
    LINUX = "linux"


class FacilityChoice(enum.StrEnum):
    HOSPITAL = "hospital"
    CLINIC = "clinic"
    PHARMACY = "pharmacy"
    LARGE_CHAIN_PHARMACY = "large-chain-pharmacy"


def _fail(error: EdgeError) -> NoReturn:
    typer.echo(f"error [{error.code}]: {error}", err=True)
    raise typer.Exit(2)


@router_app.command("render")
def render_command(
    layout: Annotated[
        Layout, typer.Option(help="a: router ① + router ②; b: one router, VLANs, VRF")
    ],
    area: Annotated[Area, typer.Option(help="NTT area of the line (decides the DNS servers)")],
    vendor: Annotated[
        VendorChoice, typer.Option(help="ix (NEC), rtx (YAMAHA) or linux")
    ] = VendorChoice.IX,
    no_dns_proxy: Annotated[
        bool, typer.Option("--no-dns-proxy", help="the terminal is given its DNS servers itself")
    ] = False,
    extra_domain: Annotated[
        list[str] | None, typer.Option(help="another domain for the DNS proxy (repeatable)")
    ] = None,
    line_mode: Annotated[
        LineMode, typer.Option(help="auto (router picks), ra64 (RA /64), pd56 (DHCPv6-PD /56)")
    ] = LineMode.AUTO,
    linkage_address: Annotated[
        str, typer.Option(help="router address on the terminal's IPv4 linkage segment")
    ] = "192.168.0.254/24",
    hospital_address: Annotated[
        str, typer.Option(help="router address on the in-hospital segment")
    ] = "192.168.1.254/24",
    out: Annotated[Path | None, typer.Option(help="write one <router>.cfg per router here")] = None,
) -> None:
    """Render the configuration of each router of a site."""
    from onshi.edge.render import render
    from onshi.edge.site import SiteProfile

    try:
        profile = SiteProfile.create(
            area=area,
            layout=layout,
            dns_proxy=not no_dns_proxy,
            line_mode=line_mode,
            extra_domains=extra_domain or (),
            linkage=linkage_address,
            in_hospital=hospital_address,
        )
        configs = render(profile, vendor.value)
    except EdgeError as error:
        _fail(error)
    if out is None:
        for router, text in configs.items():
            typer.echo(f"! {router}")
            typer.echo(text, nl=False)
        return
    try:
        out.mkdir(parents=True, exist_ok=True)
        for router, text in configs.items():
            (out / f"{router}.cfg").write_text(text, encoding="utf-8")
    except OSError as exc:
        _fail(
            ConfigReadError(
                f"cannot write to {out}: {exc.strerror or exc}", code="edge.render.write"
            )
        )
    for router in configs:
        typer.echo(str(out / f"{router}.cfg"))


def read_config(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigReadError(f"{path} is not UTF-8 text") from None
    except OSError as exc:
        raise ConfigReadError(f"cannot read {path}: {exc.strerror or exc}") from None


@router_app.command("lint")
def lint_command(
    file: Annotated[Path, typer.Argument(help="an NEC UNIVERGE IX configuration")],
    area: Annotated[
        Area | None, typer.Option(help="the site's NTT area, to check DNS servers")
    ] = None,
    format: Annotated[OutputFormat, typer.Option("--format")] = OutputFormat.TEXT,
) -> None:
    """Check an IX configuration for the mistakes that break or endanger the connection."""
    from onshi.edge.lint import lint_text

    try:
        report = lint_text(read_config(file), area)
    except EdgeError as error:
        _fail(error)
    if format is OutputFormat.JSON:
        typer.echo(json.dumps(report.as_json(), ensure_ascii=False, indent=2))
    else:
        for f in report.findings:
            typer.echo(f"{file}:{f.line}: {f.severity.value} [{f.rule}] {f.message}")
        errors = sum(1 for f in report.findings if f.severity.value == "error")
        typer.echo(f"{len(report.findings)} finding(s), {errors} error(s)", err=True)
    raise typer.Exit(1 if report.has_errors else 0)


@router_app.command("check-dns")
def check_dns_command(
    server: Annotated[
        str, typer.Option(help="DNS server to ask (IP address: the router or OQS DNS)")
    ],
    port: Annotated[int, typer.Option(help="DNS port")] = 53,
    area: Annotated[
        Area | None, typer.Option(help="NTT area: adds the line-authentication host of the area")
    ] = None,
    timeout: Annotated[float, typer.Option(help="seconds per query")] = 2.0,
    no_edns: Annotated[
        bool, typer.Option("--no-edns", help="plain 512-byte DNS (TCP on truncation)")
    ] = False,
    format: Annotated[OutputFormat, typer.Option("--format")] = OutputFormat.TEXT,
) -> None:
    """Resolve the names of the field connectivity test (疎通確認) through one DNS server."""
    from onshi.edge.dnscheck import check_names

    names = load_catalog().connectivity_test(area)
    try:
        verdicts = check_names(names, server, port, timeout=timeout, edns=not no_edns)
    except EdgeError as error:
        _fail(error)
    ok = all(v.ok for v in verdicts)
    if format is OutputFormat.JSON:
        typer.echo(
            json.dumps(
                {
                    "server": server,
                    "port": port,
                    "ok": ok,
                    "names": [v.as_json() for v in verdicts],
                },
                indent=2,
            )
        )
    else:
        for v in verdicts:
            detail = ", ".join(v.addresses) if v.ok else v.reason
            typer.echo(
                f"{'PASS' if v.ok else 'FAIL'}  {v.name}  {detail}"
                + (f"  ({v.reason})" if v.ok else "")
            )
        if area is None:
            typer.echo("note: give --area to check the line-authentication host too", err=True)
    raise typer.Exit(0 if ok else 1)


def subsidy(
    facility: Annotated[FacilityChoice, typer.Option(help="kind of facility")],
    readers: Annotated[int, typer.Option(help="face-auth card readers introduced")],
    cost: Annotated[int, typer.Option(help="other costs, yen, tax included")],
    table: Annotated[str, typer.Option(help="rule table version")] = "2021",
    format: Annotated[OutputFormat, typer.Option("--format")] = OutputFormat.TEXT,
) -> None:
    """Estimate the subsidy for introducing online eligibility verification (2021 table)."""
    from onshi.edge.subsidy import estimate, load_table

    try:
        result = estimate(facility.value, readers, cost, load_table(table))
    except EdgeError as error:
        _fail(error)
    if format is OutputFormat.JSON:
        typer.echo(json.dumps(result.as_json()))
        return
    typer.echo(f"free face-auth card readers: {result.free_readers}")
    typer.echo(
        f"subsidy: {result.subsidy_yen:,} yen (rate {result.rate}, cap {result.cap_yen:,} yen)"
    )

"""``onshi demo``: a whole clinic on one machine, on an embedded SQLite database.

The central eligibility service (HTTPS with client certificates, 127.0.0.1:8443), the
facility's eligibility terminal agent watching ``var/OQS``, its reception screen and the card
reader's local API on 127.0.0.1:8780, a sample population, and a few virtual My Number cards.
It uses the very defaults of every other command (settings and ``ONSHI_…`` environment), so
that each command of the README works beside it unchanged: the central service under
``var/central``, the facility certificate in ``var/facility``, the agent under
``var/terminal``. A second start reuses all of it.
"""

from __future__ import annotations

import datetime as dt
import os
import shlex
import shutil
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

if TYPE_CHECKING:
    from onshi.demo_vpn import VpnSeed

DATA_ROOT = Path("var")
DEMO_FACILITY = "1311111111"
DEMO_FACILITY_NAME = "オンシ デモ診療所"
DEMO_CARDS = 3
DEMO_PIN = "1234"
DEMO_CLAIMS_PORT = 8444


def demo(
    db: Annotated[
        str | None,
        typer.Option(
            help="Central database URL (default: ONSHI_CENTRAL_DATABASE_URL or var/central)."
        ),
    ] = None,
    oqs_dir: Annotated[
        Path | None,
        typer.Option(help="The shared OQS folder (default: ONSHI_TERMINAL_OQS_DIR or var/OQS)."),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            help="Port of the reception screen and the reader's local API (default 8780; 0: any)."
        ),
    ] = None,
    central_port: Annotated[
        int | None,
        typer.Option(help="Port of the central service's API (default 8443; 0: any)."),
    ] = None,
    vpn_port: Annotated[
        int | None,
        typer.Option(
            help="Port of the medical VPN's portal (default: ONSHI_VPN_PORT or 8790; 0: any)."
        ),
    ] = None,
    claims_port: Annotated[
        int | None,
        typer.Option(
            help="Port of the claims receiver (default: ONSHI_CLAIMS_PORT or 8444; 0: any)."
        ),
    ] = None,
    facility: Annotated[
        str, typer.Option(help="The demo facility's MedicalInstitutionCode.")
    ] = DEMO_FACILITY,
) -> None:
    """Start the demo stack: central service, terminal agent, reception screen, sample data."""
    from onshi.central.api import create_app
    from onshi.central.api.server import BackgroundServer, ensure_server_tls
    from onshi.central.cli import (
        add_facility,
        api_examples,
        load_sample_data,
        sample_person,
        settings_from_options,
    )
    from onshi.central.services.central import Central
    from onshi.logs import configure_logging
    from onshi.terminal.cli import build_settings, start_agent
    from onshi.terminal.reception import ReceptionServer

    configure_logging()
    settings = settings_from_options(database_url=db, host="127.0.0.1", port=central_port)
    defaults = build_settings(oqs_dir=oqs_dir, port=port, facility_code=facility)
    DATA_ROOT.mkdir(parents=True, exist_ok=True)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    central = Central.from_settings(settings)
    load_sample_data(central, DATA_ROOT)
    cert, key, ca = add_facility(
        settings, facility, DEMO_FACILITY_NAME, defaults.cert_path.parent, central
    )
    tls = ensure_server_tls(settings.data_dir, settings.ca_dir, settings.host)
    try:
        server = BackgroundServer(
            create_app(central, settings), tls, host=settings.host, port=settings.port
        ).start()
    except OSError as exc:
        central.db.dispose()
        _port_in_use("central service", settings.port, exc, "--central-port")
    terminal = build_settings(
        oqs_dir=defaults.oqs_dir.resolve(),
        state_dir=defaults.state_dir.resolve(),
        central_url=server.url,
        facility_code=facility,
        cert_path=cert.resolve(),
        key_path=key.resolve(),
        ca_path=ca.resolve(),
        port=defaults.port,
    )
    cards = demo_cards(central, settings.jpki_ca_dir, terminal.state_dir / "cards")
    person = sample_person(central)
    example = write_example_request(person, (DATA_ROOT / "examples").resolve(), facility)
    examples = (
        api_examples(
            server.url,
            settings.database_url,
            settings.data_dir.resolve(),
            cert.resolve(),
            key.resolve(),
            ca.resolve(),
            person,
            program(),
        )
        if person
        else None
    )
    agent = start_agent(terminal)
    # What Ctrl-C stops, in order: open reception screens end their streams (no wait); the
    # agent's keep-alive connection would hold the central's shutdown.
    stops: list[Callable[[], object]] = [
        agent.stop,
        agent.client.close,
        lambda: server.stop(timeout=3),
        central.db.dispose,
    ]
    try:
        screen = ReceptionServer(agent, terminal.host, terminal.port, log_level="warning").start()
    except OSError as exc:
        _stop(stops)
        _port_in_use("reception screen", terminal.port, exc, "--port")
    stops[:0] = [agent.events.close, lambda: screen.stop(timeout=3)]
    vpn = start_vpn(vpn_port, stops)
    claims = start_claims(claims_port, settings.ca_dir, facility, stops)
    guide = (
        _guide(screen.url, server.url, settings.database_url, terminal, cards, example, examples)
        + vpn_guide(vpn, claims, cert.resolve(), key.resolve(), ca.resolve())
        + "\nCtrl-C stops everything.\n"
    )
    try:
        # Inside the try: a Ctrl-C sent as soon as the guide is read must not escape.
        typer.echo(guide)
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        _stop(stops)


def _stop(stops: list[Callable[[], object]]) -> None:
    for stop in stops:
        stop()


@dataclass(frozen=True)
class VpnDemo:
    url: str
    database_url: str
    seed: VpnSeed


def start_vpn(port: int | None, stops: list[Callable[[], object]]) -> VpnDemo:
    """The VPN control plane on its default database, seeded once, and its portal."""
    from onshi.demo_vpn import seed
    from onshi.vpn.portal import create_portal_app
    from onshi.vpn.portal.server import PortalServer
    from onshi.vpn.portal.services_backend import ServicesBackend
    from onshi.vpn.portal.settings import PortalSettings
    from onshi.vpn.services import VpnControlPlane
    from onshi.vpn.settings import VpnSettings

    given: dict[str, Any] = {"host": "127.0.0.1"} | ({} if port is None else {"port": port})
    settings = VpnSettings(**given)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    control = VpnControlPlane.open(settings)
    seeded = seed(control, settings.data_dir / "demo")
    portal_settings = PortalSettings()
    app = create_portal_app(ServicesBackend(control, portal_settings), portal_settings)
    try:
        portal = PortalServer(app, settings.host, settings.port).start()
    except OSError as exc:
        control.close()
        _stop(stops)
        _port_in_use("VPN portal", settings.port, exc, "--vpn-port")
    # Told to exit first, joined last: it winds down while the reception screen does.
    stops.insert(0, lambda: setattr(portal.server, "should_exit", True))
    stops += [lambda: portal.stop(timeout=3), control.close]
    return VpnDemo(portal.url, settings.database_url, seeded)


def start_claims(
    port: int | None, ca_dir: Path, facility: str, stops: list[Callable[[], object]]
) -> tuple[str, Path]:
    """The claims receiver, trusting the central service's facility CA; its URL and a sample."""
    from onshi.claims.server import background_server
    from onshi.claims.settings import ClaimsSettings
    from onshi.demo_vpn import sample_claims_file

    if port is None:
        port = int(os.environ.get("ONSHI_CLAIMS_PORT") or DEMO_CLAIMS_PORT)
    settings = ClaimsSettings(host="127.0.0.1", port=port, ca_dir=ca_dir)
    try:
        receiver = background_server(settings).start()
    except OSError as exc:
        _stop(stops)
        _port_in_use("claims receiver", port, exc, "--claims-port")
    stops.insert(0, lambda: setattr(receiver.server, "should_exit", True))
    stops.append(lambda: receiver.stop(timeout=3))
    return receiver.url, sample_claims_file(settings.data_dir / "demo", facility).resolve()


def _port_in_use(what: str, port: int, exc: OSError, option: str) -> NoReturn:
    typer.echo(
        f"error: the {what} cannot listen on 127.0.0.1:{port} ({exc.strerror}); is another "
        f"onshi demo running? stop it, or choose {option} (0: any free port)",
        err=True,
    )
    raise typer.Exit(1)


def program() -> str:
    """How to call onshi from this shell: ``onshi`` if it is on PATH, else the path used now."""
    here = Path(sys.argv[0])
    on_path = shutil.which("onshi")
    if on_path and Path(on_path).resolve() == here.resolve():
        return "onshi"
    return (
        shlex.quote(str(here))
        if here.name == "onshi"
        else f"{shlex.quote(sys.executable)} -m onshi"
    )


def demo_cards(central: Any, jpki_dir: Path, folder: Path) -> list[tuple[Path, dict[str, str]]]:
    """Virtual cards (PIN 1234) for the first few insured persons with a valid qualification."""
    from sqlalchemy import select

    from onshi.central.domain.qualification import CardKey
    from onshi.central.storage import tables as t
    from onshi.pki import CertificateAuthority
    from onshi.reader.card import VirtualCard

    existing = sorted(folder.glob("*.p12"))
    if existing:
        return [(p, {}) for p in existing]
    jpki = CertificateAuthority.load(jpki_dir)
    with central.db.sessions() as session:
        rows = session.execute(
            select(
                t.Qualification.InsurerNumber,
                t.Qualification.InsuredCardSymbol,
                t.Qualification.InsuredIdentificationNumber,
                t.Qualification.InsuredBranchNumber,
            )
            .where(t.Qualification.DisqualificationDate.is_(None))
            .order_by(t.Qualification.id)
            .limit(DEMO_CARDS)
        ).all()
    folder.mkdir(parents=True, exist_ok=True)
    cards = []
    for n, (insurer, symbol, number, branch) in enumerate(rows, start=1):
        issued = jpki.issue_card_certificate()
        central.link_card(CardKey(insurer, symbol, number, branch or None), issued.certificate)
        path = folder / f"card{n}.p12"
        VirtualCard.create(path, issued, DEMO_PIN, ca_certificate=jpki.certificate)
        cards.append(
            (
                path,
                {
                    "InsurerNumber": insurer,
                    "InsuredCardSymbol": symbol,
                    "InsuredIdentificationNumber": number,
                    "InsuredBranchNumber": branch,
                },
            )
        )
    return cards


def write_example_request(
    person: dict[str, str] | None, folder: Path, facility: str
) -> Path | None:
    """An OQSsiquc01 request for a sample person, to copy into OQS/req."""
    from onshi.oqs.identifiers import insurer_number_for_message

    if person is None:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "OQSsiquc01req_example.xml"
    branch = person["InsuredBranchNumber"]
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n<XmlMsg><MessageHeader>'
        f"<QualificationConfirmationDate>{dt.date.today():%Y%m%d}</QualificationConfirmationDate>"
        f"<MedicalInstitutionCode>{facility}</MedicalInstitutionCode>"
        "<ArbitraryFileIdentifier>demo-1</ArbitraryFileIdentifier></MessageHeader><MessageBody>"
        "<QualificationConfirmSearchInfo>"
        f"<InsurerNumber>{insurer_number_for_message(person['InsurerNumber'])}</InsurerNumber>"
        f"<InsuredCardSymbol>{person['InsuredCardSymbol']}</InsuredCardSymbol>"
        f"<InsuredIdentificationNumber>{person['InsuredIdentificationNumber']}</InsuredIdentificationNumber>"
        + (f"<InsuredBranchNumber>{branch}</InsuredBranchNumber>" if branch else "")
        + f"<Birthdate>{person['Birthdate']}</Birthdate>"
        "<LimitApplicationCertificateRelatedConsFlg>1</LimitApplicationCertificateRelatedConsFlg>"
        "</QualificationConfirmSearchInfo></MessageBody></XmlMsg>\n",
        encoding="utf-8",
    )
    return path


def _guide(
    screen: str,
    central_url: str,
    db_url: str,
    terminal: Any,
    cards: list[tuple[Path, dict[str, str]]],
    example: Path | None,
    api: tuple[str, str] | None,
) -> str:
    oqs = terminal.oqs_dir
    first_card = shlex.quote(str(cards[0][0])) if cards else "CARD.p12"
    copy = (
        f"cp {shlex.quote(str(example))} {shlex.quote(str(oqs / 'req'))}/"
        if example
        else f"drop an OQSsiquc01req_*.xml into {oqs / 'req'}"
    )
    lines = [
        "",
        "onshi demo — オンライン資格確認 on one machine",
        f"  reception screen (受付画面)   {screen}/",
        f"  OQS folder (req/res/face)     {oqs}",
        f"  central service API           {central_url}   (OpenAPI at /docs; client certificate required)",
        f"  central database              {db_url}",
        f"  facility certificate          {terminal.cert_path}",
        f"  virtual cards (PIN {DEMO_PIN})       {terminal.state_dir / 'cards'}",
        "",
        "Try:",
        "  - open the reception screen, type an insurance card number and birth date, press Enter;",
        f"  - present a card:  {program()} reader present {first_card} --method face --consent drug,checkup --terminal {screen}",
        f"  - play the billing software:  {copy}",
        f"    then read the answer in {oqs / 'res'}; card confirmations appear in {oqs / 'face'};",
    ]
    if api is not None:
        curl, query = api
        lines += ["  - ask the central service directly:", f"    {curl}", f"    {query}"]
    return "\n".join(lines)


def vpn_guide(vpn: VpnDemo, claims: tuple[str, Path], cert: Path, key: Path, ca: Path) -> str:
    from onshi.demo_vpn import (
        DEMO_AUDITOR,
        DEMO_DEVICE,
        DEMO_GATEWAY,
        DEMO_OPERATOR,
        DEMO_PASSWORD,
        DEMO_SERVICE_SUBNET,
    )

    seed, run = vpn.seed, program()
    first = seed.accounts[0]
    claims_url, sample = claims
    q = shlex.quote
    return "\n".join(
        [
            "",
            "",
            "Medical VPN (メディカルVPN) control plane",
            f"  VPN portal (ポータル)          {vpn.url}/   (operators: {vpn.url}/operator/)",
            f"  VPN database                  {vpn.database_url}",
            f"  device certificate            {seed.device_cert}   (key, .p12 beside it)",
            f"  demo logins, password {DEMO_PASSWORD} (DEMO ONLY, printed here; never use it elsewhere):",
            f"    clinic IDs {', '.join(seed.accounts)} (application {seed.application});"
            f" operator {DEMO_OPERATOR}; auditor {DEMO_AUDITOR}",
            "  - a client profile for the device:",
            f"    {run} vpn client profile --account {first} --device {DEMO_DEVICE}"
            f" --gateway {DEMO_GATEWAY} --service-subnet {DEMO_SERVICE_SUBNET} --format swanctl --out -",
            "  - the gateway is not started here (root, charon, network namespaces): see"
            " docs/vpn/gateway.md for `onshi vpn gateway run --listen ADDR --pool CIDR --target NAME=ADDR:PORT`",
            "",
            "Claims receiver (オンライン請求)",
            f"  claims receiver               {claims_url}   (POST /v1/claims; facility certificate required)",
            "  - submit the demo clinic's sample claims file:",
            f"    {run} claims submit {q(str(sample))} --url {claims_url}"
            f" --cert {q(str(cert))} --key {q(str(key))} --ca {q(str(ca))}",
            "",
        ]
    )

"""``onshi card issue``: マイナ保険証の利用登録 — a virtual card, registered as an insured person's
health insurance card.

It plays the card issuer (J-LIS, the test JPKI CA) and マイナポータル's registration, which
link the card to a qualification in the central database, then writes the card where the
reader will use it. It spans the central service and the reader, so it lives beside both:
the reader and the terminal never import the central service (``tests/central/
test_architecture.py``). Exit status: 0 done, 1 refused, 2 bad input.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer


def _fail(message: str, status: int = 2) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(status)


def issue(
    insurer: Annotated[str, typer.Option("--insurer", help="InsurerNumber (6 or 8 digits).")],
    symbol: Annotated[str, typer.Option("--symbol", help="InsuredCardSymbol ('' if none).")],
    number: Annotated[str, typer.Option("--number", help="InsuredIdentificationNumber.")],
    pin: Annotated[
        str, typer.Option("--pin", help="The card's 4-digit PIN (利用者証明用暗証番号).")
    ],
    out: Annotated[
        Path, typer.Option("--out", help="Where to write CARD.p12 (and CARD.p12.chip.json).")
    ],
    branch: Annotated[
        str | None, typer.Option("--branch", help="InsuredBranchNumber (2 digits).")
    ] = None,
    db: Annotated[
        str | None,
        typer.Option("--db", help="Central database URL (default: ONSHI_CENTRAL_DATABASE_URL)."),
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Central data dir holding the JPKI CA.")
    ] = None,
) -> None:
    """Make a virtual card for an insured person and register it as their health insurance card."""
    from onshi.central.domain.qualification import CardKey
    from onshi.oqs import identifiers as ids
    from onshi.reader.card import check_pin_format
    from onshi.reader.errors import ReaderError

    try:
        key = CardKey(
            ids.insurer_number(insurer),
            ids.insured_card_symbol(symbol),
            ids.insured_identification_number(number),
            ids.insured_branch_number(branch),
        )
        check_pin_format(pin)
    except ids.InvalidIdentifier as exc:
        _fail(str(exc))
    except ReaderError as exc:
        _fail(exc.message)
    if out.exists():
        _fail(f"{out} exists; a card is never overwritten")
    central, jpki = _central_and_jpki(db, data_dir)
    try:
        _issue(central, jpki, key, pin, out)
    finally:
        central.db.dispose()
    typer.echo(str(out))


def _central_and_jpki(db: str | None, data_dir: Path | None) -> tuple[Any, Any]:
    from pydantic import ValidationError

    from onshi.central.services.central import Central
    from onshi.central.settings import CentralSettings
    from onshi.pki import CertificateAuthority, PkiError

    given: dict[str, Any] = {
        k: v for k, v in {"database_url": db, "data_dir": data_dir}.items() if v is not None
    }
    try:
        settings = CentralSettings(**given)
    except ValidationError as exc:
        _fail(str(exc))
    try:
        central = Central.from_settings(settings)
        return central, CertificateAuthority.load(settings.jpki_ca_dir)
    except PkiError as exc:
        _fail(str(exc), 1)


def _issue(central: Any, jpki: Any, key: Any, pin: str, out: Path) -> None:
    """Link first, write second: a card the central service does not know is never written."""
    from onshi.central.errors import CentralError
    from onshi.pki import PkiError
    from onshi.reader.card import VirtualCard

    issued = jpki.issue_card_certificate()
    try:
        central.link_card(key, issued.certificate)
    except CentralError as exc:
        _fail(exc.message, 1)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        VirtualCard.create(out, issued, pin, ca_certificate=jpki.certificate)
    except (PkiError, OSError) as exc:
        _fail(f"cannot write {out}: {exc}", 1)

"""``onshi card …`` (reset, status) and ``onshi reader present``.

``card reset`` plays the municipal office (``card issue``, which registers a card with the
central service, is :mod:`onshi.registration`: the reader never imports the central service). ``reader present`` is the patient at the reader, talking to the terminal's
local API. Exit status: 0 done, 1 refused (by the card, the terminal or the central service),
2 bad input.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer

card_app = typer.Typer(
    help="Virtual My Number cards (マイナンバーカード) for tests and demos.", no_args_is_help=True
)
reader_app = typer.Typer(
    help="The face-authentication card reader (顔認証付きカードリーダー).", no_args_is_help=True
)


@reader_app.callback()
def _reader() -> None:
    """The face-authentication card reader (顔認証付きカードリーダー)."""
    # A callback keeps ``present`` a sub-command even while it is the only one.


VALIDITY_JA = {
    "1": "有効",
    "2": "無効",
    "3": "無効（新しい資格あり）",
    "4": "該当資格なし",
    "5": "複数該当",
}


def _fail(message: str, status: int = 2) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(status)


# -- card reset / status -----------------------------------------------------------------------


@card_app.command("reset")
def reset(
    card: Annotated[Path, typer.Argument(help="The virtual card (.p12).")],
    pin: Annotated[str, typer.Option("--pin", help="The new 4-digit PIN.")],
) -> None:
    """Set a new PIN and unlock the card (as at the municipal office, 市区町村窓口)."""
    from onshi.reader.card import VirtualCard
    from onshi.reader.errors import ReaderError

    try:
        VirtualCard(card).reset(pin)
    except ReaderError as exc:
        _fail(exc.message, 2 if exc.code == "PIN_FORMAT_INVALID" else 1)
    typer.echo("暗証番号を再設定し、ロックを解除しました。")


@card_app.command("status")
def status(card: Annotated[Path, typer.Argument(help="The virtual card (.p12).")]) -> None:
    """Whether the card is locked, and how many PIN tries remain."""
    from onshi.reader.card import VirtualCard
    from onshi.reader.errors import ReaderError

    try:
        state = VirtualCard(card).state()
    except ReaderError as exc:
        _fail(exc.message, 1)
    typer.echo("locked" if state.locked else f"usable, {state.remaining} PIN tries left")


# -- reader present ----------------------------------------------------------------------------


@reader_app.command("present")
def present(
    card: Annotated[Path, typer.Argument(help="The virtual card (.p12).")],
    method: Annotated[str, typer.Option("--method", help="face | visual | pin")] = "face",
    pin: Annotated[
        str | None, typer.Option("--pin", help="The PIN (asked for when --method pin).")
    ] = None,
    consent: Annotated[
        str | None,
        typer.Option("--consent", help="Comma-separated: drug,checkup,limit,diagnosis,operation."),
    ] = None,
    terminal: Annotated[
        str,
        typer.Option(
            "--terminal", envvar="ONSHI_READER_TERMINAL", help="The terminal's local URL."
        ),
    ] = "http://127.0.0.1:8780",
    face_result: Annotated[
        str | None,
        typer.Option(
            "--face-result",
            help="Simulated face authentication: match | mismatch (default: ONSHI_READER_FACE_RESULT or match).",
        ),
    ] = None,
) -> None:
    """Present a card at the reader: confirm identity, prove the card is here, get the answer."""
    from onshi.reader.errors import ReaderError, TerminalRefused, TerminalUnavailable
    from onshi.reader.reader import present_card
    from onshi.reader.terminal import HttpTerminal

    if not card.is_file():
        _fail(f"no card at {card}: issue one with `onshi card issue … --out {card}`")
    if method == "pin" and pin is None:
        pin = typer.prompt("暗証番号（4桁）", hide_input=True)
    try:
        with HttpTerminal(terminal) as port:
            summary = present_card(
                card, port, method=method, pin=pin, consents=consent, face_result=face_result
            )
    except (TerminalRefused, TerminalUnavailable) as exc:
        _fail(f"{exc.message} [{exc.code}]", 1)
    except ReaderError as exc:
        bad_input = exc.code in ("READER_ERROR", "PIN_FORMAT_INVALID", "PIN_REQUIRED")
        _fail(f"{exc.message} [{exc.code}]", 2 if bad_input else 1)
    validity = str(summary.get("QualificationValidity", ""))
    typer.echo(f"QualificationValidity: {validity} ({VALIDITY_JA.get(validity, '不明')})")
    if validity == "1" and summary.get("Name"):
        typer.echo(f"氏名: {summary['Name']}")
    if summary.get("face_file"):
        typer.echo(f"face file: {summary['face_file']}")

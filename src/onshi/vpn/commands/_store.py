"""What the ``onshi vpn`` commands share: options, opening the control plane, errors.

Each command runs as one transaction (nothing half-stored) and prints ``error: CODE: message``
on failure, with exit status 2 for bad input and 1 for refusals.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from pydantic import ValidationError
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from onshi.vpn.errors import DatabaseUnavailable, InvalidInput, VpnError
from onshi.vpn.services import VpnControlPlane
from onshi.vpn.settings import VpnSettings

T = TypeVar("T")

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="database URL (default: ONSHI_VPN_DATABASE_URL or var/vpn)"),
]
DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", help="CA, sealing key, CRL (default: ONSHI_VPN_DATA_DIR or var/vpn)"
    ),
]
ByOption = Annotated[
    str | None,
    typer.Option("--by", help="the operator acting (default: console, the service host)"),
]
FormatOption = Annotated[str, typer.Option("--format", help="text or json", metavar="text|json")]
AccountArgument = Annotated[str, typer.Argument(help="the ID, e.g. A000042-001")]


def fail(error: VpnError) -> NoReturn:
    typer.echo(f"error: {error.code}: {error.message}", err=True)
    raise typer.Exit(error.exit_status)


@contextmanager
def reported() -> Iterator[None]:
    """A :class:`VpnError` raised in the block ends the command: ``error: CODE: message`` on
    standard error and the error's exit status."""
    try:
        yield
    except VpnError as error:
        fail(error)


def load_settings(db: str | None, data_dir: Path | None) -> VpnSettings:
    overrides: dict[str, Any] = {}
    if db is not None:
        overrides["database_url"] = db
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    try:
        return VpnSettings(**overrides)
    except ValidationError as exc:
        fields = ", ".join(str(e["loc"][0]) for e in exc.errors() if e["loc"])
        fail(InvalidInput(f"invalid VPN settings ({fields}): check ONSHI_VPN_* variables"))


@contextmanager
def opened(db: str | None, data_dir: Path | None) -> Iterator[VpnControlPlane]:
    control = VpnControlPlane.open(load_settings(db, data_dir))
    try:
        yield control
    finally:
        control.close()


def run(db: str | None, data_dir: Path | None, action: Callable[[VpnControlPlane], T]) -> T:
    try:
        with reported(), opened(db, data_dir) as control:
            return action(control)
    except (SQLAlchemyError, ArgumentError) as exc:
        # The message may quote the URL (and a password in it): the type is enough.
        fail(DatabaseUnavailable(f"the database cannot be used ({type(exc).__name__})"))
    except OSError as exc:
        fail(DatabaseUnavailable(f"the database or data directory cannot be used: {exc.strerror}"))


def check_format(value: str) -> str:
    if value not in ("text", "json"):
        fail(InvalidInput(f"--format must be text or json, not {value!r}"))
    return value


def print_json(value: object) -> None:
    typer.echo(json.dumps(value, ensure_ascii=False, indent=None))


def read_password(prompt: str) -> str:
    """The password from standard input (first line), or asked twice on a terminal."""
    if sys.stdin.isatty():
        return str(typer.prompt(prompt, hide_input=True, confirmation_prompt=True))
    line = sys.stdin.readline()
    if not line:
        fail(InvalidInput("no password on standard input"))
    return line.rstrip("\r\n")


def check_out_dir(out: Path) -> Path:
    """Refuse an unusable output folder before anything is issued or rendered."""
    try:
        out.mkdir(mode=0o700, parents=True, exist_ok=True)
        probe = out / ".onshi-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        fail(InvalidInput(f"cannot write into {out}: {exc.strerror}"))
    return out

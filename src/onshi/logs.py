"""Logging of onshi's long-running commands: one line per event, no personal data.

onshi's own loggers write identifiers only as codes, request ids or keyed digests. Libraries
that log whole URLs or schema chatter (httpx, alembic) are held at WARNING so that nothing
they print can carry a query or a name.
"""

from __future__ import annotations

import logging
import sys
import traceback

QUIET = ("httpx", "httpcore", "alembic", "watchdog", "sse_starlette")


def configure_logging(level: int = logging.INFO) -> None:
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s", stream=sys.stderr
    )
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)


def log_failure(logger: logging.Logger, what: str, exc: BaseException) -> None:
    """Log an unexpected failure by its type and stack only: exception messages can quote the
    data being processed (a database error names the insurance number it refused)."""
    frames = "".join(traceback.format_tb(exc.__traceback__))
    logger.error("%s: %s\n%s", what, type(exc).__name__, frames)

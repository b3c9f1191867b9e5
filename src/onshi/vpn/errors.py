"""The medical VPN service's exceptions: one tree rooted at :class:`VpnError`, each a stable code.

Each area adds its classes below its own heading (append only); the tree::

    VpnError                          VPN_ERROR
    ├── InvalidInput                  VPN_INVALID_INPUT       a date, month, count… that is not one
    …                                 (areas add theirs below)

Adapters translate: the CLI to ``error: CODE: message`` and exit status 2 (bad input) or 1, the
portal to a page in Japanese, the gateway to a log line and a refused session.
"""

from __future__ import annotations

from typing import ClassVar


class VpnError(Exception):
    code: ClassVar[str] = "VPN_ERROR"
    http_status: ClassVar[int] = 500
    exit_status: ClassVar[int] = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(VpnError):
    code = "VPN_INVALID_INPUT"
    http_status = 422
    exit_status = 2

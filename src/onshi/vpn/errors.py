"""The medical VPN service's exceptions: one tree rooted at :class:`VpnError`, each a stable code.

Each area adds its classes below its own heading (append only); the tree::

    VpnError                          VPN_ERROR
    ├── InvalidInput                  VPN_INVALID_INPUT       a date, month, count… that is not one
    │   ├── WeakPassword              VPN_WEAK_PASSWORD       a password that breaks the length/character rules
    │   ├── ExtraCertificatesOutOfRange VPN_EXTRA_CERTIFICATES  x outside 0–3 (a 4th extra certificate)
    │   ├── TerminalsOutOfRange       VPN_TERMINALS_OUT_OF_RANGE   (contract rules) a quote for not 1–5 terminals
    │   ├── IdCountOutOfRange         VPN_ID_COUNT_OUT_OF_RANGE    fewer than 1 ID
    │   ├── CancellationBeforeMinimumTerm VPN_CANCELLATION_BEFORE_MINIMUM_TERM  inside the 12 months
    │   └── PriceListNotInForce       VPN_PRICE_LIST_NOT_IN_FORCE  a date before the first price list
    ├── InvalidPriceList              VPN_PRICE_LIST_INVALID  (contract rules) the packaged price data is broken
    ├── NotFound                      VPN_NOT_FOUND           (control plane) no such application, account…
    │   ├── UnknownApplication        VPN_UNKNOWN_APPLICATION
    │   ├── UnknownAccount            VPN_UNKNOWN_ACCOUNT
    │   ├── UnknownCertificate        VPN_UNKNOWN_CERTIFICATE
    │   ├── UnknownOperator           VPN_UNKNOWN_OPERATOR
    │   └── UnknownSession            VPN_UNKNOWN_SESSION
    ├── Refused                       VPN_REFUSED             a well-formed request the rules forbid
    │   ├── IllegalTransition         VPN_ILLEGAL_TRANSITION  e.g. opened → reviewed
    │   ├── ApplicationClosed         VPN_APPLICATION_CLOSED  the application is cancelled
    │   ├── DeviceLimitReached        VPN_DEVICE_LIMIT        already 2 + x valid certificates
    │   ├── DeviceExists              VPN_DEVICE_EXISTS       that device name has a valid certificate
    │   ├── CertificateRevoked        VPN_CERTIFICATE_REVOKED already revoked
    │   ├── CertificateExpired        VPN_CERTIFICATE_EXPIRED renewing an expired certificate
    │   ├── OperatorExists            VPN_OPERATOR_EXISTS
    │   └── NotPermitted              VPN_NOT_PERMITTED       a role may not do this (auditor acting)
    ├── AuthenticationFailed          VPN_AUTHENTICATION_FAILED
    │   ├── WrongPassword             VPN_WRONG_PASSWORD      also for an unknown name or no password set
    │   └── AccountLocked             VPN_ACCOUNT_LOCKED      too many failures: wait until locked_until
    ├── SecretStoreError              VPN_SECRET_STORE        the sealing key is missing, unreadable or wrong
    ├── AuditChainBroken              VPN_AUDIT_CHAIN_BROKEN  an audit entry was altered or removed
    ├── DatabaseUnavailable           VPN_DATABASE            the database cannot be opened or migrated
    └── ClientError                   VPN_CLIENT_ERROR        (terminal side) its branch: onshi.vpn.client.errors
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


# -- control plane (applications, accounts, devices, sessions, audit) ----------------------


class WeakPassword(InvalidInput):
    code = "VPN_WEAK_PASSWORD"


class ExtraCertificatesOutOfRange(InvalidInput):
    code = "VPN_EXTRA_CERTIFICATES"


class NotFound(VpnError):
    code = "VPN_NOT_FOUND"
    http_status = 404


class UnknownApplication(NotFound):
    code = "VPN_UNKNOWN_APPLICATION"


class UnknownAccount(NotFound):
    code = "VPN_UNKNOWN_ACCOUNT"


class UnknownCertificate(NotFound):
    code = "VPN_UNKNOWN_CERTIFICATE"


class UnknownOperator(NotFound):
    code = "VPN_UNKNOWN_OPERATOR"


class UnknownSession(NotFound):
    code = "VPN_UNKNOWN_SESSION"


class Refused(VpnError):
    code = "VPN_REFUSED"
    http_status = 409


class IllegalTransition(Refused):
    code = "VPN_ILLEGAL_TRANSITION"


class ApplicationClosed(Refused):
    code = "VPN_APPLICATION_CLOSED"


class DeviceLimitReached(Refused):
    code = "VPN_DEVICE_LIMIT"


class DeviceExists(Refused):
    code = "VPN_DEVICE_EXISTS"


class CertificateRevoked(Refused):
    code = "VPN_CERTIFICATE_REVOKED"


class CertificateExpired(Refused):
    code = "VPN_CERTIFICATE_EXPIRED"


class OperatorExists(Refused):
    code = "VPN_OPERATOR_EXISTS"


class NotPermitted(Refused):
    code = "VPN_NOT_PERMITTED"
    http_status = 403


class AuthenticationFailed(VpnError):
    code = "VPN_AUTHENTICATION_FAILED"
    http_status = 401


class WrongPassword(AuthenticationFailed):
    code = "VPN_WRONG_PASSWORD"


class AccountLocked(AuthenticationFailed):
    code = "VPN_ACCOUNT_LOCKED"
    http_status = 423


class SecretStoreError(VpnError):
    code = "VPN_SECRET_STORE"


class AuditChainBroken(VpnError):
    code = "VPN_AUDIT_CHAIN_BROKEN"


class DatabaseUnavailable(VpnError):
    code = "VPN_DATABASE"


# --- contract rules: prices, quotes, terms, invoices (onshi.vpn.domain) ---


class TerminalsOutOfRange(InvalidInput):
    code = "VPN_TERMINALS_OUT_OF_RANGE"


class IdCountOutOfRange(InvalidInput):
    code = "VPN_ID_COUNT_OUT_OF_RANGE"


class CancellationBeforeMinimumTerm(InvalidInput):
    code = "VPN_CANCELLATION_BEFORE_MINIMUM_TERM"
    http_status = 409


class PriceListNotInForce(InvalidInput):
    code = "VPN_PRICE_LIST_NOT_IN_FORCE"


class InvalidPriceList(VpnError):
    code = "VPN_PRICE_LIST_INVALID"

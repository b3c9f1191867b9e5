"""onshi — an open implementation of Japan's online eligibility verification network.

オンライン資格確認 (online eligibility verification): clinics and pharmacies ask a national service
whether a patient is insured, and how, by insurance-card number or by My Number card.

Components, one package each:

- :mod:`onshi.oqs` — the OQS message layer: code lists and identifiers shared by every part.
- :mod:`onshi.pki` — the project's certificate authorities (facility TLS, test JPKI cards).
- :mod:`onshi.central` — the central eligibility service (オンライン資格確認等システム).
- :mod:`onshi.edge` — the network edge toolkit (router configurations, DNS checks, subsidy).
"""

__version__ = "0.1.0"

"""Network edge toolkit: router configurations rendered and linted, DNS checks, subsidy estimate.

How a clinic's eligibility terminal reaches the OQS closed network over the IP-VPN method (NTT NGN,
IPv6 IPoE), as tooling for network integrators:

- :mod:`.site` — the vendor-neutral :class:`~onshi.edge.site.SiteProfile` (area, layout, DNS proxy,
  line mode, extra domains, addressing), validated.
- :mod:`.areas` — NTT East / West facts and the OQS names, from ``data/areas.toml``.
- :mod:`.policy` — the :class:`~onshi.edge.policy.EdgePolicy` derived from a profile: filters, DNS
  forwarding, RA/DHCPv6 pieces. The policy decides; renderers print.
- :mod:`.render` — NEC IX, YAMAHA RTX and Linux renderers (sandboxed Jinja2 templates).
- :mod:`.ixconfig` — IX configuration parser, model, and the first-match filter evaluator.
- :mod:`.lint` — the lint rules (one function per rule id) and their findings.
- :mod:`.dnscheck` — the DNS part of the field connectivity test (EDNS0, TCP fallback).
- :mod:`.subsidy` — the 2021 subsidy table, applied.
- :mod:`.errors` — the exception tree; :mod:`.cli` — the ``onshi router`` / ``onshi subsidy`` adapter.
"""

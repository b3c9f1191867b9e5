"""Rules of the medical VPN service: pure functions over immutable values, no I/O, dates in JST.

``calendar`` (business days, months), ``terms`` (contract term, billing start, cancellation),
``migration`` (from Medical Group Net), ``pricing`` (versioned price list, quotes), ``billing``
(monthly invoices), ``support`` (desk hours, supported terminals), ``lifecycle`` (application
states). Their rules, and the choices made where the seed is silent: ``docs/vpn/contracts.md``.
"""

"""The medical VPN service (メディカルVPN接続サービス): control plane and strongSwan data plane.

``domain/`` holds the rules (business days, prices, contract terms, lifecycle), ``storage/`` the
tables and their Alembic migrations, ``services/`` the use cases, ``portal/`` the web portal,
``gateway/`` the strongSwan data plane, ``commands/`` the ``onshi vpn`` command line.
"""

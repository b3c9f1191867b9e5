"""Storage of the VPN control plane: tables, their Alembic migrations, the repository."""

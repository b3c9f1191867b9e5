"""Storage of the central service: tables, migrations and queries."""

"""The central eligibility service (オンライン資格確認等システム).

Layout — a pure domain core with thin adapters around it::

    domain/     rules only, no I/O: validity on a date, consents, facility rights
    storage/    SQLAlchemy tables, Alembic migrations, queries (SQLite or PostgreSQL)
    services/   use cases that join storage and rules: eligibility, cards, bulk, audit
    intake/     insurers' data in (CSV, JSON Lines) and the synthetic population generator
    api/        the HTTPS API facilities call with client certificates (FastAPI)
    cli.py      ``onshi central …``
"""

"""Tamper-evident audit logs shared by onshi's services: keyed hash chains and signed checkpoints.

``chain`` is the pure core (canonical encoding, the HMAC link, the checkpoint's signed head; no
I/O); ``keys`` loads or creates the two keys it needs, both kept outside the database.
"""

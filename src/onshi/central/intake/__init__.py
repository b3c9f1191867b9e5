"""Insurers' data in: insured persons (CSV), history and links (JSON Lines), synthetic populations."""

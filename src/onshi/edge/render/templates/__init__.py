"""Package data (kept a package so that setuptools ships its files)."""

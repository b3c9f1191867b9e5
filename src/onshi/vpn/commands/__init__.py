"""``onshi vpn …`` sub-commands, one module per area; each module has ``register(app)``."""

"""Sub-commands of ``miao``; each module exposes ``register(app)``."""

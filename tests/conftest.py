"""Test session set-up: real services (anvil, the IPFS node, Redis, databases), started here.

Fixtures live in ``tests/fixtures/``, one module per service, so each stays small.
"""

pytest_plugins = [
    "tests.fixtures.services",
    "tests.fixtures.chain",
    "tests.fixtures.ipfs",
    "tests.fixtures.db",
    "tests.fixtures.shared",
    "tests.fixtures.api",
    "tests.fixtures.synth",
]

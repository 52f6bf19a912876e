"""AccessControl role ids: ``keccak256(name)``, and zero for the admin role (OpenZeppelin)."""

from __future__ import annotations

from eth_utils import keccak

DEFAULT_ADMIN_ROLE = b"\x00" * 32
MODEL_ADMIN_ROLE = keccak(text="MODEL_ADMIN_ROLE")
LABELLER_ROLE = keccak(text="LABELLER_ROLE")
GENERATOR_ROLE = keccak(text="GENERATOR_ROLE")
MINTER_ROLE = keccak(text="MINTER_ROLE")

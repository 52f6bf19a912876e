"""Plain Python values for ABI-decoded data: what events, errors and JSON callers all agree on.

``bytes``/``bytesN`` become ``0x`` hex strings, addresses checksum strings, tuples lists, so a
decoded value compares equal to what a test or the database wrote, and serialises as JSON as is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from eth_utils import to_checksum_address
from hexbytes import HexBytes


def to_bytes32(value: bytes | str) -> bytes:
    """A 32-byte value from bytes or a hex string (with or without ``0x``); anything else is an error."""
    if isinstance(value, str):
        text = value[2:] if value[:2] in ("0x", "0X") else value
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raise ValueError(f"not a hex string: {value!r}") from None
    else:
        raw = bytes(value)
    if len(raw) != 32:
        raise ValueError(f"expected 32 bytes, got {len(raw)}")
    return raw


def hex0x(value: bytes) -> str:
    """``0x``-prefixed lowercase hex of raw bytes."""
    return "0x" + bytes(value).hex()


def plain_value(abi_type: str, value: Any, components: Sequence[Mapping[str, Any]] = ()) -> Any:
    """Convert one decoded value of ``abi_type`` to plain Python (see module docstring)."""
    if abi_type.endswith("]"):
        inner = abi_type[: abi_type.rindex("[")]
        return [plain_value(inner, item, components) for item in value]
    if abi_type == "tuple":
        return {
            c["name"]: plain_value(c["type"], item, c.get("components", ()))
            for c, item in zip(components, value, strict=True)
        }
    if abi_type == "address":
        return to_checksum_address(value)
    if abi_type.startswith("bytes"):
        return hex0x(HexBytes(value))
    return value


def plain_args(inputs: Sequence[Mapping[str, Any]], values: Sequence[Any]) -> dict[str, Any]:
    """Name -> plain value for an ABI ``inputs`` list and the values decoded for it."""
    return {
        item["name"] or f"arg{i}": plain_value(item["type"], value, item.get("components", ()))
        for i, (item, value) in enumerate(zip(inputs, values, strict=True))
    }

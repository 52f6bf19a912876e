"""CIDs as decoded values: parse any common text form, compare by (version, codec, multihash).

Nodes answer in different bases (js-ipfs in base58btc ``z…``, Kubo in base32 ``b…``), so a CID is
never compared as a string. Only what this project meets is supported: CIDv0 (``Qm…``) and CIDv1 in
base32, base58btc or base16, with sha2-256 multihashes.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

DAG_PB = 0x70
RAW = 0x55
SHA2_256 = 0x12
_CODEC_NAMES = {DAG_PB: "dag-pb", RAW: "raw"}

_B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(_B58_ALPHABET)}


class CidError(ValueError):
    """Text or bytes that are not a CID this project understands."""


def encode_varint(value: int) -> bytes:
    """Unsigned LEB128, as multiformats and protobuf use it."""
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def decode_varint(data: bytes, offset: int = 0) -> tuple[int, int]:
    """(value, next offset) of the unsigned varint at ``offset``."""
    value = shift = 0
    for i in range(offset, min(len(data), offset + 9)):
        byte = data[i]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, i + 1
        shift += 7
    raise CidError("truncated or overlong varint")


def b58encode(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    chars = []
    while number:
        number, rem = divmod(number, 58)
        chars.append(_B58_ALPHABET[rem])
    zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * zeros + "".join(reversed(chars))


def b58decode(text: str) -> bytes:
    number = 0
    for char in text:
        try:
            number = number * 58 + _B58_INDEX[char]
        except KeyError:
            raise CidError(f"{char!r} is not a base58btc character") from None
    zeros = len(text) - len(text.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\0" * zeros + body


def _b32decode(text: str) -> bytes:
    try:
        return base64.b32decode(text.upper() + "=" * (-len(text) % 8))
    except binascii.Error as exc:
        raise CidError(f"not base32: {exc}") from None


@dataclass(frozen=True, slots=True)
class Cid:
    """A content identifier: equal when version, codec and multihash are equal."""

    version: int
    codec: int
    multihash: bytes

    def __post_init__(self) -> None:
        if self.version not in (0, 1):
            raise CidError(f"unsupported CID version {self.version}")
        if self.version == 0 and self.codec != DAG_PB:
            raise CidError("a CIDv0 is always dag-pb")
        code, at = decode_varint(self.multihash)
        length, at = decode_varint(self.multihash, at)
        if len(self.multihash) - at != length:
            raise CidError("multihash length does not match its digest")
        if self.version == 0 and (code != SHA2_256 or length != 32):
            raise CidError("a CIDv0 is always sha2-256")

    @classmethod
    def from_digest(cls, digest: bytes, *, codec: int, version: int = 1) -> Cid:
        """The CID of a block whose sha2-256 digest is ``digest``."""
        return cls(version, codec, bytes((SHA2_256, len(digest))) + digest)

    @classmethod
    def parse(cls, text: str) -> Cid:
        """Any supported text form: ``Qm…``, ``b…``/``B…`` (base32), ``z…`` (base58btc), ``f…``."""
        text = text.strip()
        if text.startswith("/ipfs/"):
            text = text[len("/ipfs/") :]
        if len(text) == 46 and text.startswith("Qm"):
            return cls(0, DAG_PB, b58decode(text))
        if not text:
            raise CidError("empty CID")
        prefix, body = text[0], text[1:]
        if prefix in "bB":
            raw = _b32decode(body)
        elif prefix == "z":
            raw = b58decode(body)
        elif prefix in "fF":
            try:
                raw = bytes.fromhex(body)
            except ValueError:
                raise CidError("not base16") from None
        else:
            raise CidError(f"{text!r}: unsupported multibase prefix {prefix!r}")
        return cls.from_bytes(raw)

    @classmethod
    def from_bytes(cls, raw: bytes) -> Cid:
        """Binary form: a bare sha2-256 multihash (v0) or ``0x01 <codec> <multihash>`` (v1)."""
        if len(raw) == 34 and raw[0] == SHA2_256 and raw[1] == 32:
            return cls(0, DAG_PB, bytes(raw))
        version, at = decode_varint(raw)
        if version != 1:
            raise CidError(f"unsupported CID version {version}")
        codec, at = decode_varint(raw, at)
        return cls(1, codec, bytes(raw[at:]))

    @property
    def digest(self) -> bytes:
        _, at = decode_varint(self.multihash)
        _, at = decode_varint(self.multihash, at)
        return self.multihash[at:]

    @property
    def hash_code(self) -> int:
        return decode_varint(self.multihash)[0]

    @property
    def codec_name(self) -> str:
        return _CODEC_NAMES.get(self.codec, hex(self.codec))

    def to_bytes(self) -> bytes:
        if self.version == 0:
            return self.multihash
        return encode_varint(1) + encode_varint(self.codec) + self.multihash

    def to_v1(self) -> Cid:
        return Cid(1, self.codec, self.multihash)

    def base32(self) -> str:
        """The CIDv1 text form Kubo prints (``bafy…`` / ``bafk…``)."""
        return "b" + base64.b32encode(self.to_v1().to_bytes()).decode().lower().rstrip("=")

    def __str__(self) -> str:
        return b58encode(self.multihash) if self.version == 0 else self.base32()

    def __repr__(self) -> str:
        return f"Cid({self!s}, {self.codec_name})"

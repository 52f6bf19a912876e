"""EIP-4361 (Sign-In with Ethereum) messages: parse, format, and check them.

The message is the exact text the wallet signed (EIP-191 ``personal_sign``), so the parser is
strict about the ABNF of the spec and the checks here are the relying party's side of it: domain,
chain id, time window and signature. Nonce bookkeeping lives in :mod:`backend.auth.nonces`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import is_checksum_address

HEADER_SUFFIX = " wants you to sign in with your Ethereum account:"
VERSION = "1"

# RFC 3986 character classes, as the EIP-4361 ABNF uses them.
_UNRESERVED = r"A-Za-z0-9\-._~"
_SUB_DELIMS = r"!$&'()*+,;="
_RESERVED = r":/?#\[\]@" + _SUB_DELIMS

_SCHEME = r"[A-Za-z][A-Za-z0-9+.\-]*"
_AUTHORITY = (
    rf"(?:[{_UNRESERVED}%{_SUB_DELIMS}:]*@)?"  # userinfo
    rf"(?:\[[0-9A-Fa-f:.]+\]|[{_UNRESERVED}%{_SUB_DELIMS}]+)"  # host
    r"(?::[0-9]*)?"  # port
)
_HEADER_RE = re.compile(rf"^(?:(?P<scheme>{_SCHEME})://)?(?P<domain>{_AUTHORITY}){HEADER_SUFFIX}$")
_DOMAIN_RE = re.compile(rf"^{_AUTHORITY}$")
_SCHEME_RE = re.compile(rf"^{_SCHEME}$")
_ADDRESS_RE = re.compile(r"^0x[0-9a-fA-F]{40}$")
_STATEMENT_RE = re.compile(rf"^[{_RESERVED}{_UNRESERVED} ]+$")
_URI_RE = re.compile(rf"^{_SCHEME}:[{_RESERVED}{_UNRESERVED}%]*$")
_CHAIN_ID_RE = re.compile(r"^[0-9]+$")
_NONCE_RE = re.compile(r"^[A-Za-z0-9]{8,}$")
_DATETIME_RE = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:[Zz]|[+\-][0-9]{2}:[0-9]{2})$"
)
_REQUEST_ID_RE = re.compile(rf"^[{_UNRESERVED}%{_SUB_DELIMS}:@]*$")

_MAX_MESSAGE_CHARS = 8192


class SiweFailure(StrEnum):
    """Why a sign-in was refused; the value is the API error code."""

    MALFORMED_MESSAGE = "malformed_message"
    BAD_SIGNATURE = "bad_signature"
    WRONG_DOMAIN = "wrong_domain"
    WRONG_CHAIN = "wrong_chain"
    MESSAGE_EXPIRED = "message_expired"
    MESSAGE_NOT_YET_VALID = "message_not_yet_valid"
    ISSUED_IN_FUTURE = "issued_in_future"
    MESSAGE_TOO_OLD = "message_too_old"
    NONCE_UNKNOWN = "nonce_unknown"
    NONCE_REPLAYED = "nonce_replayed"


class SiweError(Exception):
    """A sign-in message or signature that must be refused, with the reason."""

    def __init__(self, reason: SiweFailure, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def _malformed(message: str) -> SiweError:
    return SiweError(SiweFailure.MALFORMED_MESSAGE, message)


def parse_datetime(value: str) -> datetime:
    """An RFC 3339 date-time (with offset) as an aware UTC datetime."""
    if not _DATETIME_RE.match(value):
        raise _malformed(f"not an RFC 3339 date-time: {value!r}")
    try:
        parsed = datetime.fromisoformat(value.upper())
    except ValueError as exc:
        raise _malformed(f"not a valid date-time: {value!r}") from exc
    return parsed.astimezone(UTC)


def format_datetime(value: datetime) -> str:
    """RFC 3339 in UTC with milliseconds, as browsers' ``Date.toISOString`` writes it."""
    if value.tzinfo is None:
        raise ValueError("datetime must be timezone-aware")
    return (
        value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    )


@dataclass(frozen=True)
class SiweMessage:
    """One EIP-4361 message; constructing it validates every field against the ABNF.

    Date-times are kept as the exact strings of the message so formatting a parsed message gives
    back the same text; ``*_at``-style properties give them as datetimes.
    """

    domain: str
    address: str
    uri: str
    chain_id: int
    nonce: str
    issued_at: str
    statement: str | None = None
    version: str = VERSION
    scheme: str | None = None
    expiration_time: str | None = None
    not_before: str | None = None
    request_id: str | None = None
    resources: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.scheme is not None and not _SCHEME_RE.match(self.scheme):
            raise _malformed(f"invalid scheme: {self.scheme!r}")
        if not _DOMAIN_RE.match(self.domain):
            raise _malformed(f"domain is not an RFC 3986 authority: {self.domain!r}")
        if not _ADDRESS_RE.match(self.address):
            raise _malformed(f"address is not 0x + 40 hex digits: {self.address!r}")
        if not is_checksum_address(self.address):
            raise _malformed(f"address is not EIP-55 checksummed: {self.address}")
        if self.statement is not None and not _STATEMENT_RE.match(self.statement):
            raise _malformed("statement must be non-empty RFC 3986 reserved/unreserved characters")
        if not _URI_RE.match(self.uri):
            raise _malformed(f"URI is not an RFC 3986 URI: {self.uri!r}")
        if self.version != VERSION:
            raise _malformed(f"unsupported version {self.version!r} (must be {VERSION})")
        if isinstance(self.chain_id, bool) or not isinstance(self.chain_id, int):
            raise _malformed("chain id must be an integer")
        if self.chain_id < 0:
            raise _malformed("chain id must not be negative")
        if not _NONCE_RE.match(self.nonce):
            raise _malformed("nonce must be at least 8 alphanumeric characters")
        for value in (self.issued_at, self.expiration_time, self.not_before):
            if value is not None:
                parse_datetime(value)
        if self.request_id is not None and not _REQUEST_ID_RE.match(self.request_id):
            raise _malformed(
                f"request id has characters outside RFC 3986 pchar: {self.request_id!r}"
            )
        for resource in self.resources:
            if not _URI_RE.match(resource):
                raise _malformed(f"resource is not an RFC 3986 URI: {resource!r}")

    @property
    def issued_at_time(self) -> datetime:
        return parse_datetime(self.issued_at)

    @property
    def expiration(self) -> datetime | None:
        return parse_datetime(self.expiration_time) if self.expiration_time else None

    @property
    def not_before_time(self) -> datetime | None:
        return parse_datetime(self.not_before) if self.not_before else None

    def to_text(self) -> str:
        """The message as the ABNF writes it (the text a wallet signs)."""
        origin = f"{self.scheme}://{self.domain}" if self.scheme else self.domain
        lines = [f"{origin}{HEADER_SUFFIX}", self.address, ""]
        if self.statement is not None:
            lines.append(self.statement)
        lines += [
            "",
            f"URI: {self.uri}",
            f"Version: {self.version}",
            f"Chain ID: {self.chain_id}",
            f"Nonce: {self.nonce}",
            f"Issued At: {self.issued_at}",
        ]
        if self.expiration_time is not None:
            lines.append(f"Expiration Time: {self.expiration_time}")
        if self.not_before is not None:
            lines.append(f"Not Before: {self.not_before}")
        if self.request_id is not None:
            lines.append(f"Request ID: {self.request_id}")
        if self.resources:
            lines.append("Resources:")
            lines += [f"- {resource}" for resource in self.resources]
        return "\n".join(lines)

    @classmethod
    def parse(cls, text: str) -> SiweMessage:
        """Parse the text of a message; :class:`SiweError` (malformed_message) says what is wrong.

        Besides the ABNF form, the form without a statement and with a single blank line after
        the address (what viem and siwe-js write) is accepted.
        """
        if len(text) > _MAX_MESSAGE_CHARS:
            raise _malformed(f"message longer than {_MAX_MESSAGE_CHARS} characters")
        if "\r" in text:
            raise _malformed("lines must end with LF, not CR LF")
        lines = text.split("\n")
        if len(lines) < 8:
            raise _malformed("message is too short for EIP-4361")
        header = _HEADER_RE.match(lines[0])
        if header is None:
            raise _malformed(
                f"first line must be '<domain>{HEADER_SUFFIX}'"
                if HEADER_SUFFIX in lines[0]
                else "not a Sign-In with Ethereum message"
            )
        address = lines[1]
        if lines[2] != "":
            raise _malformed("the address line must be followed by an empty line")
        statement: str | None
        if lines[3] == "":
            statement, index = None, 4
        elif len(lines) > 4 and lines[4] == "":
            statement, index = lines[3], 5
        else:
            statement, index = None, 3
        rest = lines[index:]

        def take(tag: str, *, required: bool) -> str | None:
            if rest and rest[0].startswith(tag):
                return rest.pop(0)[len(tag) :]
            if required:
                raise _malformed(f"expected a '{tag.strip()}' line")
            return None

        uri = take("URI: ", required=True)
        version = take("Version: ", required=True)
        chain_id = take("Chain ID: ", required=True)
        nonce = take("Nonce: ", required=True)
        issued_at = take("Issued At: ", required=True)
        expiration_time = take("Expiration Time: ", required=False)
        not_before = take("Not Before: ", required=False)
        request_id = take("Request ID: ", required=False)
        resources: list[str] = []
        if rest and rest[0] == "Resources:":
            rest.pop(0)
            while rest and rest[0].startswith("- "):
                resources.append(rest.pop(0)[2:])
        if rest:
            raise _malformed(f"unexpected line: {rest[0][:80]!r}")
        assert chain_id is not None and uri is not None and version is not None
        assert nonce is not None and issued_at is not None
        if not _CHAIN_ID_RE.match(chain_id):
            raise _malformed(f"chain id is not a decimal number: {chain_id!r}")
        return cls(
            scheme=header["scheme"],
            domain=header["domain"],
            address=address,
            statement=statement,
            uri=uri,
            version=version,
            chain_id=int(chain_id),
            nonce=nonce,
            issued_at=issued_at,
            expiration_time=expiration_time,
            not_before=not_before,
            request_id=request_id,
            resources=tuple(resources),
        )


def recover_signer(text: str, signature: str) -> str:
    """The checksummed address whose key made this EIP-191 ``personal_sign`` signature."""
    try:
        return Account.recover_message(encode_defunct(text=text), signature=signature)
    except Exception as exc:  # eth-account raises ValueError/BadSignature/TypeError variously
        raise SiweError(SiweFailure.BAD_SIGNATURE, f"signature cannot be recovered: {exc}") from exc


def verify_signature(text: str, message: SiweMessage, signature: str) -> None:
    """Check that the message's own address signed exactly this text (EOAs; no EIP-1271)."""
    signer = recover_signer(text, signature)
    if signer != message.address:
        raise SiweError(
            SiweFailure.BAD_SIGNATURE,
            f"signature was made by {signer}, not by the message's address {message.address}",
        )


def check_claims(
    message: SiweMessage,
    *,
    domain: str,
    chain_id: int,
    now: datetime,
    max_age: timedelta,
    clock_skew: timedelta,
) -> None:
    """Check what the message claims against what this server expects, in the order a user
    would want to hear about it: wrong site, wrong chain, then the time window."""
    if message.domain.lower() != domain.lower():
        raise SiweError(
            SiweFailure.WRONG_DOMAIN, f"message is for {message.domain!r}, this is {domain!r}"
        )
    if message.chain_id != chain_id:
        raise SiweError(
            SiweFailure.WRONG_CHAIN,
            f"message is for chain {message.chain_id}, this server uses chain {chain_id}",
        )
    issued_at = message.issued_at_time
    if issued_at > now + clock_skew:
        raise SiweError(
            SiweFailure.ISSUED_IN_FUTURE, f"message is issued in the future ({message.issued_at})"
        )
    if issued_at < now - max_age - clock_skew:
        raise SiweError(
            SiweFailure.MESSAGE_TOO_OLD,
            f"message was issued at {message.issued_at}, more than "
            f"{int(max_age.total_seconds())} s ago: ask for a new nonce",
        )
    expiration = message.expiration
    if expiration is not None and now >= expiration:
        raise SiweError(
            SiweFailure.MESSAGE_EXPIRED, f"message expired at {message.expiration_time}"
        )
    not_before = message.not_before_time
    if not_before is not None and now + clock_skew < not_before:
        raise SiweError(
            SiweFailure.MESSAGE_NOT_YET_VALID, f"message is not valid before {message.not_before}"
        )

"""EIP-4361 messages: exact formatting, parse/format round trips, and strict rejection."""

from __future__ import annotations

from dataclasses import replace

import pytest
from eth_account import Account
from hypothesis import given
from hypothesis import strategies as st

from backend.auth.siwe import (
    SiweError,
    SiweFailure,
    SiweMessage,
    recover_signer,
    verify_signature,
)
from tests.fixtures.api import personal_sign

ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"

# Every field, in the order of the ABNF.
FULL_TEXT = """https://service.org wants you to sign in with your Ethereum account:
0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266

I accept the ServiceOrg Terms of Service: https://service.org/tos

URI: https://service.org/login
Version: 1
Chain ID: 1
Nonce: 32891756
Issued At: 2021-09-30T16:25:24Z
Expiration Time: 2021-10-01T16:25:24.000Z
Not Before: 2021-09-30T16:25:24+02:00
Request ID: some-request_id:1@x
Resources:
- ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/
- https://example.com/my-web2-claim.json"""

MINIMAL = SiweMessage(
    domain="localhost:8000",
    address=ADDRESS,
    uri="http://localhost:8000/login",
    chain_id=31337,
    nonce="abcdEFGH1234",
    issued_at="2024-01-02T03:04:05.678Z",
)


def test_full_message_parses_every_field_and_formats_back_identically() -> None:
    message = SiweMessage.parse(FULL_TEXT)
    assert message.scheme == "https"
    assert message.domain == "service.org"
    assert message.address == ADDRESS
    assert message.statement == "I accept the ServiceOrg Terms of Service: https://service.org/tos"
    assert message.uri == "https://service.org/login"
    assert message.chain_id == 1
    assert message.nonce == "32891756"
    assert message.expiration_time == "2021-10-01T16:25:24.000Z"
    assert message.not_before == "2021-09-30T16:25:24+02:00"
    assert message.not_before_time is not None and message.not_before_time.hour == 14  # UTC
    assert message.request_id == "some-request_id:1@x"
    assert message.resources == (
        "ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/",
        "https://example.com/my-web2-claim.json",
    )
    assert message.to_text() == FULL_TEXT


def test_message_without_optional_fields_follows_the_abnf_blank_lines() -> None:
    text = MINIMAL.to_text()
    assert text == (
        "localhost:8000 wants you to sign in with your Ethereum account:\n"
        f"{ADDRESS}\n"
        "\n"
        "\n"
        "URI: http://localhost:8000/login\n"
        "Version: 1\n"
        "Chain ID: 31337\n"
        "Nonce: abcdEFGH1234\n"
        "Issued At: 2024-01-02T03:04:05.678Z"
    )
    assert SiweMessage.parse(text) == MINIMAL


def test_compact_form_without_statement_as_viem_writes_it_is_accepted() -> None:
    compact = MINIMAL.to_text().replace(f"{ADDRESS}\n\n\n", f"{ADDRESS}\n\n")
    assert SiweMessage.parse(compact) == MINIMAL


def test_a_statement_that_looks_like_a_uri_line_stays_a_statement() -> None:
    message = replace(MINIMAL, statement="URI: not the real one")
    assert SiweMessage.parse(message.to_text()) == message


@given(
    statement=st.one_of(
        st.none(),
        st.text(alphabet="abcXYZ019-._~:/?#[]@!$&'()*+,;= ", min_size=1, max_size=40),
    ),
    nonce=st.text(alphabet="abcdefXYZ0123456789", min_size=8, max_size=32),
    chain_id=st.integers(min_value=0, max_value=2**64),
    request_id=st.one_of(st.none(), st.text(alphabet="abc123-._~!$&'()*+,;=:@%", max_size=20)),
    resources=st.lists(
        st.sampled_from(["ipfs://bafy/x", "https://a.b/c?d=e#f", "urn:x:y"]), max_size=3
    ),
    expiration=st.booleans(),
    not_before=st.booleans(),
)
def test_round_trip_over_optional_fields(
    statement: str | None,
    nonce: str,
    chain_id: int,
    request_id: str | None,
    resources: list[str],
    expiration: bool,
    not_before: bool,
) -> None:
    message = replace(
        MINIMAL,
        statement=statement,
        nonce=nonce,
        chain_id=chain_id,
        request_id=request_id,
        resources=tuple(resources),
        expiration_time="2030-01-01T00:00:00Z" if expiration else None,
        not_before="2020-01-01T00:00:00.5-05:00" if not_before else None,
    )
    assert SiweMessage.parse(message.to_text()) == message


@pytest.mark.parametrize(
    ("mutate", "why"),
    [
        (lambda t: t.replace(ADDRESS, ADDRESS.lower()), "EIP-55"),
        (lambda t: t.replace("Nonce: 32891756", "Nonce: 1234567"), "8 alphanumeric"),
        (lambda t: t.replace("Nonce: 32891756", "Nonce: 1234-5678"), "8 alphanumeric"),
        (lambda t: t.replace("Version: 1", "Version: 2"), "version"),
        (lambda t: t.replace("Chain ID: 1\n", "Chain ID: 0x1\n"), "chain id"),
        (
            lambda t: t.replace("Issued At: 2021-09-30T16:25:24Z", "Issued At: yesterday"),
            "RFC 3339",
        ),
        (lambda t: t.replace("2021-09-30T16:25:24Z", "2021-09-30 16:25:24"), "RFC 3339"),
        (lambda t: t.replace("2021-09-30T16:25:24Z", "2021-02-30T16:25:24Z"), "valid date-time"),
        (lambda t: t.replace("Issued At: 2021-09-30T16:25:24Z\n", ""), "Issued At"),
        (lambda t: t.replace("URI: https://service.org/login", "URI: not a uri"), "URI"),
        (lambda t: t.replace("Terms of Service", 'Terms of "Service"'), "statement"),
        (
            lambda t: t.replace("- https://example.com", "- not a uri https://example.com"),
            "resource",
        ),
        (lambda t: t.replace("\n", "\r\n"), "CR LF"),
        (lambda t: t + "\n", "unexpected line"),
        (lambda t: t + "\nExtra: field", "unexpected line"),
        (
            lambda t: t.replace(" wants you to sign in", " would like you to sign in"),
            "not a Sign-In",
        ),
        (lambda t: t.replace("Expiration Time", "Expiry Time"), "unexpected line"),
        (lambda t: t.replace("Request ID: some-request_id:1@x", "Request ID: a/b"), "pchar"),
        (lambda t: "hello", "too short"),
    ],
)
def test_malformed_messages_are_refused_with_the_reason(mutate, why: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SiweError) as caught:
        SiweMessage.parse(mutate(FULL_TEXT))
    assert caught.value.reason is SiweFailure.MALFORMED_MESSAGE
    assert why.lower() in caught.value.message.lower()


def test_signature_recovers_the_signer_and_rejects_another_key() -> None:
    owner, other = Account.create(), Account.create()
    message = replace(MINIMAL, address=owner.address)
    text = message.to_text()
    assert recover_signer(text, personal_sign(owner, text)) == owner.address
    verify_signature(text, message, personal_sign(owner, text))
    with pytest.raises(SiweError) as caught:
        verify_signature(text, message, personal_sign(other, text))
    assert caught.value.reason is SiweFailure.BAD_SIGNATURE
    with pytest.raises(SiweError) as caught:
        verify_signature(text + " ", message, personal_sign(owner, text))  # text changed
    assert caught.value.reason is SiweFailure.BAD_SIGNATURE
    with pytest.raises(SiweError) as caught:
        recover_signer(text, "0x" + "00" * 65)
    assert caught.value.reason is SiweFailure.BAD_SIGNATURE

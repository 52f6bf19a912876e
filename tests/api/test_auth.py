"""Wallet sign-in over HTTP against the real app and the session's real Redis."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient

from backend.api.deps import SESSION_COOKIE
from backend.auth.sessions import Session, issue_token
from backend.auth.siwe import format_datetime
from backend.settings import Settings
from miao.stack import free_port
from tests.fixtures.api import personal_sign, sign_in, siwe_message


def _nonce(client: TestClient) -> str:
    reply = client.get("/v1/auth/nonce")
    assert reply.status_code == 200, reply.text
    return reply.json()["nonce"]


def _verify(client: TestClient, text: str, signature: str) -> Any:
    return client.post("/v1/auth/verify", json={"message": text, "signature": signature})


def _assert_error(reply: Any, status: int, code: str) -> dict[str, Any]:
    assert reply.status_code == status, reply.text
    body = reply.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    return body["error"]


def test_nonce_is_fresh_alphanumeric_and_names_what_the_message_must_say(
    api_client: TestClient, api_settings: Settings
) -> None:
    first, second = api_client.get("/v1/auth/nonce").json(), api_client.get("/v1/auth/nonce").json()
    assert first["nonce"] != second["nonce"]
    assert first["nonce"].isalnum() and len(first["nonce"]) >= 8
    expires = datetime.fromisoformat(first["expires_at"])
    assert timedelta(minutes=4) < expires - datetime.now(UTC) <= timedelta(minutes=5)
    assert first["domain"] == api_settings.siwe_domain
    assert first["chain_id"] == api_settings.chain_id


def test_sign_in_gives_a_bearer_token_and_an_http_only_cookie_that_both_work(
    api_client: TestClient,
    api_settings: Settings,
    make_client: Callable[..., TestClient],
    wallet: LocalAccount,
) -> None:
    nonce = _nonce(api_client)
    text = siwe_message(wallet.address, nonce).to_text()
    reply = _verify(api_client, text, personal_sign(wallet, text))
    assert reply.status_code == 200, reply.text
    session = reply.json()
    assert session["address"] == wallet.address
    expires = datetime.fromisoformat(session["expires_at"])
    # capped by the message's own Expiration Time (10 minutes), below the 12 h session TTL
    assert timedelta(minutes=9) < expires - datetime.now(UTC) <= timedelta(minutes=10)

    set_cookie = reply.headers["set-cookie"]
    assert set_cookie.startswith(f"{SESSION_COOKIE}={session['token']};")
    assert "HttpOnly" in set_cookie
    assert "samesite=lax" in set_cookie.lower()
    assert "Path=/" in set_cookie

    by_bearer = make_client(api_settings)  # no cookie jar shared with the sign-in client
    me = by_bearer.get("/v1/auth/me", headers={"Authorization": f"Bearer {session['token']}"})
    assert me.status_code == 200, me.text
    assert me.json()["address"] == wallet.address

    by_cookie = make_client(api_settings, cookies={SESSION_COOKIE: session["token"]})
    me = by_cookie.get("/v1/auth/me")
    assert me.status_code == 200, me.text
    assert me.json()["address"] == wallet.address

    anonymous = make_client(api_settings)
    _assert_error(anonymous.get("/v1/auth/me"), 401, "not_authenticated")


def test_replayed_nonce_is_refused(api_client: TestClient, wallet: LocalAccount) -> None:
    text = siwe_message(wallet.address, _nonce(api_client)).to_text()
    signature = personal_sign(wallet, text)
    assert _verify(api_client, text, signature).status_code == 200
    _assert_error(_verify(api_client, text, signature), 401, "nonce_replayed")


def test_nonce_never_issued_is_refused(api_client: TestClient, wallet: LocalAccount) -> None:
    text = siwe_message(wallet.address, secrets.token_hex(16)).to_text()
    _assert_error(_verify(api_client, text, personal_sign(wallet, text)), 401, "nonce_unknown")


def _ago(**delta: float) -> str:
    return format_datetime(datetime.now(UTC) - timedelta(**delta))


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"domain": "evil.example"}, "wrong_domain"),
        ({"domain": "localhost:8001"}, "wrong_domain"),
        ({"chain_id": 1}, "wrong_chain"),
        ({"issued_at": _ago(minutes=2), "expiration_time": _ago(minutes=1)}, "message_expired"),
        ({"issued_at": _ago(minutes=10), "expiration_time": None}, "message_too_old"),
        ({"issued_at": _ago(minutes=-5)}, "issued_in_future"),
        ({"not_before": _ago(minutes=-5)}, "message_not_yet_valid"),
    ],
)
def test_claims_that_do_not_match_are_refused_and_leave_the_nonce_usable(
    api_client: TestClient, wallet: LocalAccount, overrides: dict[str, Any], code: str
) -> None:
    nonce = _nonce(api_client)
    bad = siwe_message(wallet.address, nonce, **overrides).to_text()
    _assert_error(_verify(api_client, bad, personal_sign(wallet, bad)), 401, code)

    good = siwe_message(wallet.address, nonce).to_text()
    assert _verify(api_client, good, personal_sign(wallet, good)).status_code == 200


def test_message_signed_by_another_key_is_refused(
    api_client: TestClient, wallet: LocalAccount
) -> None:
    nonce = _nonce(api_client)
    text = siwe_message(wallet.address, nonce).to_text()
    error = _assert_error(
        _verify(api_client, text, personal_sign(Account.create(), text)), 401, "bad_signature"
    )
    assert wallet.address in error["message"]
    # the forged attempt did not burn the real user's nonce
    assert _verify(api_client, text, personal_sign(wallet, text)).status_code == 200


def test_text_that_is_not_eip_4361_is_refused_as_malformed(
    api_client: TestClient, wallet: LocalAccount
) -> None:
    text = "Please sign this to log in: " + _nonce(api_client)
    _assert_error(_verify(api_client, text, personal_sign(wallet, text)), 401, "malformed_message")


@pytest.mark.parametrize(
    "body",
    [
        {"message": "x"},
        {"message": "x", "signature": "0x1234"},
        {"signature": "0x" + "ab" * 65},
        "not json",
    ],
)
def test_malformed_body_is_422_in_the_error_format(api_client: TestClient, body: Any) -> None:
    if isinstance(body, str):
        reply = api_client.post(
            "/v1/auth/verify", content=body, headers={"Content-Type": "application/json"}
        )
    else:
        reply = api_client.post("/v1/auth/verify", json=body)
    error = _assert_error(reply, 422, "validation_error")
    assert error["details"] and all("loc" in d and "msg" in d for d in error["details"])


def test_tampered_forged_and_expired_tokens_are_refused(
    api_client: TestClient, api_settings: Settings, wallet: LocalAccount
) -> None:
    token = sign_in(api_client, wallet)["token"]
    api_client.cookies.clear()

    def me(token: str) -> Any:
        return api_client.get("/v1/auth/me", headers={"Authorization": f"Bearer {token}"})

    assert me(token).status_code == 200
    claims, mac = token.split(".")
    _assert_error(me(f"{claims}.{mac[:-2]}AA"), 401, "invalid_session")
    _assert_error(me("garbage"), 401, "invalid_session")
    now = datetime.now(UTC)
    other_secret = issue_token(Session(wallet.address, now, now + timedelta(hours=1)), "not-ours")
    _assert_error(me(other_secret), 401, "invalid_session")
    expired = issue_token(
        Session(wallet.address, now - timedelta(hours=2), now - timedelta(hours=1)),
        api_settings.session_secret,
    )
    _assert_error(me(expired), 401, "session_expired")


def test_logout_clears_the_cookie(api_client: TestClient, wallet: LocalAccount) -> None:
    sign_in(api_client, wallet)
    assert api_client.get("/v1/auth/me").status_code == 200  # the cookie jar holds the session
    reply = api_client.post("/v1/auth/logout")
    assert reply.status_code == 200 and reply.json() == {"signed_out": True}
    assert f'{SESSION_COOKIE}=""' in reply.headers["set-cookie"]
    assert "Max-Age=0" in reply.headers["set-cookie"]
    _assert_error(api_client.get("/v1/auth/me"), 401, "not_authenticated")


def test_redis_down_answers_503(
    api_settings: Settings, make_client: Callable[..., TestClient], wallet: LocalAccount
) -> None:
    closed = api_settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    client = make_client(closed)
    _assert_error(client.get("/v1/auth/nonce"), 503, "redis_unavailable")
    text = siwe_message(wallet.address, secrets.token_hex(16)).to_text()
    _assert_error(_verify(client, text, personal_sign(wallet, text)), 503, "redis_unavailable")
    # a session signed before the outage still works: tokens need no Redis
    now = datetime.now(UTC)
    token = issue_token(
        Session(wallet.address, now, now + timedelta(hours=1)), closed.session_secret
    )
    me = client.get("/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["address"] == wallet.address

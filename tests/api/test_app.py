"""API conventions: the error format everywhere, a complete OpenAPI, CORS for the DApp."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from backend.api.app import API_PREFIX, ROUTERS, create_app
from backend.settings import Settings
from tests.fixtures.api import TEST_ORIGIN


def test_unknown_route_is_404_in_the_error_format(api_client: TestClient) -> None:
    reply = api_client.get("/v1/no-such-thing")
    assert reply.status_code == 404
    assert reply.json() == {
        "error": {"code": "not_found", "message": "no route GET /v1/no-such-thing"}
    }
    assert api_client.get("/health").status_code == 404  # nothing outside /v1


def test_wrong_method_is_405_in_the_error_format(api_client: TestClient) -> None:
    reply = api_client.delete("/v1/auth/nonce")
    assert reply.status_code == 405
    assert reply.json()["error"]["code"] == "method_not_allowed"
    assert reply.headers["allow"] == "GET"


def test_unhandled_exception_is_500_without_leaking_the_traceback(
    api_settings: Settings,
) -> None:
    app = create_app(api_settings)

    @app.get("/v1/boom")
    async def boom() -> None:
        raise RuntimeError("secret internal detail")

    with TestClient(app, raise_server_exceptions=False) as client:
        reply = client.get("/v1/boom")
    assert reply.status_code == 500
    assert reply.json() == {"error": {"code": "internal_error", "message": "internal server error"}}
    assert "secret" not in reply.text and "Traceback" not in reply.text


def _schema_name(schema: dict[str, Any]) -> str:
    return schema["$ref"].rsplit("/", 1)[-1]


RAW_FILE_TYPES = {"audio/wav", "image/png", "application/json"}
"""What ``GET /v1/ipfs/{cid}`` answers: pinned files as they are, not a response model."""


def test_openapi_documents_every_route_with_response_and_error_models(
    api_client: TestClient,
) -> None:
    spec = api_client.get("/v1/openapi.json").json()
    # every route of every resource router, as the app mounts them under /v1
    routes = [
        (API_PREFIX + route.path_format, route)
        for router in ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute)
    ]
    assert {path for path, _ in routes} >= {
        "/v1/health",
        "/v1/auth/nonce",
        "/v1/auth/verify",
        "/v1/auth/me",
        "/v1/auth/logout",
    }
    assert set(spec["paths"]) == {path for path, _ in routes}
    for path, route in routes:
        for method in route.methods - {"HEAD"}:
            operation = spec["paths"][path][method.lower()]
            where = f"{method} {path}"
            # JSON, or a stream (SSE, JSON Lines) whose items have a model; raw files excepted
            success = next(s for s in ("200", "202") if s in operation["responses"])
            contents = operation["responses"][success]["content"]
            if not set(contents) <= RAW_FILE_TYPES:
                (ok,) = (c["schema"] for c in contents.values())
                assert "$ref" in ok, f"{where}: {success} has no response model"
                assert _schema_name(ok) in spec["components"]["schemas"]
            errors = {
                status: _schema_name(r["content"]["application/json"]["schema"])
                for status, r in operation["responses"].items()
                if status.startswith(("4", "5"))
            }
            assert errors.get("500") == "ErrorResponse", where
            assert set(errors.values()) == {"ErrorResponse"}, where
            if "requestBody" in operation:
                (body,) = operation["requestBody"]["content"].values()  # JSON or multipart
                assert "$ref" in body["schema"], where
                assert errors.get("422") == "ErrorResponse", where
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    verify = spec["paths"]["/v1/auth/verify"]["post"]["responses"]
    assert {"401", "422", "503"} <= set(verify)
    me = spec["paths"]["/v1/auth/me"]["get"]
    assert {"BearerToken": []} in me["security"] and {"SessionCookie": []} in me["security"]


def test_cors_allows_the_configured_dapp_origin_with_credentials(
    api_client: TestClient,
) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    allowed = api_client.options("/v1/auth/verify", headers={"Origin": TEST_ORIGIN, **preflight})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == TEST_ORIGIN
    assert allowed.headers["access-control-allow-credentials"] == "true"

    other = api_client.options(
        "/v1/auth/verify", headers={"Origin": "http://evil.example", **preflight}
    )
    assert "access-control-allow-origin" not in other.headers

    simple = api_client.get("/v1/auth/nonce", headers={"Origin": TEST_ORIGIN})
    assert simple.headers["access-control-allow-origin"] == TEST_ORIGIN


def test_no_cors_headers_when_no_origin_is_configured(
    api_settings: Settings, make_client: Callable[..., TestClient]
) -> None:
    client = make_client(api_settings.model_copy(update={"cors_origins": []}))
    reply = client.get("/v1/auth/nonce", headers={"Origin": TEST_ORIGIN})
    assert reply.status_code == 200
    assert "access-control-allow-origin" not in reply.headers

"""The DApp page is served where no API route matched, and never shadows the API."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from backend.api.app import create_app
from backend.api.web import mount_web
from backend.settings import Settings


def _app_with_dist(settings: Settings, dist: Path) -> FastAPI:
    app = create_app(settings)
    mount_web(app, dist)  # wraps the handler again, now around this folder
    return app


def test_page_and_assets_are_served_outside_v1_only(api_settings: Settings, tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><title>MIAO</title>")
    (dist / "assets" / "app.js").write_text("console.log('miao')")
    (tmp_path / "secret.txt").write_text("not for the web")
    with TestClient(_app_with_dist(api_settings, dist)) as client:
        page = client.get("/")
        assert page.status_code == 200 and "<title>MIAO</title>" in page.text
        assert page.headers["content-type"].startswith("text/html")
        asset = client.get("/assets/app.js")
        assert asset.status_code == 200 and "miao" in asset.text
        assert client.get("/assets/missing.js").status_code == 404
        assert client.get("/..%2Fsecret.txt").status_code == 404
        api_miss = client.get("/v1/no-such-thing")
        assert api_miss.status_code == 404 and api_miss.json()["error"]["code"] == "not_found"
        wrong_method = client.delete("/v1/auth/nonce")
        assert wrong_method.status_code == 405 and wrong_method.headers["allow"] == "GET"


def test_a_missing_build_is_explained(api_settings: Settings, tmp_path: Path) -> None:
    with TestClient(_app_with_dist(api_settings, tmp_path / "no-build")) as client:
        reply = client.get("/")
        assert reply.status_code == 404 and "npm run build:web" in reply.text
        assert client.get("/v1/health").status_code in (200, 503)  # the API still answers

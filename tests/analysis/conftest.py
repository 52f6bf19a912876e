"""The real app with test labellers (``MIAO_WEIGHTS_DIR``): small untrained MFCC-CNNs, the same
ones the pipeline tests use, so every expected answer comes from ``ml.registry`` itself."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from backend.settings import Settings
from tests.pipeline.support import make_labellers


@pytest.fixture(scope="session")
def analysis_weights_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_labellers(tmp_path_factory.mktemp("analysis-weights"))


@pytest.fixture
def weights(monkeypatch: pytest.MonkeyPatch, analysis_weights_dir: Path) -> Path:
    monkeypatch.setenv("MIAO_WEIGHTS_DIR", str(analysis_weights_dir))
    return analysis_weights_dir


@pytest.fixture
def client(
    api_settings: Settings, make_client: Callable[..., TestClient], weights: Path
) -> TestClient:
    return make_client(api_settings.model_copy(update={"max_upload_mb": 2}))

"""``miao bench label``: what it measures and its refusals (figures are not asserted: benchmarks)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from miao.cli import app
from ml.registry import WEIGHTS_FILE, sha256_file, weights_dir

runner = CliRunner()
SMALL = ["--clips", "10", "--latency-runs", "5", "--json"]


def _shipped_id(task: str) -> str:
    return sha256_file(weights_dir() / task / WEIGHTS_FILE)


def test_one_labeller_reports_the_issue_keys_and_its_model() -> None:
    result = runner.invoke(app, ["bench", "label", "--task", "dog-bark", *SMALL])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert {"clips_per_s", "p50_ms", "peak_rss_mb"} <= set(report)
    assert report["tasks"] == ["dog-bark"]
    assert report["model_id"] == _shipped_id("dog-bark")
    assert report["clips_per_s"] > 0 and report["p50_ms"] > 0 and report["peak_rss_mb"] > 0


def test_route_runs_source_then_the_kinds_task_as_the_worker_does() -> None:
    result = runner.invoke(app, ["bench", "label", "--route", "cat", *SMALL])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["tasks"] == ["source", "cat-emotion"]
    assert report["model_ids"] == {t: _shipped_id(t) for t in ("source", "cat-emotion")}
    assert report["model_id"] is None  # two models: no one id stands for the figure


def test_bad_route_or_route_with_another_task_exits_2() -> None:
    unknown = runner.invoke(app, ["bench", "label", "--route", "parrot", *SMALL])
    assert unknown.exit_code == 2
    assert "unknown --route 'parrot'" in unknown.stderr
    clash = runner.invoke(app, ["bench", "label", "--route", "cat", "--task", "dog-bark", *SMALL])
    assert clash.exit_code == 2
    assert "not with --task dog-bark" in clash.stderr

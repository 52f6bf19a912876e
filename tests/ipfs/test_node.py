"""The local IPFS node is the project's own (ports, repo, offline), and ``miao bench ipfs`` runs.

The benchmark's figures are not judged here (speed targets live in the benchmark's output); the
test only checks that it measures against the node and reports every promised key.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from urllib.parse import urlparse

import pytest
from typer.testing import CliRunner

from miao.cli import app
from miao.commands.bench import percentile
from miao.stack import PortBusyError, free_port, ipfs_api_answers, start_ipfs


def test_busy_api_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(PortBusyError, match=rf"ipfs: port 127.0.0.1:{port} is already in use"):
            start_ipfs(tmp_path / "repo", port, free_port(), tmp_path / "logs")
    assert not (tmp_path / "repo").exists()  # refused before touching anything


@pytest.mark.ipfs
def test_session_node_is_offline_on_its_own_ports(ipfs_api_url: str, var_dir: Path) -> None:
    assert ipfs_api_answers(ipfs_api_url)
    config = json.loads((var_dir / "ipfs" / "config").read_text())
    assert config["Addresses"]["Swarm"] == []
    assert config["Bootstrap"] == []
    assert config["Discovery"]["MDNS"]["Enabled"] is False
    assert config["Addresses"]["API"] == f"/ip4/127.0.0.1/tcp/{urlparse(ipfs_api_url).port}"


def test_percentile_interpolates() -> None:
    assert percentile([1.0], 95) == 1.0
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.5
    assert percentile(list(map(float, range(101))), 95) == 95.0


@pytest.mark.ipfs
def test_bench_ipfs_json_reports_every_key(ipfs_api_url: str) -> None:
    args = ["bench", "ipfs", "--json", "--api-url", ipfs_api_url]
    args += ["--hash-mb", "2", "--repeats", "1", "--clips", "3"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    for key in ("cid_mb_s", "sha256_mb_s", "add_pin_p50_ms", "add_pin_p95_ms"):
        assert figures[key] > 0, key
    assert figures["add_pin_p95_ms"] >= figures["add_pin_p50_ms"]
    assert figures["node"] == ipfs_api_url  # used the running node, started none

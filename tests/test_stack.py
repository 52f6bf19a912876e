"""The local-stack helpers: a busy port gets a clear error, services start and stop."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from miao.stack import PortBusyError, port_is_open, start_anvil


def test_busy_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(PortBusyError, match=rf"port 127.0.0.1:{port} is already in use"):
            start_anvil("127.0.0.1", port, tmp_path)


def test_anvil_answers_then_stops(anvil_url: str, tmp_path: Path) -> None:
    from miao.stack import free_port

    port = free_port()
    proc = start_anvil("127.0.0.1", port, tmp_path)
    assert port_is_open("127.0.0.1", port)
    proc.stop()
    assert not proc.alive()
    assert not port_is_open("127.0.0.1", port)


def test_dev_sign_in_domain_follows_the_api_port() -> None:
    """``miao dev`` checks sign-ins against the origin it prints, unless one is configured."""
    from miao.commands.dev import siwe_domain_for

    assert siwe_domain_for("localhost:8000", 8010, {}) == "localhost:8010"
    explicit = {"MIAO_SIWE_DOMAIN": "miao.example"}
    assert siwe_domain_for("miao.example", 8010, explicit) == "miao.example"

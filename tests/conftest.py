"""Shared fixtures: a real pgmkts server on free ports (session-wide) and a fresh one per test."""

from __future__ import annotations

import pytest

from tests.support.server import ServerProcess, start_server


@pytest.fixture(scope="session")
def pgmkts_server(tmp_path_factory) -> ServerProcess:
    """One real server for the whole session; tests use distinct bucket names."""
    srv = start_server(tmp_path_factory.mktemp("pgmkts-data"))
    yield srv
    srv.stop()


@pytest.fixture
def fresh_server(tmp_path):
    """A server of its own, for tests that restart, kill or reconfigure it."""
    servers: list[ServerProcess] = []

    def make(config_text: str | None = None, **kw) -> ServerProcess:
        cfg = None
        if config_text is not None:
            cfg = tmp_path / "mkts.yml"
            cfg.write_text(config_text)
        srv = start_server(tmp_path / "data", config=cfg, **kw)
        servers.append(srv)
        return srv

    yield make
    for s in servers:
        s.stop()

"""RPC fixtures: the HTTP side served in-process on a real Engine (for tests that need to vary
the configuration: auth, queryable) next to the lead's whole-server `pgmkts_server`."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from types import SimpleNamespace

import pymarketstore as pymkts
import pytest

from pgmkts.metrics import Metrics
from pgmkts.plugins.stream import Hub
from pgmkts.rpc.http import start_rpc_server
from pgmkts.storage import Engine

TEST_VERSION = "pgmkts-rpc-test"


class InProcessServer:
    """A real Engine + Hub + Metrics behind `start_rpc_server`, on a loop in a thread."""

    def __init__(self, root, *, auth_method: str = "trust", users=(), queryable: bool = True,
                 timezone: str = "UTC", max_message_bytes: int | None = None,
                 cert_file: str | None = None, key_file: str | None = None,
                 max_result_rows: int = 0) -> None:
        self.root = Path(root)
        self.engine = Engine(root, timezone=timezone)
        self.hub = Hub()
        self.metrics = Metrics(self.engine)
        config = SimpleNamespace(
            timezone=timezone, queryable=queryable,
            auth=SimpleNamespace(method=auth_method,
                                 users=[SimpleNamespace(name=n, password=p, role=r) for n, p, r in users]),
            tls=SimpleNamespace(cert_file=cert_file, key_file=key_file, required=False),
            limits=SimpleNamespace(max_message_bytes=max_message_bytes, max_result_rows=max_result_rows))
        self.app = SimpleNamespace(config=config, engine=self.engine, hub=self.hub, metrics=self.metrics,
                                   version=TEST_VERSION)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.hub.attach(self.engine, self.loop)
        self.server = asyncio.run_coroutine_threadsafe(
            start_rpc_server(self.app, "127.0.0.1", 0), self.loop).result(10)
        self.port = self.server.sockets[0].getsockname()[1]

    def url(self, userinfo: str = "", scheme: str = "http") -> str:
        return f"{scheme}://{userinfo + '@' if userinfo else ''}127.0.0.1:{self.port}/rpc"

    def close(self) -> None:
        async def stop():
            self.server.close()
            # keep-alive and websocket connections outlive server.close(): end them too
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()
        self.hub.detach()
        self.engine.close()


@pytest.fixture(scope="session")
def rpc_server(tmp_path_factory):
    srv = InProcessServer(tmp_path_factory.mktemp("rpc-data"))
    yield srv
    srv.close()


@pytest.fixture
def client(rpc_server):
    return pymkts.Client(rpc_server.url())


@pytest.fixture
def make_server(tmp_path):
    made: list[InProcessServer] = []

    def make(**kw) -> InProcessServer:
        srv = InProcessServer(tmp_path / f"data{len(made)}", **kw)
        made.append(srv)
        return srv

    yield make
    for s in made:
        s.close()

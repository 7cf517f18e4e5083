"""The running server's shared state, handed to every listener (wire, rpc, plugins)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pgmkts import __version__
from pgmkts.config import Config

# MarketStore clients read this from the `Marketstore-Version` header (server_version()).
SERVER_VERSION = f"pgmkts-{__version__}"


@dataclass
class App:
    config: Config
    engine: Any                      # pgmkts.storage.Engine
    hub: Any = None                  # pgmkts.plugins.stream.Hub: committed writes → LISTEN and /ws
    metrics: Any = None              # pgmkts.metrics.Metrics
    version: str = SERVER_VERSION
    # The PostgreSQL port hands HTTP connections (sniffed by their first bytes) to the RPC layer.
    http_handler: Callable[[Any, Any, bytes], Awaitable[None]] | None = None
    extras: dict[str, Any] = field(default_factory=dict)

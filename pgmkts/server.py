"""Wiring: open the engine, start the PostgreSQL and RPC listeners and plugins, run until a signal.

Imports of the listener packages are local so `pgmkts init` and config errors stay fast.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import logging
import os
import signal
import socket
from pathlib import Path

from pgmkts.app import App
from pgmkts.config import Config
from pgmkts.errors import ConfigError

log = logging.getLogger("pgmkts.server")


def check_root(config: Config) -> Path:
    """The data directory must exist (or be creatable) and be writable."""
    root = Path(config.root_directory)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"root_directory: cannot create {root}: {e.strerror}") from None
    if not os.access(root, os.R_OK | os.W_OK | os.X_OK):
        raise ConfigError(f"root_directory: {root} is not readable and writable by this user")
    return root


def check_ports(config: Config) -> None:
    """Fail fast with a one-line error naming the key when a port is taken."""
    if config.listen_port and config.listen_port == config.rpc_listen_port:
        raise ConfigError(f"listen_port and rpc_listen_port: both are {config.listen_port}; "
                          "they need different ports")
    for key, port in (("listen_port", config.listen_port), ("rpc_listen_port", config.rpc_listen_port)):
        if port == 0:
            continue
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((config.listen_host, port))
        except OSError as e:
            reason = "is in use" if e.errno == errno.EADDRINUSE else f"cannot be bound ({e.strerror})"
            raise ConfigError(f"{key}: port {port} on {config.listen_host} {reason}") from None
        finally:
            s.close()


def open_engine(config: Config):
    from pgmkts.storage import Engine

    root = check_root(config)
    return Engine(root, wal_sync=config.wal_sync, wal_sync_interval_ms=config.wal_sync_interval_ms,
                  wal_rotate_interval=config.wal_rotate_interval, timezone=config.timezone,
                  compression=config.storage_compression)


async def serve(config: Config, *, demo: bool = False) -> None:
    """Run the server until SIGINT/SIGTERM; shut down within stop_grace_period."""
    check_ports(config)
    check_root(config)
    from pgmkts.metrics import Metrics
    from pgmkts.plugins import load_bgworkers, load_triggers
    from pgmkts.plugins.stream import Hub
    from pgmkts.rpc.http import handle_http, start_rpc_server
    from pgmkts.wire.server import start_pg_server

    loop = asyncio.get_running_loop()
    # from the start: a signal during WAL replay or catch-up ends the server once it is up,
    # through the same clean shutdown (not the default handler's abrupt exit)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    engine = await asyncio.to_thread(open_engine, config)
    try:
        if demo and not engine.buckets():
            from pgmkts.plugins.demo_feeder import seed_demo

            n = await asyncio.to_thread(seed_demo, engine)
            log.info("loaded the synthetic demo data set (%s rows, symbols DEMO-*)", n)
        hub = Hub()
        hub.attach(engine, loop)
        app = App(config=config, engine=engine, hub=hub, metrics=Metrics())

        async def http(reader, writer, first: bytes) -> None:
            await handle_http(app, reader, writer, first)

        app.http_handler = http
        # The plugin loaders take mkts.yml's mappings, as MarketStore's plugins do.
        triggers = load_triggers(engine, [dataclasses.asdict(p) for p in config.triggers], config.timezone)
        unsubscribe = [engine.subscribe(t.fire) for t in triggers if hasattr(t, "fire")]
        # Writes replayed from the WAL at open fired no triggers: bring derived buckets
        # (ondiskagg destinations) up to date from their newest window before serving.
        for t in triggers:
            if hasattr(t, "catch_up"):
                await asyncio.to_thread(t.catch_up)
        workers = load_bgworkers(engine, [dataclasses.asdict(p) for p in config.bgworkers], config.timezone)
        pg = await start_pg_server(app, config.listen_host, config.listen_port)
        rpc = await start_rpc_server(app, config.listen_host, config.rpc_listen_port)
        pg_port = pg.sockets[0].getsockname()[1]
        rpc_port = rpc.sockets[0].getsockname()[1]
        for w in workers:
            if hasattr(w, "start"):
                w.start()
        print(f"pgmkts ready: postgresql port {pg_port}, rpc port {rpc_port}, root {config.root_directory}",
              flush=True)
        print(f"  try: psql -h {config.listen_host} -p {pg_port} -c 'SELECT * FROM ohlcv_1min LIMIT 5'",
              flush=True)
        await stop.wait()
        log.info("shutting down")
        for w in workers:  # stop() joins the worker's thread: off the loop, sessions still run
            if hasattr(w, "stop"):
                await asyncio.to_thread(w.stop)
        pg.close()
        rpc.close()
        if config.stop_grace_period > 0:
            # Server.wait_closed waits for open connections only from Python 3.12 on: also watch
            # the PostgreSQL session registry
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(
                    asyncio.gather(pg.wait_closed(), rpc.wait_closed(), _sessions_gone(app)),
                    config.stop_grace_period)
        # Sessions still open end as in PostgreSQL's fast shutdown, before the engine closes under
        # them (asyncio.run would only cancel their tasks after this coroutine returned).
        _terminate_sessions(app)
        for u in unsubscribe:
            u()
        hub.detach()
        await _end_other_tasks(grace=0.5)
    finally:
        await asyncio.to_thread(engine.close)
    print("pgmkts stopped", flush=True)


async def _sessions_gone(app: App) -> None:
    registry = app.extras.get("pg")
    while registry is not None and registry.conns:
        await asyncio.sleep(0.05)


def _terminate_sessions(app: App) -> None:
    """FATAL 57P01 to every open PostgreSQL session, then close its socket: the client sees
    "terminating connection due to administrator command" and its handler ends at EOF."""
    registry = app.extras.get("pg")
    if registry is None or not registry.conns:
        return
    from pgmkts.errors import AdminShutdown
    from pgmkts.wire.messages import error_from_exception

    msg = error_from_exception(AdminShutdown("terminating connection due to administrator command"), "FATAL")
    for conn in list(registry.conns.values()):
        with contextlib.suppress(Exception):
            # whole messages only reach the socket, so the error can follow whatever was sent
            conn.writer.write(msg)
            conn.writer.close()


async def _end_other_tasks(grace: float) -> None:
    """Let connection handlers finish (closed sockets end them), then cancel what is left."""
    me = asyncio.current_task()
    rest = [t for t in asyncio.all_tasks() if t is not me and not t.done()]
    if not rest:
        return
    _done, pending = await asyncio.wait(rest, timeout=grace)
    for t in pending:
        t.cancel()
    await asyncio.gather(*pending, return_exceptions=True)

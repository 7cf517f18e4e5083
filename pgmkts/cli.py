"""The `pgmkts` command: init, start, connect, import, export (click)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import NoReturn

import click

from pgmkts.config import DEFAULT_YAML, Config, load_config
from pgmkts.errors import ConfigError, PgmktsError


def _fail(msg: str) -> NoReturn:
    click.echo(f"pgmkts: {msg}", err=True)
    sys.exit(2)


@click.group()
@click.version_option(package_name="pgmkts")
def main() -> None:
    """pgmkts: MarketStore's job, on the PostgreSQL wire protocol."""


@main.command()
@click.option("--config", "config_path", default="mkts.yml", show_default=True, type=click.Path())
@click.option("--force", is_flag=True, help="overwrite an existing file")
def init(config_path: str, force: bool) -> None:
    """Write a default, commented mkts.yml."""
    p = Path(config_path)
    if p.exists() and not force:
        _fail(f"{p} exists; use --force to overwrite")
    try:
        p.write_text(DEFAULT_YAML)
    except OSError as e:
        _fail(f"cannot write {p}: {e.strerror or e}")
    click.echo(f"wrote {p}")


def _load(config_path: str | None, **overrides) -> Config:
    try:
        cfg = load_config(config_path) if config_path else Config()
        return cfg.with_overrides(**overrides)
    except ConfigError as e:
        _fail(str(e))


@main.command()
@click.option("--config", "config_path", type=click.Path(), help="mkts.yml (default: built-in defaults)")
@click.option("--root", type=click.Path(), help="data directory (overrides root_directory)")
@click.option("--port", type=click.IntRange(0, 65535),
              help="PostgreSQL port (overrides listen_port; 0 = any free port)")
@click.option("--rpc-port", type=click.IntRange(0, 65535), help="native RPC port (overrides rpc_listen_port)")
@click.option("--host", help="listen address (overrides listen_host)")
@click.option("--demo/--no-demo", default=False, help="seed synthetic demo data into an empty data directory")
def start(config_path, root, port, rpc_port, host, demo) -> None:
    """Run the server in the foreground until SIGINT/SIGTERM."""
    import asyncio

    cfg = _load(config_path, root_directory=root, listen_port=port, rpc_listen_port=rpc_port,
                listen_host=host)
    level = {"fatal": "CRITICAL"}.get(cfg.log_level, cfg.log_level.upper())
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from pgmkts.server import serve

    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    import os
    import sys
    # A query or write hops between the event loop, a worker thread and the WAL syncer; while any
    # thread is busy, each hop can wait a whole GIL switch interval (5 ms by default). 0.5 ms
    # measured 15-20% off a durable one-row INSERT (psycopg/asyncpg, A/B alternated 3 times).
    sys.setswitchinterval(float(os.environ.get("PGMKTS_SWITCH_INTERVAL", "0.0005")))
    from pgmkts.memtune import tune_numpy_hugepages
    tune_numpy_hugepages()
    try:
        asyncio.run(serve(cfg, demo=demo))
    except ConfigError as e:
        _fail(str(e))
    except PgmktsError as e:  # the engine cannot open: the directory is in use, a damaged WAL, ...
        _fail(f"root_directory: {e}")
    except KeyboardInterrupt:
        pass


@main.command()
@click.option("--url", help="HOST:PORT of a running server")
@click.option("--dir", "directory", type=click.Path(exists=True, file_okay=False),
              help="open a data directory directly, without a server")
@click.option("-c", "command", help="run one statement and exit")
def connect(url, directory, command) -> None:
    """Interactive SQL session against a server or a data directory."""
    from pgmkts.shell import run_shell

    if bool(url) == bool(directory):
        _fail("give exactly one of --url HOST:PORT or --dir DIR")
    try:
        ok = run_shell(url=url, directory=directory, command=command)
    except PgmktsError as e:
        _fail(f"{e.sqlstate}: {e}")
    except (ValueError, OSError) as e:  # a malformed --url, an unreachable server
        _fail(str(e))
    if not ok and command:
        sys.exit(1)  # as psql -c: a failed statement fails the command


@main.command(name="import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--into", "tbk", required=True, help="bucket SYMBOL/TIMEFRAME/ATTRGROUP")
@click.option("--root", type=click.Path(), default="data", show_default=True)
@click.option("--variable-length", is_flag=True, help="create a variable-length (tick) bucket")
def import_(file, tbk, root, variable_length) -> None:
    """Bulk-load a CSV or Parquet file into a bucket (data directory, no server)."""
    from pgmkts.tools import import_file

    try:
        n = import_file(root, file, tbk, variable_length=variable_length)
    except PgmktsError as e:
        _fail(str(e))
    except OSError as e:
        _fail(f"{file}: {e.strerror or e}")
    click.echo(f"imported {n} rows into {tbk}")


@main.command()
@click.argument("tbk")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--root", type=click.Path(exists=True), default="data", show_default=True)
def export(tbk, file, root) -> None:
    """Write a bucket to a CSV or Parquet file (by extension)."""
    from pgmkts.tools import export_file

    try:
        n = export_file(root, tbk, file)
    except PgmktsError as e:
        _fail(str(e))
    except OSError as e:  # the output file cannot be created
        _fail(f"{file}: {e.strerror or e}")
    click.echo(f"exported {n} rows from {tbk} to {file}")

"""`pgmkts connect`: a small interactive SQL shell over psycopg (--url) or an embedded Session (--dir)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa


def _format(names: list[str], rows: list[tuple]) -> str:
    cells = [[("" if v is None else str(v)) for v in r] for r in rows]
    widths = [max([len(n)] + [len(r[i]) for r in cells]) for i, n in enumerate(names)]
    out = [" | ".join(n.ljust(w) for n, w in zip(names, widths, strict=True)),
           "-+-".join("-" * w for w in widths)]
    out += [" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out)


def _statements() -> Iterator[str]:
    buf: list[str] = []
    interactive = sys.stdin.isatty()
    while True:
        try:
            line = input("pgmkts=> " if interactive and not buf else "") if interactive else sys.stdin.readline()
        except EOFError:  # Ctrl-D at the prompt
            break
        if not interactive and line == "":
            break
        if line.strip() in ("\\q", "quit", "exit"):
            break
        buf.append(line)
        if line.rstrip().endswith(";"):
            yield "\n".join(buf)
            buf = []
    if "".join(buf).strip():
        yield "\n".join(buf)


def _rows(batches: Iterable[pa.RecordBatch]) -> list[tuple]:
    """Rows of a result by position (column names may repeat; a result may have no batches)."""
    rows: list[tuple] = []
    for b in batches:
        rows.extend(zip(*(c.to_pylist() for c in b.columns), strict=True))
    return rows


def _error(sqlstate: str | None, message: str) -> None:
    print(f"ERROR: {sqlstate}: {message}", file=sys.stderr, flush=True)


def _address(url: str) -> tuple[str, int]:
    host, sep, port = url.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--url must be HOST:PORT, got {url!r}")
    if host.startswith("[") and host.endswith("]"):  # [::1]:5993
        host = host[1:-1]
    return host or "127.0.0.1", int(port)


def run_shell(*, url: str | None, directory: str | None, command: str | None) -> bool:
    """Run statements from -c or stdin; False when any statement failed."""
    stmts: Iterable[str] = [command] if command else _statements()
    ok = True
    if url:
        import psycopg

        host, port = _address(url)
        try:
            # PGUSER / PGPASSWORD (libpq's variables) for servers with auth.method other than trust
            conn = psycopg.connect(host=host, port=port, user=os.environ.get("PGUSER", "pgmkts"),
                                   dbname="pgmkts", autocommit=True, connect_timeout=10)
        except psycopg.OperationalError as e:
            raise ConnectionError(f"cannot connect to {host}:{port}: {str(e).strip()}") from None
        with conn:
            for sql in stmts:
                try:
                    cur = conn.execute(sql)
                    if cur.description:
                        print(_format([d.name for d in cur.description], cur.fetchall()))
                    else:
                        print(cur.statusmessage)
                except psycopg.Error as e:
                    ok = False
                    _error(e.diag.sqlstate, e.diag.message_primary or str(e))
        return ok
    if directory is None:
        raise ValueError("give --url HOST:PORT or --dir DIR")
    from pgmkts.errors import PgmktsError
    from pgmkts.planner.session import Session
    from pgmkts.storage import Engine

    with Engine(directory) as engine:
        session = Session(engine)
        for sql in stmts:
            try:
                for res in session.execute(sql):
                    if res.fields is not None:
                        print(_format([f.name for f in res.fields], _rows(res.batches)))
                    elif not res.empty:
                        print(res.tag)
            except PgmktsError as e:
                ok = False
                _error(e.sqlstate, str(e))
    return ok

"""`pgmkts connect`: a small interactive SQL shell over psycopg (--url) or an embedded Session (--dir)."""

from __future__ import annotations

import sys
from collections.abc import Iterator


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
        except EOFError:
            line = ""
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


def run_shell(*, url: str | None, directory: str | None, command: str | None) -> None:
    stmts = [command] if command else _statements()
    if url:
        import psycopg

        host, _, port = url.rpartition(":")
        with psycopg.connect(host=host or "127.0.0.1", port=int(port), user="pgmkts",
                             dbname="pgmkts", autocommit=True) as conn:
            for sql in stmts:
                try:
                    cur = conn.execute(sql)
                    if cur.description:
                        print(_format([d.name for d in cur.description], cur.fetchall()))
                    else:
                        print(cur.statusmessage)
                except psycopg.Error as e:
                    print(f"ERROR: {e.diag.sqlstate}: {e.diag.message_primary}")
        return
    from pgmkts.errors import PgmktsError
    from pgmkts.planner.session import Session
    from pgmkts.storage import Engine

    with Engine(directory) as engine:  # type: ignore[arg-type]
        session = Session(engine)
        for sql in stmts:
            try:
                for res in session.execute(sql):
                    if res.fields is not None:
                        import pyarrow as pa

                        tbl = pa.Table.from_batches(list(res.batches)) if res.fields else None
                        rows = [tuple(r.values()) for r in tbl.to_pylist()] if tbl is not None else []
                        print(_format([f.name for f in res.fields], rows))
                    else:
                        print(res.tag)
            except PgmktsError as e:
                print(f"ERROR: {e.sqlstate}: {e}")

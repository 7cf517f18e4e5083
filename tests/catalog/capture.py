"""Turn a PostgreSQL `log_statement=all` log into catalog query fixtures (a developer tool, not a test).

    runuser -u postgres -- initdb -D /tmp/pgx
    runuser -u postgres -- pg_ctl -D /tmp/pgx -o "-p 55432 -k /tmp -c log_statement=all" -l /tmp/pgx.log start
    ... run the client against port 55432 (create "SYM/1Min/OHLCV" and ohlcv_1min there first) ...
    python tests/catalog/capture.py /tmp/pgx.log CLIENT [--dsn "host=/tmp port=55432 user=postgres"]

Every catalog statement in the log becomes tests/catalog/queries/NNN_CLIENT_<words>.sql, with the
RowDescription that PostgreSQL returns for it when re-run with the logged parameters.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import psycopg

from pgmkts.planner import compat

_LINE = re.compile(r"^\d{4}-\d\d-\d\d [\d:.]+ \w+ \[\d+\] (\w+):  (.*)$")
_PARAM = re.compile(r"\$\d+ = (?:'((?:[^']|'')*)'|(NULL))")
OUT = Path(__file__).parent / "queries"


def statements(log: str) -> list[tuple[str, list[str | None]]]:
    out: list[tuple[str, list[str | None]]] = []
    cur: list | None = None
    for line in log.splitlines():
        m = _LINE.match(line)
        if m:
            kind, rest = m.groups()
            if kind == "LOG" and (rest.startswith("statement: ") or rest.startswith("execute ")):
                cur = [rest.split(": ", 1)[1], []]
                out.append(cur)      # type: ignore[arg-type]
            elif kind == "DETAIL" and rest.startswith("parameters: ") and cur is not None:
                cur[1] = [None if null else v.replace("''", "'") for v, null in _PARAM.findall(rest)]
            elif kind != "DETAIL":
                cur = None
        elif cur is not None and line.startswith("\t"):
            cur[0] += "\n" + line[1:]
    return [(s.strip(), p) for s, p in out]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("log")
    ap.add_argument("client")
    ap.add_argument("--dsn", default="host=/tmp port=55432 user=postgres dbname=postgres")
    args = ap.parse_args()
    known = {p.read_text().split("\n", 3)[3].strip() for p in OUT.glob("*.sql")}
    n = max((int(p.name[:3]) for p in OUT.glob("*.sql")), default=0)
    with psycopg.connect(args.dsn, autocommit=True) as conn:
        for sql, params in statements(Path(args.log).read_text()):
            if not sql or sql in known:
                continue
            try:
                trees = compat.parse(sql)
            except Exception:
                continue
            if len(trees) != 1 or not compat.is_catalog_query(trees[0]):
                continue
            res = conn.pgconn.exec_params(sql.encode(), [p.encode() if p is not None else None for p in params])
            if res.status != 2:      # TUPLES_OK
                continue
            cols = [[res.fname(i).decode(), res.ftype(i)] for i in range(res.nfields)]
            n += 1
            words = re.sub(r"\W+", "_", sql[:40].lower()).strip("_")[:30]
            path = OUT / f"{n:03d}_{args.client}_{words}.sql"
            path.write_text(f"-- client: {args.client}\n-- params: {json.dumps(params)}\n"
                            f"-- columns: {json.dumps(cols)}\n{sql}\n")
            known.add(sql)
            print(path.name)


if __name__ == "__main__":
    main()

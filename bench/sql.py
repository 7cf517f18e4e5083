"""SQL text of each workload, for PostgreSQL proper, for pgmkts (time_bucket/first/last) and DuckDB."""

from __future__ import annotations

from bench.base import ts_literal

COLS = "epoch, open, high, low, close, volume"


class PgDialect:
    table = "ohlcv_1min"
    ticks = "trades"

    def range(self, sym: str, t0: int, t1: int) -> str:
        return (f"SELECT {COLS} FROM {self.table} WHERE symbol = '{sym}' AND epoch >= {ts_literal(t0)} "
                f"AND epoch < {ts_literal(t1)} ORDER BY epoch")

    def last_n(self, sym: str, n: int) -> str:
        return f"SELECT {COLS} FROM {self.table} WHERE symbol = '{sym}' ORDER BY epoch DESC LIMIT {n}"

    def latest_all(self) -> str:
        return f"SELECT DISTINCT ON (symbol) * FROM {self.table} ORDER BY symbol, epoch DESC"

    def latest_all_lateral(self) -> str:
        """The hand-written fast form: a loose index scan for the symbols, then LIMIT 1 per symbol."""
        t = self.table
        return (f"WITH RECURSIVE s AS (SELECT min(symbol) AS symbol FROM {t} UNION ALL "
                f"SELECT (SELECT min(symbol) FROM {t} WHERE symbol > s.symbol) FROM s WHERE s.symbol IS NOT NULL) "
                f"SELECT l.* FROM s CROSS JOIN LATERAL (SELECT * FROM {t} o WHERE o.symbol = s.symbol "
                f"ORDER BY o.epoch DESC LIMIT 1) l")

    def where_syms(self, syms: list[str] | None) -> str:
        if syms is None:
            return ""
        if len(syms) == 1:
            return f" WHERE symbol = '{syms[0]}'"
        return " WHERE symbol IN (" + ", ".join(f"'{s}'" for s in syms) + ")"

    def candles(self, syms: list[str] | None) -> str:
        """PostgreSQL has neither time_bucket nor first/last: date_trunc + ordered array_agg."""
        return (f"SELECT symbol, date_trunc('hour', epoch) AS t, (array_agg(open ORDER BY epoch))[1], "
                f"max(high), min(low), (array_agg(close ORDER BY epoch DESC))[1], sum(volume) "
                f"FROM {self.table}{self.where_syms(syms)} GROUP BY 1, 2")

    def insert(self, placeholder: str = "%s") -> str:
        ph = ", ".join([placeholder] * 7) if placeholder == "%s" else ", ".join(f"${i}" for i in range(1, 8))
        return f"INSERT INTO {self.table} (symbol, {COLS}) VALUES ({ph})"

    def tick_range(self, sym: str, t0: int, t1: int) -> str:
        return (f"SELECT epoch, price, size FROM {self.ticks} WHERE symbol = '{sym}' "
                f"AND epoch >= {ts_literal(t0)} AND epoch < {ts_literal(t1)} ORDER BY epoch")


class PgmktsDialect(PgDialect):
    ticks = "trade_1sec"

    def candles(self, syms: list[str] | None) -> str:
        return (f"SELECT symbol, time_bucket('1 hour', epoch) AS t, first(open, epoch), max(high), "
                f"min(low), last(close, epoch), sum(volume) FROM {self.table}{self.where_syms(syms)} "
                f"GROUP BY 1, 2")

    def tick_range(self, sym: str, t0: int, t1: int) -> str:
        return (f"SELECT epoch, price, size FROM {self.ticks} WHERE symbol = '{sym}' "
                f"AND epoch >= {ts_literal(t0)} AND epoch < {ts_literal(t1)} ORDER BY epoch")


class DuckDialect(PgDialect):
    def candles(self, syms: list[str] | None) -> str:
        return (f"SELECT symbol, time_bucket(INTERVAL '1 hour', epoch) AS t, arg_min(open, epoch), "
                f"max(high), min(low), arg_max(close, epoch), sum(volume) "
                f"FROM {self.table}{self.where_syms(syms)} GROUP BY 1, 2")

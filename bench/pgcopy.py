"""Build PostgreSQL binary COPY payloads straight from numpy bars/ticks (no per-row Python)."""

from __future__ import annotations

import numpy as np

HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
TRAILER = b"\xff\xff"
PG_EPOCH_US = 946684800 * 1_000_000          # 2000-01-01 in Unix microseconds

BAR_COLUMNS = ("symbol", "epoch", "open", "high", "low", "close", "volume")
TICK_COLUMNS = ("symbol", "epoch", "price", "size")


def _frame(symbol: bytes, values: list[tuple[str, str, np.ndarray]], n: int) -> bytes:
    """values: (name, big-endian dtype, array); a symbol text column first."""
    fields = [("nf", ">i2"), ("l_sym", ">i4"), ("sym", f"S{len(symbol)}")]
    for name, dt, _ in values:
        fields += [(f"l_{name}", ">i4"), (name, dt)]
    rec = np.empty(n, dtype=np.dtype(fields))
    rec["nf"] = 1 + len(values)
    rec["l_sym"] = len(symbol)
    rec["sym"] = symbol
    for name, dt, arr in values:
        rec[f"l_{name}"] = np.dtype(dt).itemsize
        rec[name] = arr
    return rec.tobytes()


def bars_copy_body(symbol: str, bars: np.ndarray) -> bytes:
    """Rows (symbol text, epoch timestamptz, open..close real, volume float8) without header/trailer."""
    ts = bars["Epoch"].astype(np.int64) * 1_000_000 - PG_EPOCH_US
    return _frame(symbol.encode(), [("epoch", ">i8", ts), ("open", ">f4", bars["Open"]),
                                    ("high", ">f4", bars["High"]), ("low", ">f4", bars["Low"]),
                                    ("close", ">f4", bars["Close"]), ("volume", ">f8", bars["Volume"])],
                  len(bars))


def ticks_copy_body(symbol: str, ticks: np.ndarray) -> bytes:
    """Rows (symbol text, epoch timestamptz [µs], price real, size int4)."""
    ts = ticks["Epoch"].astype(np.int64) * 1_000_000 + ticks["Nanoseconds"] // 1000 - PG_EPOCH_US
    return _frame(symbol.encode(), [("epoch", ">i8", ts), ("price", ">f4", ticks["Price"]),
                                    ("size", ">i4", ticks["Size"])], len(ticks))


def bars_csv(symbol: str, bars: np.ndarray) -> bytes:
    """Rows as CSV (no header): symbol, ISO timestamptz, open..close, volume — via Arrow's CSV writer."""
    import io

    import pyarrow as pa
    import pyarrow.csv as pacsv
    t = pa.table({"symbol": pa.array([symbol] * len(bars)),
                  "epoch": pa.array(bars["Epoch"], pa.timestamp("s", tz="UTC")),
                  "open": bars["Open"], "high": bars["High"], "low": bars["Low"], "close": bars["Close"],
                  "volume": bars["Volume"]})
    buf = io.BytesIO()
    pacsv.write_csv(t, buf, pacsv.WriteOptions(include_header=False, quoting_style="none"))
    return buf.getvalue()

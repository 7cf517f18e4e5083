"""Bulk CSV/Parquet import and export for `pgmkts import` / `pgmkts export` (no server needed).

Files are read and written per batch with pyarrow; tqdm shows progress (a well-kept library
rather than a hand-rolled progress bar).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from tqdm import tqdm

from pgmkts.errors import InvalidParameterValue

_TIME_NAMES = ("epoch", "time", "timestamp", "datetime", "date", "ts")


def _epoch_columns(col: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Seconds and nanoseconds from an integer (seconds) or timestamp column."""
    if col.null_count:
        raise InvalidParameterValue(f"time column: {col.null_count} row(s) have no time value")
    if pa.types.is_timestamp(col.type) or pa.types.is_date(col.type):
        ns = pc.cast(pc.cast(col, pa.timestamp("ns", tz="UTC") if pa.types.is_timestamp(col.type)
                             else pa.timestamp("ns")), pa.int64()).to_numpy(zero_copy_only=False)
        return ns // 1_000_000_000, (ns % 1_000_000_000).astype(np.int32)
    if pa.types.is_integer(col.type):
        s = col.to_numpy(zero_copy_only=False).astype(np.int64)
        return s, np.zeros(len(s), np.int32)
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        ts = pc.strptime(col, format="%Y-%m-%d %H:%M:%S", unit="ns", error_is_null=True)
        if ts.null_count:
            raise InvalidParameterValue("time column: cannot parse some values as 'YYYY-MM-DD HH:MM:SS'")
        return _epoch_columns(ts)
    raise InvalidParameterValue(f"time column has type {col.type}; expected integer seconds or a timestamp")


def _open(path: Path) -> tuple[list[str], Iterator[pa.RecordBatch]]:
    """(column names, record batches) of a Parquet or CSV file; the names even when it has no rows."""
    if path.suffix.lower() in (".parquet", ".pq"):
        f = pq.ParquetFile(path)
        return f.schema_arrow.names, f.iter_batches(batch_size=1 << 20)
    reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=64 << 20))
    return reader.schema.names, iter(reader)


def _time_column(path: Path, names: list[str]) -> str:
    tcol = next((n for n in names if n.lower() in _TIME_NAMES), None)
    if tcol is None:
        raise InvalidParameterValue(f"{path}: no time column (one of {', '.join(_TIME_NAMES)})")
    return tcol


def import_file(root: str | Path, file: str | Path, tbk: str, *, variable_length: bool = False) -> int:
    """Load FILE into bucket TBK; returns rows written. Unreadable files raise InvalidParameterValue."""
    try:
        return _import(root, Path(file), tbk, variable_length)
    except pa.ArrowInvalid as e:  # malformed CSV/Parquet, types that change between blocks
        raise InvalidParameterValue(f"{file}: {e}") from None


def _import(root: str | Path, path: Path, tbk: str, variable_length: bool) -> int:
    from pgmkts.storage import Engine

    names, batches = _open(path)
    _time_column(path, names)  # fail before creating anything
    total = 0
    with Engine(root) as engine, tqdm(desc=f"import {path.name}", unit=" rows", unit_scale=True) as bar:
        for batch in batches:
            names = batch.schema.names
            tcol = _time_column(path, names)
            sec, nanos = _epoch_columns(batch.column(tcol))
            data: dict[str, np.ndarray] = {"Epoch": sec}
            for n in names:
                if n == tcol:
                    continue
                if n.lower() == "nanoseconds":
                    nanos = batch.column(n).to_numpy(zero_copy_only=False).astype(np.int32)
                    continue
                data[n] = batch.column(n).to_numpy(zero_copy_only=False)
            if variable_length:
                data["Nanoseconds"] = nanos
            total += engine.write(tbk, data, variable_length=variable_length)
            bar.update(batch.num_rows)
    return total


def export_file(root: str | Path, tbk: str, file: str | Path) -> int:
    """Write bucket TBK to FILE (.parquet or .csv); returns rows written."""
    from pgmkts.storage import Engine

    path = Path(file)
    with Engine(root) as engine:
        cols = engine.read(tbk)
    table = pa.table({k: pa.array(v) for k, v in cols.items()})
    with tqdm(total=table.num_rows, desc=f"export {tbk}", unit=" rows", unit_scale=True) as bar:
        if path.suffix.lower() in (".parquet", ".pq"):
            pq.write_table(table, path)
        else:
            pacsv.write_csv(table, path)
        bar.update(table.num_rows)
    return table.num_rows

"""`pgmkts import` / `pgmkts export` through click's CliRunner, on real CSV and Parquet files."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from pgmkts.cli import main
from pgmkts.storage import Engine

T0 = 1704153600  # 2024-01-02 00:00:00 UTC


def _invoke(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def _read(root, tbk: str) -> dict[str, np.ndarray]:
    with Engine(root) as eng:
        return eng.read(tbk)


@pytest.mark.parametrize("ext", ["csv", "parquet"])
def test_round_trip_of_a_bucket(tmp_path, ext):
    src, dst = tmp_path / "src", tmp_path / "dst"
    data = {"Epoch": T0 + 60 * np.arange(5, dtype=np.int64),
            "Open": np.array([1.5, 2.5, 3.25, 4.0, 5.125]),
            "Volume": np.array([10, 20, 30, 40, 50], dtype=np.int64)}
    with Engine(src) as eng:
        eng.write("AAPL/1Min/OHLCV", data)
    out = tmp_path / f"bars.{ext}"
    r = _invoke("export", "AAPL/1Min/OHLCV", out, "--root", src)
    assert r.exit_code == 0, r.output
    assert "exported 5 rows" in r.stdout
    r = _invoke("import", out, "--into", "AAPL/1Min/OHLCV", "--root", dst)
    assert r.exit_code == 0, r.output
    assert "imported 5 rows into AAPL/1Min/OHLCV" in r.stdout
    got = _read(dst, "AAPL/1Min/OHLCV")
    for k, v in data.items():
        np.testing.assert_array_equal(got[k], v)


@pytest.mark.parametrize("name", ["time", "epoch"])
@pytest.mark.parametrize("as_text", [False, True])
def test_csv_time_column_as_seconds_or_text(tmp_path, name, as_text):
    lines = [f"{name},Close"]
    for i in range(3):
        t = T0 + 3600 * i
        stamp = np.datetime64(t, "s").astype(str).replace("T", " ") if as_text else str(t)
        lines.append(f"{stamp},{100 + i}.5")
    f = tmp_path / "in.csv"
    f.write_text("\n".join(lines) + "\n")
    r = _invoke("import", f, "--into", "SPY/1H/OHLCV", "--root", tmp_path / "data")
    assert r.exit_code == 0, r.output
    got = _read(tmp_path / "data", "SPY/1H/OHLCV")
    assert got["Epoch"].tolist() == [T0, T0 + 3600, T0 + 7200]
    assert got["Close"].tolist() == [100.5, 101.5, 102.5]


def test_variable_length_import_keeps_nanoseconds(tmp_path):
    f = tmp_path / "ticks.csv"
    f.write_text("epoch,Nanoseconds,Price,Size\n"
                 f"{T0},5,1.5,10\n{T0},700,1.25,20\n{T0 + 1},0,1.75,5\n")
    root = tmp_path / "data"
    r = _invoke("import", f, "--into", "BTC/1Sec/TRADE", "--root", root, "--variable-length")
    assert r.exit_code == 0, r.output
    got = _read(root, "BTC/1Sec/TRADE")
    assert got["Epoch"].tolist() == [T0, T0, T0 + 1]
    assert got["Nanoseconds"].tolist() == [5, 700, 0]
    assert got["Price"].tolist() == [1.5, 1.25, 1.75]
    # ... and back out through Parquet, Nanoseconds included
    out = tmp_path / "ticks.parquet"
    r = _invoke("export", "BTC/1Sec/TRADE", out, "--root", root)
    assert r.exit_code == 0, r.output
    assert pq.read_table(out).column("Nanoseconds").to_pylist() == [5, 700, 0]


@pytest.mark.parametrize("ext", ["csv", "parquet"])
@pytest.mark.parametrize("rows", [2, 0])
def test_file_without_time_column_is_a_clear_error(tmp_path, ext, rows):
    table = pa.table({"Open": pa.array([1.0, 2.0][:rows], pa.float64()),
                      "Close": pa.array([1.5, 2.5][:rows], pa.float64())})
    f = tmp_path / f"notime.{ext}"
    if ext == "csv":
        pacsv.write_csv(table, f)
    else:
        pq.write_table(table, f)
    r = CliRunner().invoke(main, ["import", str(f), "--into", "X/1Min/OHLC", "--root", str(tmp_path / "d")])
    assert r.exit_code == 2
    assert "no time column" in r.stderr
    assert isinstance(r.exception, SystemExit) and "Traceback" not in r.output


def test_malformed_csv_and_unwritable_export_are_clear_errors(tmp_path):
    f = tmp_path / "bad.csv"
    f.write_text(f"time,Open\n{T0},1.5\n{T0 + 60},2.5,9\n")
    r = CliRunner().invoke(main, ["import", str(f), "--into", "X/1Min/OHLC", "--root", str(tmp_path / "d")])
    assert r.exit_code == 2 and isinstance(r.exception, SystemExit), r.output
    assert "bad.csv" in r.stderr and "Traceback" not in r.output

    good = tmp_path / "good.csv"
    good.write_text(f"time,Open\n{T0},1.5\n")
    assert _invoke("import", good, "--into", "X/1Min/OHLC", "--root", tmp_path / "d").exit_code == 0
    out = tmp_path / "no-such-dir" / "x.csv"
    r = CliRunner().invoke(main, ["export", "X/1Min/OHLC", str(out), "--root", str(tmp_path / "d")])
    assert r.exit_code == 2 and isinstance(r.exception, SystemExit), r.output
    assert "x.csv" in r.stderr


def test_empty_time_values_are_a_clear_error(tmp_path):
    f = tmp_path / "holes.csv"
    f.write_text(f"time,Open\n{T0},1.5\n,2.5\n")
    r = CliRunner().invoke(main, ["import", str(f), "--into", "X/1Min/OHLC", "--root", str(tmp_path / "d")])
    assert r.exit_code == 2 and isinstance(r.exception, SystemExit), r.output
    assert "1 row(s) have no time value" in r.stderr


def test_parquet_time_column_as_text(tmp_path):
    # Parquet keeps strings as strings (the CSV reader would infer timestamps): the text path
    f = tmp_path / "text_time.parquet"
    pq.write_table(pa.table({"datetime": ["2024-01-02 00:00:00", "2024-01-02 00:05:00"],
                             "Close": [1.5, 2.5]}), f)
    r = _invoke("import", f, "--into", "QQQ/5Min/OHLCV", "--root", tmp_path / "data")
    assert r.exit_code == 0, r.output
    assert _read(tmp_path / "data", "QQQ/5Min/OHLCV")["Epoch"].tolist() == [T0, T0 + 300]

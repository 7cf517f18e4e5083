"""DDL/DML through SQL: CREATE/DROP TABLE, INSERT VALUES/SELECT, DELETE, COPY FROM/TO specs."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest

from pgmkts import errors
from pgmkts.planner.session import Session
from pgmkts.storage import Engine
from tests.planner.conftest import run

UTC = dt.UTC


@pytest.fixture
def fresh(tmp_path):
    eng = Engine(tmp_path / "data")
    yield Session(eng), eng
    eng.close()


def test_bucket_table_roundtrip(fresh):
    s, eng = fresh
    list(s.execute('CREATE TABLE "AAPL/1Min/OHLCV" (Epoch timestamptz, Open real, High real, Low real, '
                   'Close real, Volume bigint)'))
    info = eng.info("AAPL/1Min/OHLCV")
    assert [c for c, _ in info.columns] == ["Epoch", "Open", "High", "Low", "Close", "Volume"]
    (r,) = list(s.execute('INSERT INTO "AAPL/1Min/OHLCV" VALUES '
                          "('2024-01-02 09:30:45', 1, 2, 0.5, 1.5, 10), (to_timestamp(1704188000), 2, 3, 1, 2, 20)"))
    assert r.tag == "INSERT 0 2"
    # fixed buckets floor to the timeframe (MarketStore semantics)
    _f, rows = run(s, 'SELECT epoch, open, volume FROM "AAPL/1Min/OHLCV" ORDER BY epoch')
    assert rows == [(dt.datetime(2024, 1, 2, 9, 30, tzinfo=UTC), 1.0, 10),
                    (dt.datetime(2024, 1, 2, 9, 33, tzinfo=UTC), 2.0, 20)]
    # pymarketstore-style capitalised names are matched case-insensitively
    list(s.execute('INSERT INTO "AAPL/1Min/OHLCV" (epoch, close) VALUES (\'2024-01-02 09:30\', 9)'))
    _f, rows = run(s, "SELECT close, open FROM \"AAPL/1Min/OHLCV\" WHERE epoch = '2024-01-02 09:30'")
    assert rows == [(9.0, 0.0)]  # last write wins per slot; omitted columns are zero
    (r,) = list(s.execute("DELETE FROM \"AAPL/1Min/OHLCV\" WHERE epoch >= '2024-01-02 09:31'"))
    assert r.tag == "DELETE 1"
    with pytest.raises(errors.FeatureNotSupported):
        list(s.execute('DELETE FROM "AAPL/1Min/OHLCV" WHERE close > 1'))
    with pytest.raises(errors.DuplicateTable):
        list(s.execute('CREATE TABLE "AAPL/1Min/OHLCV" (epoch timestamptz, x real)'))
    list(s.execute('CREATE TABLE IF NOT EXISTS "AAPL/1Min/OHLCV" (epoch timestamptz, x real)'))
    list(s.execute('DROP TABLE "AAPL/1Min/OHLCV"'))
    assert eng.info("AAPL/1Min/OHLCV") is None
    list(s.execute('DROP TABLE IF EXISTS "AAPL/1Min/OHLCV"'))
    with pytest.raises(errors.UndefinedTable):
        list(s.execute('DROP TABLE "AAPL/1Min/OHLCV"'))


def test_group_table_insert_creates_buckets(fresh):
    s, eng = fresh
    list(s.execute("CREATE TABLE ohlcv_5min (symbol text, epoch timestamptz, close double precision, "
                   "volume integer)"))
    assert run(s, "SELECT count(*) FROM ohlcv_5min")[1] == [(0,)]
    list(s.execute("INSERT INTO ohlcv_5min VALUES ('A', '2024-01-01 00:00', 1, 1), ('B', '2024-01-01 00:00', 2, 2), "
                   "('A', '2024-01-01 00:07', 3, 3)"))
    assert sorted(b.tbk for b in eng.buckets()) == ["A/5Min/OHLCV", "B/5Min/OHLCV"]
    _f, rows = run(s, "SELECT symbol, epoch, close FROM ohlcv_5min ORDER BY symbol, epoch")
    assert rows == [("A", dt.datetime(2024, 1, 1, tzinfo=UTC), 1.0),
                    ("A", dt.datetime(2024, 1, 1, 0, 5, tzinfo=UTC), 3.0),
                    ("B", dt.datetime(2024, 1, 1, tzinfo=UTC), 2.0)]
    list(s.execute("INSERT INTO ohlcv_5min SELECT 'C', epoch, close * 10, volume FROM ohlcv_5min WHERE symbol = 'A'"))
    assert run(s, "SELECT sum(close) FROM ohlcv_5min WHERE symbol = 'C'")[1] == [(40.0,)]
    (r,) = list(s.execute("DELETE FROM ohlcv_5min WHERE symbol = 'C' AND epoch < '2024-01-01 00:01'"))
    assert r.tag == "DELETE 1"
    with pytest.raises(errors.NotNullViolation):
        list(s.execute("INSERT INTO ohlcv_5min (epoch, close) VALUES ('2024-01-01', 1)"))
    list(s.execute("DROP TABLE ohlcv_5min"))
    assert eng.buckets() == []
    with pytest.raises(errors.UndefinedTable):
        list(s.execute("SELECT * FROM ohlcv_5min"))


def test_variable_length_keeps_subsecond(fresh):
    s, eng = fresh
    list(s.execute('CREATE TABLE "BTC/1Sec/TICK" (epoch timestamptz, price double precision, size real) '
                   "WITH (variable_length = true)"))
    assert eng.info("BTC/1Sec/TICK").variable_length
    list(s.execute("INSERT INTO \"BTC/1Sec/TICK\" VALUES ('2024-01-01 00:00:00.250001', 1, 1), "
                   "('2024-01-01 00:00:00.250001', 2, 1), ('2024-01-01 00:00:00.1', 3, 1)"))
    fields, rows = run(s, 'SELECT epoch, price, nanoseconds FROM "BTC/1Sec/TICK"')
    assert [f.name for f in fields] == ["epoch", "price", "nanoseconds"]
    assert rows == [(dt.datetime(2024, 1, 1, 0, 0, 0, 100000, tzinfo=UTC), 3.0, 100000000),
                    (dt.datetime(2024, 1, 1, 0, 0, 0, 250001, tzinfo=UTC), 1.0, 250001000),
                    (dt.datetime(2024, 1, 1, 0, 0, 0, 250001, tzinfo=UTC), 2.0, 250001000)]
    _f, rows = run(s, "SELECT count(*) FROM \"BTC/1Sec/TICK\" WHERE epoch > '2024-01-01 00:00:00.1'")
    assert rows == [(2,)]
    _f, rows = run(s, "SELECT count(*) FROM \"BTC/1Sec/TICK\" WHERE epoch <= '2024-01-01 00:00:00.250001'")
    assert rows == [(3,)]


def test_copy_in_and_out(fresh):
    s, eng = fresh
    list(s.execute('CREATE TABLE "X/1Min/OHLCV" (epoch timestamptz, close real, volume bigint)'))
    (r,) = list(s.execute('COPY "X/1Min/OHLCV" (epoch, close, volume) FROM STDIN WITH (FORMAT csv, HEADER)'))
    cs = r.copy
    assert cs.direction == "in" and cs.format == "csv" and cs.options["header"] is True
    assert [(f.name, f.type_oid) for f in cs.fields] == [("epoch", 1184), ("close", 700), ("volume", 20)]
    ts = pa.array(np.array([1704153600, 1704153660], "i8") * 1_000_000, pa.int64()).cast(
        pa.timestamp("us", tz="UTC"))
    n = cs.consume(pa.table({"epoch": ts, "close": pa.array([1.5, 2.5], pa.float32()),
                             "volume": pa.array([1, 2], pa.int64())}))
    assert n == 2
    assert run(s, 'SELECT sum(volume) FROM "X/1Min/OHLCV"')[1][0][0] == 3
    (r,) = list(s.execute('COPY (SELECT epoch, close FROM "X/1Min/OHLCV" ORDER BY epoch) TO STDOUT (FORMAT binary)'))
    assert r.copy.direction == "out" and r.copy.format == "binary" and r.tag == "COPY 2"
    batches = list(r.copy.batches)
    assert sum(b.num_rows for b in batches) == 2 and [f.name for f in r.copy.fields] == ["epoch", "close"]
    (r,) = list(s.execute('COPY "X/1Min/OHLCV" TO STDOUT'))
    assert r.copy.options["delimiter"] == "\t" and r.copy.options["null"] == "\\N"
    (r,) = list(s.execute("COPY \"X/1Min/OHLCV\" FROM STDIN CSV HEADER DELIMITER ';'"))
    assert r.copy.format == "csv" and r.copy.options["delimiter"] == ";"
    # text input (strings) is parsed per column type
    n = r.copy.consume(pa.table({"epoch": pa.array(["2024-01-02 00:02:00+00"]), "close": pa.array(["4"]),
                                 "volume": pa.array(["7"])}))
    assert n == 1 and run(s, 'SELECT count(*) FROM "X/1Min/OHLCV"')[1] == [(3,)]


def test_copy_in_transaction_commits_atomically(fresh):
    s, eng = fresh
    list(s.execute('CREATE TABLE "Y/1Min/OHLCV" (epoch timestamptz, close real)'))
    list(s.execute("BEGIN"))
    (r,) = list(s.execute('COPY "Y/1Min/OHLCV" FROM STDIN'))
    r.copy.consume(pa.table({"epoch": pa.array(["2024-01-01 00:00"]), "close": pa.array([1.0])}))
    other = Session(eng)
    assert run(other, 'SELECT count(*) FROM "Y/1Min/OHLCV"')[1] == [(0,)]
    list(s.execute("COMMIT"))
    assert run(other, 'SELECT count(*) FROM "Y/1Min/OHLCV"')[1] == [(1,)]


def test_multi_row_insert_is_vectorised(fresh):
    s, eng = fresh
    list(s.execute('CREATE TABLE "Z/1Sec/OHLCV" (epoch timestamptz, v bigint)'))
    values = ",".join(f"(to_timestamp({1704153600 + i}), {i})" for i in range(2000))
    (r,) = list(s.execute(f'INSERT INTO "Z/1Sec/OHLCV" VALUES {values}'))
    assert r.tag == "INSERT 0 2000"
    assert run(s, 'SELECT count(*), sum(v) FROM "Z/1Sec/OHLCV"')[1] == [(2000, sum(range(2000)))]


def test_transaction_reads_its_own_writes(fresh):
    s, eng = fresh
    list(s.execute('CREATE TABLE "T/1Min/OHLCV" (epoch timestamptz, close real)'))
    list(s.execute("INSERT INTO \"T/1Min/OHLCV\" VALUES ('2024-01-01 00:00', 1), ('2024-01-01 00:01', 2)"))
    list(s.execute("CREATE TABLE ohlcv_5min (symbol text, epoch timestamptz, close real)"))
    list(s.execute("BEGIN"))
    list(s.execute("INSERT INTO \"T/1Min/OHLCV\" VALUES ('2024-01-01 00:01:30', 20), ('2024-01-01 00:05', 5)"))
    list(s.execute("DELETE FROM \"T/1Min/OHLCV\" WHERE epoch < '2024-01-01 00:01'"))
    list(s.execute("INSERT INTO ohlcv_5min VALUES ('NEW', '2024-01-01 00:00', 7)"))
    _f, rows = run(s, 'SELECT epoch, close FROM "T/1Min/OHLCV" ORDER BY epoch')
    assert rows == [(dt.datetime(2024, 1, 1, 0, 1, tzinfo=UTC), 20.0), (dt.datetime(2024, 1, 1, 0, 5, tzinfo=UTC), 5.0)]
    assert run(s, 'SELECT close FROM "T/1Min/OHLCV" ORDER BY epoch DESC LIMIT 1')[1] == [(5.0,)]
    assert run(s, "SELECT symbol, close FROM ohlcv_5min")[1] == [("NEW", 7.0)]
    other = Session(eng)
    assert run(other, 'SELECT count(*) FROM "T/1Min/OHLCV"')[1] == [(2,)]
    assert run(other, "SELECT count(*) FROM ohlcv_5min")[1] == [(0,)]
    list(s.execute("ROLLBACK"))
    assert run(s, 'SELECT count(*) FROM "T/1Min/OHLCV"')[1] == [(2,)]
    assert run(s, "SELECT count(*) FROM ohlcv_5min")[1] == [(0,)]

"""Property tests: a pushed-down query returns exactly what the same query over an un-pushed
sub-query (full scan + filter) returns, for random time ranges, symbols and limits."""

from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.planner.conftest import START, SYMBOLS, run

UTC = dt.UTC
_SPAN = 3 * 86400

offsets = st.integers(min_value=-3600, max_value=_SPAN + 3600)
micros = st.sampled_from([0, 0, 0, 1, 999_999, 500_000])
ops = st.sampled_from([">", ">=", "<", "<=", "="])


def _lit(off: int, us: int) -> str:
    t = dt.datetime.fromtimestamp(START + off, UTC) + dt.timedelta(microseconds=us)
    return f"'{t.isoformat(sep=' ')}'"


def _both(session, select: str, table: str, where: str, tail: str = ""):
    pushed = run(session, f"SELECT {select} FROM {table} WHERE {where} {tail}")[1]
    plain = run(session, f"SELECT {select} FROM (SELECT * FROM {table}) t WHERE {where} {tail}")[1]
    return pushed, plain


SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(a=offsets, ua=micros, opa=ops, b=offsets, ub=micros, opb=ops)
def test_time_range_push_down(session, a, ua, opa, b, ub, opb):
    where = f"epoch {opa} {_lit(a, ua)} AND epoch {opb} {_lit(b, ub)}"
    pushed, plain = _both(session, "epoch, close", '"AAPL/1Min/OHLCV"', where, "ORDER BY epoch")
    assert pushed == plain


@SETTINGS
@given(a=offsets, b=offsets, syms=st.lists(st.sampled_from(SYMBOLS + ["NOPE"]), min_size=1, max_size=3))
def test_symbol_and_between_push_down(session, a, b, syms):
    lst = ", ".join(f"'{s}'" for s in syms)
    where = f"symbol IN ({lst}) AND epoch BETWEEN {_lit(a, 0)} AND {_lit(b, 0)}"
    pushed, plain = _both(session, "symbol, epoch, volume", "ohlcv_1min", where, "ORDER BY symbol, epoch")
    assert pushed == plain


@SETTINGS
@given(n=st.integers(min_value=0, max_value=50), off=st.integers(min_value=0, max_value=5),
       desc=st.booleans(), a=offsets)
def test_last_n_push_down(session, n, off, desc, a):
    order = "DESC" if desc else ""
    tail = f"ORDER BY epoch {order} LIMIT {n} OFFSET {off}"
    pushed, plain = _both(session, "epoch, close", '"MSFT/1Min/OHLCV"', f"epoch < {_lit(a, 0)}", tail)
    assert pushed == plain


@SETTINGS
@given(a=offsets, width=st.sampled_from(["1 minute", "5 minutes", "7 minutes", "1 hour", "1 day"]))
def test_downsample_fast_path(session, a, width):
    q = (f"SELECT symbol, time_bucket('{width}', epoch) AS b, first(open, epoch), max(high), min(low), "
         f"last(close, epoch), sum(volume), count(*), avg(close) FROM {{t}} WHERE epoch >= {_lit(a, 0)} "
         "GROUP BY symbol, b ORDER BY symbol, b")
    fast = run(session, q.format(t="ohlcv_1min"))[1]
    slow = run(session, q.format(t="(SELECT * FROM ohlcv_1min) s"))[1]
    assert fast == slow


def test_latest_per_symbol_push_down(session):
    q = "SELECT DISTINCT ON (symbol) symbol, epoch, close FROM {t} ORDER BY symbol, epoch DESC"
    assert run(session, q.format(t="ohlcv_1min"))[1] == run(session, q.format(t="(SELECT * FROM ohlcv_1min) s"))[1]


_txn_counter = [0]


@SETTINGS
@given(first=st.lists(st.tuples(st.integers(0, 30), st.integers(0, 59)), max_size=8),
       second=st.lists(st.tuples(st.integers(0, 30), st.integers(0, 59)), min_size=1, max_size=8),
       cut=st.integers(0, 30), n=st.integers(1, 5))
def test_transaction_view_equals_committed_view(engine, first, second, cut, n):
    """What a transaction reads of its own buffered writes is what everyone reads after COMMIT."""
    from pgmkts.planner.session import Session
    _txn_counter[0] += 1
    tbk = f'"TX{_txn_counter[0]}/1Min/OHLCV"'
    s = Session(engine)
    list(s.execute(f"CREATE TABLE {tbk} (epoch timestamptz, close double precision)"))

    def values(rows, k):
        return ", ".join(f"(to_timestamp({START + m * 60 + sec}), {k * 100 + i})" for i, (m, sec) in enumerate(rows))
    if first:
        list(s.execute(f"INSERT INTO {tbk} VALUES {values(first, 1)}"))
    list(s.execute("BEGIN"))
    list(s.execute(f"INSERT INTO {tbk} VALUES {values(second, 2)}"))
    list(s.execute(f"DELETE FROM {tbk} WHERE epoch < {_lit(cut * 60, 0)}"))
    queries = [f"SELECT epoch, close FROM {tbk} ORDER BY epoch",
               f"SELECT epoch, close FROM {tbk} ORDER BY epoch DESC LIMIT {n}",
               f"SELECT count(*) FROM {tbk} WHERE epoch >= {_lit(cut * 60 + 300, 0)}"]
    inside = [run(s, q)[1] for q in queries]
    list(s.execute("COMMIT"))
    after = [run(Session(engine), q)[1] for q in queries]
    list(s.execute(f"DROP TABLE {tbk}"))
    assert inside == after

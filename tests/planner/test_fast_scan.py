"""FastScan (planner/exec/select.py): which plans take the small-query path, that it returns
what the general executor returns, and which of its results may be cached by text."""

from __future__ import annotations

import pytest

from pgmkts.planner.output import frame_result
from pgmkts.planner.parse import parse
from pgmkts.planner.session import FastResult, Session
from tests.planner.conftest import SYMBOLS, run

TBK = f'"{SYMBOLS[0]}/1Min/OHLCV"'


def _last(session: Session, sql: str, params=None):
    """The result of the third execution (the first validates, later ones take the fast path)."""
    for _ in range(3):
        fields, rows = run(session, sql, params)
    return fields, rows


@pytest.mark.parametrize("sql", [
    f"SELECT * FROM {TBK} ORDER BY epoch DESC LIMIT 5",
    f"SELECT close, epoch FROM {TBK} ORDER BY epoch LIMIT 4",
    f"SELECT t.close FROM {TBK} t ORDER BY t.epoch DESC LIMIT 3",
    f"SELECT * FROM {TBK} WHERE epoch >= '2024-01-02' ORDER BY epoch LIMIT 3",
    f"SELECT * FROM {TBK} WHERE epoch < '2024-01-02' ORDER BY epoch DESC LIMIT 0",
    # a group table narrowed to one symbol by a literal: the same one-bucket read
    f"SELECT * FROM ohlcv_1min WHERE symbol = '{SYMBOLS[0]}' ORDER BY epoch DESC LIMIT 5",
    f"SELECT epoch, symbol, close FROM ohlcv_1min WHERE symbol = '{SYMBOLS[1]}' ORDER BY epoch LIMIT 4",
])
def test_fast_path_matches_general(engine, sql):
    fast = Session(engine)
    fields, rows = _last(fast, sql)
    assert isinstance(list(fast.execute(sql))[0], FastResult)
    general = Session(engine)   # the general executor, bypassing the fast path
    res = frame_result(general._run_plan(general._plan(sql, parse(sql)), []), "")
    assert [(f.name, f.type_oid) for f in fields] == [(f.name, f.type_oid) for f in res.fields]
    want = [r for b in res.batches for r in zip(*[c.to_pylist() for c in b.columns], strict=True)]
    assert rows == want


def test_param_limit(session):
    sql = f"SELECT volume FROM {TBK} ORDER BY epoch DESC LIMIT $1"
    _f, rows = _last(session, sql, [2])
    _f, more = run(session, sql, [4])
    assert more[:2] == rows and len(more) == 4


def test_only_deterministic_results_carry_a_cache_key(session):
    lit = f"SELECT * FROM {TBK} ORDER BY epoch DESC LIMIT 5"
    now = f"SELECT * FROM {TBK} WHERE epoch < now() - interval '1 day' ORDER BY epoch DESC LIMIT 5"
    for _ in range(3):
        a = list(session.execute(lit))[0]
        b = list(session.execute(now))[0]
    assert isinstance(a, FastResult) and a.cache_key is not None
    assert not isinstance(b, FastResult)   # rows depend on now(): never served from a cache


def test_group_fast_path_for_an_absent_symbol_takes_the_general_path(engine):
    sql = "SELECT * FROM ohlcv_1min WHERE symbol = 'NOSUCH' ORDER BY epoch DESC LIMIT 5"
    s = Session(engine)
    for _ in range(3):
        fields, rows = run(s, sql)
    assert rows == [] and fields[0].name == "symbol"
    assert not isinstance(list(s.execute(sql))[0], FastResult)

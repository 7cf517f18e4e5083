"""Session.prepare's cache (drivers that Parse per query): the same parameter types and fields
as a fresh prepare, retired by DDL, and errors are never cached."""

from __future__ import annotations

import pytest

from pgmkts import errors
from pgmkts.planner import session as sessmod
from pgmkts.planner.session import Session
from pgmkts.storage import Engine


def described(p) -> tuple:
    return (p.param_oids, [(f.name, f.type_oid) for f in p.fields or []], p.stmt)


@pytest.fixture
def s(tmp_path):
    e = Engine(tmp_path / "data")
    sess = Session(e)
    list(sess.execute("CREATE TABLE px_1min (symbol text, epoch timestamptz, close real)"))
    yield sess
    e.close()


QUERIES = ["SELECT epoch, close FROM px_1min WHERE symbol = 'A' ORDER BY epoch DESC LIMIT 100",
           "SELECT * FROM px_1min WHERE symbol = $1 AND close > $2",
           "SELECT $1::int + 1 AS x", "SELECT 1"]


@pytest.mark.parametrize("sql", QUERIES)
@pytest.mark.parametrize("oids", [[], [25], [25, 700]])
def test_cached_prepare_equals_fresh(s, sql, oids):
    first = s.prepare(sql, oids)
    again = s.prepare(sql, oids)
    sessmod._PREPARED.clear()
    fresh = s.prepare(sql, oids)
    assert described(first) == described(again) == described(fresh)
    assert again.fields is not first.fields   # callers may not share (and mutate) one list


def test_ddl_retires_cached_prepare(s):
    sql = "SELECT close FROM px_1min"
    assert [f.type_oid for f in s.prepare(sql, []).fields] == [700]
    list(s.execute("DROP TABLE px_1min"))
    with pytest.raises(errors.PgmktsError) as e1:
        s.prepare(sql, [])
    list(s.execute("CREATE TABLE px_1min (symbol text, epoch timestamptz, close double precision)"))
    assert [f.type_oid for f in s.prepare(sql, []).fields] == [701]
    assert e1.value.sqlstate == "42P01"


def test_errors_are_not_cached(s):
    for _ in range(2):
        with pytest.raises(errors.PgmktsError) as e:
            s.prepare("SELECT nope FROM px_1min", [])
        assert e.value.sqlstate == "42703"

"""Fixtures for storage tests: an Engine on a temporary directory, closed afterwards."""

from __future__ import annotations

import pytest

from pgmkts.storage import Engine


@pytest.fixture
def engine_factory(tmp_path):
    engines: list[Engine] = []

    def make(**kw) -> Engine:
        kw.setdefault("wal_rotate_interval", 0)
        e = Engine(tmp_path / "data", **kw)
        engines.append(e)
        return e

    yield make
    for e in engines:
        e.close()


@pytest.fixture
def engine(engine_factory) -> Engine:
    return engine_factory()

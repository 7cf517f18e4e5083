"""Catalog fixtures: a real storage Engine with one fixed and one variable-length bucket."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from pgmkts.storage import Engine


@dataclass
class Ctx:
    """Stands in for the planner Session: exactly the attributes the catalog reads."""

    engine: Engine
    user: str = "pgmkts"
    database: str = "pgmkts"
    settings: dict[str, str] = field(default_factory=dict)


@pytest.fixture
def engine(tmp_path):
    eng = Engine(tmp_path / "data", wal_sync="interval")
    eng.create("SYM/1Min/OHLCV", [("Open", "f4"), ("High", "f4"), ("Low", "f4"), ("Close", "f4"),
                                  ("Volume", "i8")])
    eng.create("SYM/1Sec/TICK", [("Bid", "f8"), ("Ask", "f8"), ("Cond", "U16")], variable_length=True)
    yield eng
    eng.close()


@pytest.fixture
def ctx(engine):
    return Ctx(engine)
